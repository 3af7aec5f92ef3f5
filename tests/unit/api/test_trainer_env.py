"""The trainer's environment: one list, rendered by both shells, documented once."""

from __future__ import annotations

from pathlib import Path

from kubetune.api.sources import MetricsSource
from kubetune.api.trainer_env import (
    TRAINER_VARIABLES,
    Places,
    cluster_places,
    place_placeholder_problem,
    place_values,
    render_trainer_env,
)


def test_a_study_reading_its_output_tells_only_who_the_trial_is() -> None:
    env = render_trainer_env(MetricsSource(), "s", "s-1", Places("/a", "/b"))
    assert env == {"KUBETUNE_STUDY": "s", "KUBETUNE_TRIAL": "s-1"}
    assert place_values(MetricsSource(), Places("/a", "/b")) == {}


def test_each_source_adds_its_place_on_both_shells() -> None:
    tensorboard = MetricsSource.model_validate({"tensorboard": {"dir": "/logs/tb"}})
    assert cluster_places(tensorboard).tensorboard_dir == "/logs/tb"
    local = Places("/runs/s/trials/s-1/tensorboard", "")
    assert render_trainer_env(tensorboard, "s", "s-1", local)["KUBETUNE_TENSORBOARD_DIR"] == (
        "/runs/s/trials/s-1/tensorboard"
    )
    assert place_values(tensorboard, local) == {"trial.tensorboardDir": local.tensorboard_dir}
    file = MetricsSource.model_validate({"file": {"path": "/m/x.jsonl", "format": "json"}})
    assert cluster_places(file).metrics_file == "/m/x.jsonl"
    assert "set spec.metrics.tensorboard" in (
        place_placeholder_problem(file, "trial.tensorboardDir") or ""
    )
    assert place_placeholder_problem(file, "trial.metricsFile") is None


def test_the_docs_list_exactly_the_variables_a_trainer_can_rely_on() -> None:
    """One list, documented once: the docs' table is TRAINER_VARIABLES."""
    readme = (Path(__file__).resolve().parents[3] / "docs" / "study.md").read_text()
    table = readme.split("**What a trainer can rely on**", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1].strip(" `") for line in table.splitlines()[2:]]
    assert rows == list(TRAINER_VARIABLES)

"""The shipped examples really train, as a newcomer would run them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import Kubetune, events

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example_with_budget(name: str, max_trials: int) -> dict[str, Any]:
    """An example as shipped but for its maxTrials, run from examples/ as its trainers expect
    (the copy is written elsewhere): to keep make test short."""
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    document["spec"]["budget"]["maxTrials"] = max_trials
    container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["workingDir"] = str(EXAMPLES)
    return document


@pytest.mark.slow
def test_the_quickstart_tunes_an_svc_on_digits(kubetune: Kubetune, tmp_path: Path) -> None:
    """The example as shipped but for its budget (15 trials of its 30; `make demo` runs all
    30, and the real-node test trains it on the cluster): make test is held near 20 minutes."""
    document = example_with_budget("quickstart.yaml", 15)
    code, summary, stderr = kubetune.run_json("run", str(kubetune.write(document)), "--out", "qs")
    assert code == 0, stderr
    assert summary["trials"] == 15 and summary["counts"]["Succeeded"] == 15
    # an untuned SVC(C=1, gamma=1) scores about 0.1 here; tuning must find a good region
    assert summary["best"]["objective"] > 0.96
    assert summary["best"]["params"]["kernel"] in ("rbf", "sigmoid")


@pytest.mark.slow
def test_the_early_stopping_example_stops_trials_at_rungs(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    """The example as shipped but for its budget (12 trials of its 30: about half the time;
    make test is held under 20 minutes), still enough to stop trials at each rung."""
    document = example_with_budget("early-stopping.yaml", 12)
    code, summary, stderr = kubetune.run_json("run", str(kubetune.write(document)), "--out", "es")
    assert code == 0, stderr
    assert summary["counts"]["EarlyStopped"] > 0 and summary["counts"]["Succeeded"] > 0
    assert summary["best"]["objective"] > 0.95
    stops = [e["stop"] for e in events(tmp_path / "es") if e["event"] == "finished" and e["stop"]]
    assert {s["step"] for s in stops} <= {1, 3, 9}


def test_validate_accepts_every_example(kubetune: Kubetune) -> None:
    for example in sorted(EXAMPLES.glob("*.yaml")):
        done = kubetune.run("validate", str(example))
        assert done.returncode == 0, done.stderr
        assert "is valid" in done.stdout


@pytest.mark.slow
def test_the_conditional_example_passes_each_trial_only_its_models_flags(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    """examples/conditional.yaml as shipped but for its budget (8 trials, not 20: ~15 s)."""
    document = example_with_budget("conditional.yaml", 8)
    code, summary, stderr = kubetune.run_json("run", str(kubetune.write(document)), "--out", "c")
    assert code == 0, stderr
    assert summary["counts"]["Succeeded"] == 8 and summary["best"]["objective"] > 0.85
    flags = {"svc": {"svc_C", "svc_gamma"}, "forest": {"trees", "depth"}, "logreg": {"logreg_C"}}
    created = [e for e in events(tmp_path / "c") if e["event"] == "created"]
    assert len({e["params"]["model"] for e in created}) >= 2
    for event in created:
        params = event["params"]
        assert set(params) == {"model"} | flags[params["model"]]
        # the trainer printed the arguments it parsed: its family's as drawn, the rest defaults
        log = (tmp_path / "c" / "trials" / f"{event['trial']}.log").read_text()
        assert f"model='{params['model']}'" in log
        if params["model"] != "forest":
            assert "trees=100" in log  # the trainer's default: --trees was left out


@pytest.mark.slow
def test_the_multi_objective_example_finds_a_feasible_front_under_asha(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    """examples/multi-objective.yaml as shipped but for its budget (10 trials and its one
    hand-given trial, not 24: ~15 s)."""
    document = example_with_budget("multi-objective.yaml", 10)
    code, summary, stderr = kubetune.run_json("run", str(kubetune.write(document)), "--out", "mo")
    assert code == 0, stderr
    assert summary["trials"] == 11  # the hand-given one runs on top of maxTrials
    assert summary["pareto"], "some trial must be feasible and succeed"
    created = [e for e in events(tmp_path / "mo") if e["event"] == "created"]
    assert created[0]["params"] == {"hidden": 32, "lr": 0.01, "alpha": 0.0001}
    finished = {e["trial"]: e for e in events(tmp_path / "mo") if e["event"] == "finished"}
    for member in summary["pareto"]:
        values = finished[member["trial"]]["values"]
        assert values["log_loss"] <= 0.25  # the constraint
        assert member["objectives"] == {k: values[k] for k in ("accuracy", "weights_k")}
    assert (tmp_path / "mo" / "pareto.png").exists()


@pytest.mark.slow
def test_the_pbt_example_continues_real_checkpoints(kubetune: Kubetune, tmp_path: Path) -> None:
    """examples/pbt.yaml as shipped but for its budget (12 segments, 3 per member, not 24:
    ~15 s): weak members continue strong ones' pickled models with perturbed rates."""
    document = example_with_budget("pbt.yaml", 12)
    code, summary, stderr = kubetune.run_json("run", str(kubetune.write(document)), "--out", "pbt")
    assert code == 0, stderr
    assert summary["counts"]["Succeeded"] == 12 and summary["best"]["objective"] > 0.9
    created = {e["trial"]: e for e in events(tmp_path / "pbt") if e["event"] == "created"}
    assert any(
        e["parent"] and created[e["parent"]]["member"] != e["member"] for e in created.values()
    ), "a weak member took a strong one's checkpoint"
    best = summary["best"]["trial"]
    assert (tmp_path / "pbt" / "checkpoints" / best / "model.pkl").is_file()

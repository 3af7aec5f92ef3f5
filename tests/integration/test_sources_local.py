"""`kubetune run` with trainers that report only through TensorBoard event files or a
metrics file: real processes, real writers, the same variables a cluster trainer gets."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from tensorboard.compat.proto import event_pb2

from kubetune.metrics.tfrecord import frame

from conftest import Kubetune, events, toy_study
from test_examples import example_with_budget

WRITER = Path(__file__).parent / "trainers" / "event_writer.py"


def writer_study(mode: str = "ok", trials: int = 2, **spec: Any) -> dict[str, Any]:
    budget = {"maxTrials": trials, "parallelism": 2, "maxFailedTrials": trials}
    document = toy_study(name="tb", budget=budget, **spec)
    document["spec"].setdefault("metrics", {"tensorboard": {"tags": {"score": "val/score"}}})
    container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["command"] = [sys.executable, str(WRITER), "--x=${trial.params.x}"]
    container["args"] = [f"--mode={mode}"]
    return document


def finished(out: Path) -> dict[str, dict[str, Any]]:
    return {e["trial"]: e for e in events(out) if e["event"] == "finished"}


def reports_of(out: Path, trial: str) -> list[dict[str, Any]]:
    return [e for e in events(out) if e["event"] == "report" and e.get("trial") == trial]


def test_a_trainer_sees_its_study_trial_and_folder_as_variables_and_placeholders(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    document = writer_study(trials=1)
    container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["args"] += ["--logdir=${trial.tensorboardDir}", f"--env-out={tmp_path / 'env.json'}"]
    code, summary, stderr = kubetune.run_json("run", str(kubetune.write(document)), "--out", "o")
    assert code == 0, stderr
    seen = json.loads((tmp_path / "env.json").read_text())
    folder = str(tmp_path / "o" / "trials" / "tb-0" / "tensorboard")
    assert {k: v for k, v in seen["env"].items() if k != "KUBETUNE_ATTEMPT"} == {
        "KUBETUNE_STUDY": "tb",
        "KUBETUNE_TRIAL": "tb-0",
        "KUBETUNE_TENSORBOARD_DIR": folder,
    }
    assert f"--logdir={folder}" in seen["argv"]
    x = summary["best"]["params"]["x"]
    assert summary["best"]["objective"] == pytest.approx(1 - (x - 0.3) ** 2, rel=1e-6)
    reports = [e for e in events(tmp_path / "o") if e["event"] == "report"]
    assert [r["step"] for r in reports] == [1, 2, 3]


def test_a_torn_record_is_waited_for_and_a_corrupt_one_fails_its_trial_alone(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    torn = kubetune.write(writer_study("torn"), "torn.yaml")
    code, summary, stderr = kubetune.run_json("run", str(torn), "--out", "torn")
    assert code == 0, stderr
    assert summary["counts"]["Succeeded"] == 2
    for trial in finished(tmp_path / "torn"):
        steps = [e["step"] for e in reports_of(tmp_path / "torn", trial)]
        assert steps == [1, 2, 3]  # the torn last record was read once whole
    corrupt = kubetune.write(writer_study("corrupt"), "corrupt.yaml")
    code, summary, stderr = kubetune.run_json("run", str(corrupt), "--out", "corrupt")
    assert summary["counts"]["Failed"] == 2, stderr
    first = event_pb2.Event(step=1, wall_time=1.0)
    first.summary.value.add(tag="val/score", simple_value=0.5)
    offset = len(frame(first.SerializeToString()))  # the damaged record is the second
    for trial in finished(tmp_path / "corrupt").values():
        assert trial["state"] == "Failed"
        assert trial["reason"].startswith("TensorBoard event file events.out.tfevents.")
        assert trial["reason"].endswith(
            f"corrupt record at byte {offset} (the data's checksum does not match)"
        )
    reports = [e for e in events(tmp_path / "corrupt") if e["event"] == "report"]
    assert sorted(r["step"] for r in reports) == [1, 1]  # what came before it was kept


def test_a_retried_trial_starts_from_a_fresh_folder_keeping_the_last_ones_files(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    document = writer_study("fail-first", trials=1)
    document["spec"]["trialTemplate"]["spec"]["backoffLimit"] = 1
    code, summary, stderr = kubetune.run_json("run", str(kubetune.write(document)), "--out", "o")
    assert code == 0, stderr
    x = summary["best"]["params"]["x"]
    # the first attempt wrote 5.0 and failed: its event files are not read as the second's
    assert summary["best"]["objective"] == pytest.approx(1 - (x - 0.3) ** 2, rel=1e-6)
    trials = tmp_path / "o" / "trials"
    assert list((trials / "tb-0.1" / "tensorboard").glob("*tfevents*"))
    assert list((trials / "tb-0" / "tensorboard").glob("*tfevents*"))


def test_a_json_metrics_file_is_read_as_the_trainer_appends_to_it(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    document = writer_study(
        trials=2, metrics={"file": {"path": "/m/scores.jsonl", "format": "json"}}
    )
    container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["args"] += [
        "--metrics-file=${trial.metricsFile}",
        f"--env-out={tmp_path / 'env.json'}",
    ]
    code, summary, stderr = kubetune.run_json("run", str(kubetune.write(document)), "--out", "o")
    assert code == 0, stderr
    assert summary["counts"]["Succeeded"] == 2
    seen = json.loads((tmp_path / "env.json").read_text())["env"]
    trial = seen["KUBETUNE_TRIAL"]
    assert seen["KUBETUNE_METRICS_FILE"] == str(tmp_path / "o" / "trials" / trial / "scores.jsonl")
    assert "KUBETUNE_TENSORBOARD_DIR" not in seen
    for trial in finished(tmp_path / "o"):
        assert [e["step"] for e in reports_of(tmp_path / "o", trial)] == [1, 2, 3]


@pytest.mark.slow
def test_the_tensorboard_example_stops_trials_at_rungs_from_the_event_files_steps(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    document = example_with_budget("tensorboard.yaml", 6)
    code, summary, stderr = kubetune.run_json("run", str(kubetune.write(document)), "--out", "tb")
    assert code == 0, stderr
    assert summary["counts"]["EarlyStopped"] > 0 and summary["counts"]["Succeeded"] > 0
    assert summary["best"]["objective"] > 0.9
    stops = [e["stop"] for e in finished(tmp_path / "tb").values() if e["stop"]]
    assert {s["step"] for s in stops} <= {1, 3, 9}
    for trial in finished(tmp_path / "tb"):
        reports = reports_of(tmp_path / "tb", trial)
        for metric in ("accuracy", "loss"):  # each epoch's scalar read once, in order
            steps = [r["step"] for r in reports if metric in r["metrics"]]
            assert steps == list(range(1, len(steps) + 1)) and steps, (trial, metric, steps)


@pytest.mark.slow
def test_the_metrics_file_example_tunes_from_its_json_lines(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    document = example_with_budget("metrics-file.yaml", 4)
    code, summary, stderr = kubetune.run_json("run", str(kubetune.write(document)), "--out", "mf")
    assert code == 0, stderr
    assert summary["counts"]["Failed"] == 0
    assert summary["best"]["objective"] > 0.9

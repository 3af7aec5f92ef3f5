"""`kubetune run` and the Tuner logging to a real MLflow server: the layout, a server that is
down for part or all of a study (the study untouched, what was lost said), a resumed study
writing into the runs it wrote before."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kubetune.local.tuner import Tuner

from conftest import Kubetune, events, toy_study, wait_for
from mlflow_server import MlflowServer


def run_tracked(
    kubetune: Kubetune, document: dict[str, Any], uri: str, out: str
) -> tuple[int, dict[str, Any], str, float]:
    started = time.monotonic()
    done = subprocess.run(
        kubetune.command(
            "run", str(kubetune.write(document, f"{out}.yaml")), "--out", out, "--output", "json"
        ),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=kubetune.tmp_path,
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
    )
    return done.returncode, json.loads(done.stdout or "{}"), done.stderr, time.monotonic() - started


def test_a_study_is_a_parent_run_and_each_trial_a_nested_run(
    kubetune: Kubetune, tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    document = toy_study(
        name="tracked", args=["--steps=3"], budget={"maxTrials": 4, "parallelism": 2}
    )
    document["spec"]["tracking"] = {"mlflow": {"experiment": "team/tracked"}}
    document["spec"]["earlyStopping"] = {
        "name": "median",
        "settings": {"startStep": 2, "minTrials": 1},
    }
    code, summary, stderr, _ = run_tracked(kubetune, document, mlflow_server.uri, "out")
    assert code == 0, stderr
    assert f"logging to MLflow at {mlflow_server.uri}" in stderr
    assert "could not be logged" not in stderr
    runs = mlflow_server.runs("team/tracked")  # the experiment the Study names
    parent = runs.pop("tracked")
    assert parent.info.status == "FINISHED"
    assert parent.data.params["algorithm.name"] == "random"
    assert parent.data.params["objective.metric"] == "score"
    assert parent.data.params["space.x"].startswith("{'type': 'float'")
    tags = parent.data.tags
    assert tags["kubetune.finish_reason"] == "MaxTrialsReached"
    assert tags["kubetune.best_trial"] == summary["best"]["trial"]
    assert float(tags["kubetune.best_objective"]) == summary["best"]["objective"]
    assert tags["kubetune.pareto_front_size"] == "0"
    log = events(tmp_path / "out")
    finished = {e["trial"]: e for e in log if e["event"] == "finished"}
    assert set(runs) == set(finished)
    for name, run in runs.items():
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        created = next(e for e in log if e["event"] == "created" and e["trial"] == name)
        assert float(run.data.params["x"]) == created["params"]["x"]
        reported = sorted(
            (e["step"], e["metrics"]["score"])
            for e in log
            if e["event"] == "report" and e["trial"] == name
        )
        assert mlflow_server.history(run, "score") == reported
        state = finished[name]["state"]
        assert run.data.tags["kubetune.state"] == state
        assert run.info.status == (
            "FINISHED" if state in ("Succeeded", "EarlyStopped") else "FAILED"
        )
        if state == "EarlyStopped":
            assert run.data.tags["kubetune.reason"] == finished[name]["reason"]
        assert run.info.end_time >= run.info.start_time > 0


def test_a_server_that_is_down_never_stops_the_study_and_the_loss_is_said(
    kubetune: Kubetune,
) -> None:
    """(What it costs in time is measured, not asserted: benchmarks/tracking.py.)"""
    document = toy_study(name="down", budget={"maxTrials": 3, "parallelism": 2})
    code, summary, stderr, _ = run_tracked(kubetune, document, "http://127.0.0.1:9", "down")
    assert code == 0, stderr
    assert summary["counts"]["Succeeded"] == 3
    lost = [line for line in stderr.splitlines() if "could not be logged" in line]
    assert len(lost) == 1 and lost[0].startswith("kubetune: MLflow: "), stderr
    assert " records could not be logged (" in lost[0]


def test_a_server_stopped_mid_study_loses_nothing_once_it_is_back(
    kubetune: Kubetune, tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    """Trials 0-3 run and end while the server is down; trials 4-5 wait at a gate the test
    opens once it is back, so the study cannot end before."""
    gate = tmp_path / "server-back"
    args = ["--steps=3", "--sleep=0.2", f"--gate={gate}", "--gate-from=4"]
    document = toy_study(name="flaky", args=args, budget={"maxTrials": 6, "parallelism": 2})
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.uri}
    process = subprocess.Popen(
        kubetune.command(
            "run", str(kubetune.write(document, "flaky.yaml")), "--out", "flaky", "--quiet"
        ),
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    results = tmp_path / "flaky" / "results.jsonl"
    wait_for(lambda: results.exists() and '"report"' in results.read_text(), 60, "the first report")
    mlflow_server.stop()
    try:
        wait_for(
            lambda: results.read_text().count('"finished"') >= 4,
            120,
            "4 trials to end while the server is down",
        )
    finally:
        mlflow_server.start()  # for the other tests too, whatever happened
    gate.touch()
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert "could not be logged" not in stderr
    runs = mlflow_server.runs("flaky")
    log = events(tmp_path / "flaky")
    finished = {e["trial"] for e in log if e["event"] == "finished"}
    assert set(runs) == finished | {"flaky"}
    for name in finished:
        reported = sorted(
            (e["step"], e["metrics"]["score"])
            for e in log
            if e["event"] == "report" and e["trial"] == name
        )
        assert mlflow_server.history(runs[name], "score") == reported, name
        assert runs[name].info.status == "FINISHED"


def test_a_resumed_study_writes_into_its_runs_without_duplicates(
    kubetune: Kubetune, tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    document = toy_study(
        name="resumed", args=["--steps=3", "--sleep=0.2"], budget={"maxTrials": 4, "parallelism": 2}
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.uri}
    study = kubetune.write(document, "resumed.yaml")
    process = subprocess.Popen(
        kubetune.command("run", str(study), "--out", "r", "--quiet"), cwd=tmp_path, env=env
    )
    results = tmp_path / "r" / "results.jsonl"
    wait_for(
        lambda: results.exists() and results.read_text().count('"finished"') >= 1,
        60,
        "a trial to end",
    )
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 128 + signal.SIGINT
    interrupted = mlflow_server.runs("resumed")["resumed"]
    wait_for(
        lambda: mlflow_server.runs("resumed")["resumed"].info.status == "KILLED",
        30,
        "the parent run to say interrupted",
    )
    assert interrupted.info.run_id
    done = subprocess.run(
        kubetune.command("run", str(study), "--out", "r", "--resume", "--quiet"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    runs = mlflow_server.runs("resumed")
    assert runs["resumed"].info.run_id == interrupted.info.run_id  # the same parent, again
    assert runs["resumed"].info.status == "FINISHED"
    log = events(tmp_path / "r")
    for name in {e["trial"] for e in log if e["event"] == "finished"}:
        starts = [i for i, e in enumerate(log) if e["event"] == "started" and e["trial"] == name]
        last = [e for e in log[starts[-1] :] if e["event"] == "report" and e["trial"] == name]
        history = mlflow_server.history(runs[name], "score")
        assert len(history) == len(set(history))  # no point twice
        assert {(e["step"], e["metrics"]["score"]) for e in last} <= set(history)


def test_the_tuner_logs_as_kubetune_run_does(mlflow_server: MlflowServer, tmp_path: Path) -> None:
    document = toy_study(name="asked", budget={"maxTrials": 3, "parallelism": 1})
    tuner = Tuner.from_manifest(document, tracking_uri=mlflow_server.uri)
    while not tuner.finished:
        trial = tuner.ask()
        x = float(trial.params["x"])
        for step in (1, 2):
            tuner.report(trial.name, step=step, score=x * step)
        tuner.tell(trial.name)
    summary = tuner.close()
    assert summary is not None and summary.lost == 0 and summary.written > 0
    runs = mlflow_server.runs("asked")
    assert runs["asked"].data.tags["kubetune.best_trial"] == tuner.best.trial  # type: ignore[union-attr]
    for trial in tuner.trials:
        x = float(trial.params["x"])
        assert mlflow_server.history(runs[trial.name], "score") == [(1, x), (2, 2 * x)]
    assert sys.modules.get("kubetune.tracking.mlflow_writer") is not None

"""On kwok nodes: trials that report through TensorBoard event files or a metrics file, read
by the real `kubetune sidecar` run as each pod's sidecar would be (its environment taken from
the pod the operator made, its shared folder a local one); and the operator logging every
study to a real MLflow server, which is stopped for part of a study."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tensorboard.compat.proto import event_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from .conftest import Cluster, wait_until
from .operator_harness import Operator, Player, score
from .test_operator import events, study, trials_of
from mlflow_server import MlflowServer, Outage

pytestmark = pytest.mark.cluster
SIDECAR = "kubetune-metrics"
#: The pod's shared folder and what lives in it, and where this test keeps each pod's.
SHARED = ("/kubetune/output.log", "/kubetune/exit-code")


def sidecar_env(pod: dict[str, Any], folder: Path, collector: str) -> dict[str, str]:
    """The sidecar's environment as the pod spec renders it, its paths moved into `folder`
    (a stand-in for the pod's emptyDirs) and its downward-API values read off the pod."""
    container = next(c for c in pod["spec"]["initContainers"] if c["name"] == SIDECAR)
    env: dict[str, str] = {}
    fields = {
        "metadata.namespace": pod["metadata"]["namespace"],
        "metadata.name": pod["metadata"]["name"],
    }
    for entry in container["env"]:
        path = entry.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        env[entry["name"]] = entry.get("value", "") if path is None else fields.get(path, "")
    moved = {"KUBETUNE_OUTPUT": "output.log", "KUBETUNE_EXIT_CODE": "exit-code"}
    for name, file in moved.items():
        env[name] = str(folder / file)
    for name in ("KUBETUNE_TENSORBOARD_DIR", "KUBETUNE_METRICS_FILE"):
        if name in env:
            env[name] = str(folder / Path(env[name]).name)
    env["KUBETUNE_COLLECTOR_URL"] = collector
    return env


def trainer_env(pod: dict[str, Any]) -> dict[str, str]:
    trainer = pod["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in trainer.get("env", []) if "value" in e}


def run_sidecar(pod: dict[str, Any], folder: Path, collector: str, write: Any) -> None:
    """The pod's life: its sidecar starts, the trainer writes, exits (its exit code in the
    shared folder), and the sidecar flushes and ends by itself."""
    folder.mkdir(parents=True)
    env = sidecar_env(pod, folder, collector)
    sidecar = subprocess.Popen(
        [sys.executable, "-m", "kubetune.cli", "sidecar"],
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
        text=True,
    )
    write(env)
    (folder / "exit-code").write_text("0\n")
    _, stderr = sidecar.communicate(timeout=120)
    assert sidecar.returncode == 0, stderr


def tensorboard_trainer(params: dict[str, Any]) -> Any:
    def write(env: dict[str, str]) -> None:
        writer = EventFileWriter(env["KUBETUNE_TENSORBOARD_DIR"])
        for step in range(1, 4):
            event = event_pb2.Event(step=step, wall_time=1.0)
            event.summary.value.add(tag="val/score", simple_value=score(params) * step / 3)
            writer.add_event(event)
            writer.flush()
        writer.close()

    return write


def file_trainer(params: dict[str, Any]) -> Any:
    def write(env: dict[str, str]) -> None:
        with open(env["KUBETUNE_METRICS_FILE"], "a") as out:
            for step in range(1, 4):
                out.write(json.dumps({"step": step, "score": score(params) * step / 3}) + "\n")

    return write


SOURCES = {
    "tensorboard": ({"tensorboard": {"tags": {"score": "val/score"}}}, tensorboard_trainer),
    "file": ({"file": {"path": "/var/log/trainer/scores.jsonl", "format": "json"}}, file_trainer),
}


def test_the_sidecar_reads_event_files_and_metrics_files_into_the_trials(
    cluster: Cluster, namespace: str, operator: Operator, tmp_path: Path
) -> None:
    """Two studies at once, one per source, each trial's pod played by the real sidecar."""
    for name, (metrics, _) in SOURCES.items():
        document = study(name, metrics=metrics, budget={"maxTrials": 2, "parallelism": 2})
        cluster.apply(document, namespace=namespace)
    players = {name: Player(cluster, namespace, operator, name) for name in SOURCES}

    def behave(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        env = trainer_env(pod)
        assert env["KUBETUNE_STUDY"] == player.study and env["KUBETUNE_TRIAL"] == trial
        place = env.get("KUBETUNE_TENSORBOARD_DIR") or env.get("KUBETUNE_METRICS_FILE")
        assert place in ("/kubetune/tensorboard", "/var/log/trainer/scores.jsonl")
        writer = SOURCES[player.study][1](params)
        run_sidecar(pod, tmp_path / trial, operator.collector, writer)
        player.finish(pod)

    def both() -> bool:
        for player in players.values():
            for pod in list(player.running_pods()):
                behave(player, pod, player.params(pod))
        return all(p.phase() in ("Succeeded", "Failed") for p in players.values())

    wait_until(both, 240, "both studies to finish")
    for name in SOURCES:
        assert players[name].phase() == "Succeeded"
        for trial in trials_of(cluster, namespace, name):
            status = trial["status"]
            assert status["phase"] == "Succeeded", status
            assert [r["step"] for r in status["reports"]] == [1, 2, 3]
            expected = score(trial["spec"]["params"])
            assert status["objective"] == pytest.approx(expected, rel=1e-6)


def test_the_operator_logs_each_study_to_mlflow_and_says_when_it_cannot(
    cluster: Cluster, crds: None, namespace: str, tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    mlflow = mlflow_server
    door = Outage(mlflow.port)  # the operator's way to the server, shut for part of the study
    operator = Operator(cluster, namespace, tmp_path, env={"MLFLOW_TRACKING_URI": door.uri})
    operator.start()
    try:
        asha = {"name": "asha", "settings": {"minBudget": 1, "maxBudget": 3, "reductionFactor": 3}}
        document = study("logged", earlyStopping=asha, budget={"maxTrials": 4, "parallelism": 2})
        document["spec"]["tracking"] = {"mlflow": {"experiment": f"{namespace}-logged"}}
        cluster.apply(document, namespace=namespace)
        player = Player(cluster, namespace, operator, "logged")
        done: list[str] = []

        def behave(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
            if len(done) == 2:
                door.down()  # the rest of the study runs while the server cannot be reached
            reports = [
                {"seq": s, "step": s, "metrics": {"score": score(params) * s / 3}}
                for s in (1, 2, 3)
            ]
            assert player.post(pod, {"reports": reports}) == 200
            player.finish(pod)
            done.append(pod["metadata"]["name"])

        player.play(behave, timeout=240)
        assert player.phase() == "Succeeded"  # the study never waited for the server
        wait_until(
            lambda: any(
                e["reason"] == "TrackingUnreachable" and e["type"] == "Warning"
                for e in events(cluster, namespace)
            ),
            60,
            "a Warning event saying MLflow cannot be reached",
        )
        door.up()
        trials = trials_of(cluster, namespace, "logged")

        def logged() -> bool:
            try:
                runs = mlflow.runs(f"{namespace}-logged")
            except AssertionError:
                return False
            parent = runs.get("logged")
            return bool(
                parent
                and parent.data.tags.get("kubetune.finish_reason")
                and all(t["metadata"]["name"] in runs for t in trials)
            )

        wait_until(logged, 120, "every record queued while the server was down to reach it")
        runs = mlflow.runs(f"{namespace}-logged")
        parent = runs.pop("logged")
        assert parent.data.tags["kubetune.namespace"] == namespace
        best = cluster.get("study", "logged", namespace=namespace)["status"]["bestTrial"]
        assert parent.data.tags["kubetune.best_trial"] == best["name"]
        for trial in trials:
            run = runs[trial["metadata"]["name"]]
            status = trial["status"]
            assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
            assert run.data.tags["kubetune.state"] == status["phase"]
            reported = sorted((r["step"], r["metrics"]["score"]) for r in status["reports"])
            assert mlflow.history(run, "score") == reported
    finally:
        operator.stop()
        door.down()

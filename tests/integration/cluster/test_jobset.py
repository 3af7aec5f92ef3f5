"""Trials as JobSets, run by a real JobSet controller (built and started by `make cluster-up`)
on kwok GPU nodes: the test plays each pod, and only the reporting pod (rank 0) reports."""

from __future__ import annotations

from typing import Any

import pytest

from kubetune.metrics.wire import rank_zero

from .conftest import Cluster
from .operator_harness import Operator, Player, score
from .test_operator import study, trials_of
from factories import jobset_template

pytestmark = pytest.mark.cluster


def play_jobset_pod(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
    """Rank 0 reports, as its sidecar would, then every pod ends."""
    if rank_zero(pod["metadata"]["labels"]):
        body = {"reports": [{"seq": 1, "step": 1, "metrics": {"score": score(params)}}]}
        assert player.post(pod, body) == 200
    player.finish(pod)


def test_a_jobset_study_runs_every_trial_across_its_pods(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(
        study(
            "sets",
            trialTemplate=jobset_template(pods=2, jobs=2),
            resources={"gpus": 1},
            budget={"maxTrials": 4, "parallelism": 2},
        ),
        namespace=namespace,
    )
    pods_seen: dict[str, set[str]] = {}
    early: list[str] = []

    def play(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        pods_seen.setdefault(trial, set()).add(pod["metadata"]["name"])
        if rank_zero(pod["metadata"]["labels"]):
            body = {"reports": [{"seq": 1, "step": 1, "metrics": {"score": score(params)}}]}
            assert player.post(pod, body) == 200
            player.finish(pod)
            return
        # The other pods end only once rank 0 has ended: its end must not end the trial.
        phase = cluster.get("trial", trial, namespace=namespace).get("status", {}).get("phase")
        if phase != "Running":
            early.append(f"{trial} was {phase} while a pod of its JobSet still ran")
        player.finish(pod)

    Player(cluster, namespace, operator, "sets").play(play, timeout=240)
    status = cluster.get("study", "sets", namespace=namespace)["status"]
    trials = trials_of(cluster, namespace, "sets")
    reasons = [t["status"].get("reason") for t in trials] or status.get("conditions")
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 4, reasons
    assert sorted(t["metadata"]["name"] for t in trials) == [f"sets-{i}" for i in range(4)]
    for trial in trials:
        assert trial["status"]["objective"] == pytest.approx(score(trial["spec"]["params"]))
    assert not early, early
    assert {len(pods) for pods in pods_seen.values()} == {4}  # 2 Jobs x 2 pods per trial
    jobset = cluster.get("jobset", "sets-0", namespace=namespace)
    assert jobset["metadata"]["ownerReferences"][0]["kind"] == "Trial"
    assert [r["name"] for r in jobset["spec"]["replicatedJobs"]] == ["leader", "workers"]

"""Trials as Kubeflow TrainJobs, run by a real Trainer controller (v2.2.0, built and started by
`make cluster-up`) through a real JobSet controller on kwok GPU nodes, from the chart's own
ClusterTrainingRuntime (the one with kubetune's sidecar): the test plays each node's pod, and
only rank 0 reports."""

from __future__ import annotations

from typing import Any

import pytest

from kubetune.controller.workloads import trainjob

from .conftest import Cluster, wait_until
from .operator_harness import Operator, Player, score
from .test_operator import study, trials_of
from factories import trainjob_template

pytestmark = pytest.mark.cluster


def play_trainjob_pod(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
    """Rank 0 reports, as its sidecar would, then every node's pod ends."""
    if trainjob.reports(pod["metadata"]["labels"]):
        body = {"reports": [{"seq": 1, "step": 1, "metrics": {"score": score(params)}}]}
        assert player.post(pod, body) == 200
    player.finish(pod)


def test_a_trainjob_study_runs_every_trial_on_its_nodes(
    cluster: Cluster, namespace: str, operator: Operator, runtime: str
) -> None:
    cluster.apply(
        study(
            "tj",
            trialTemplate=trainjob_template(2, runtime),
            resources={"gpus": 1},
            budget={"maxTrials": 3, "parallelism": 2},
        ),
        namespace=namespace,
    )
    pods_seen: dict[str, list[dict[str, Any]]] = {}
    early: list[str] = []

    def play(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        pods_seen.setdefault(trial, []).append(pod)
        if trainjob.reports(pod["metadata"]["labels"]):
            body = {"reports": [{"seq": 1, "step": 1, "metrics": {"score": score(params)}}]}
            assert player.post(pod, body) == 200
            player.finish(pod)
            return
        # The other node ends only once rank 0 has: its end must not end the trial.
        phase = cluster.get("trial", trial, namespace=namespace).get("status", {}).get("phase")
        if phase != "Running":
            early.append(f"{trial} was {phase} while a node of its TrainJob still ran")
        player.finish(pod)

    Player(cluster, namespace, operator, "tj").play(play, timeout=240)
    status = cluster.get("study", "tj", namespace=namespace)["status"]
    trials = trials_of(cluster, namespace, "tj")
    reasons = [t["status"].get("reason") for t in trials] or status.get("conditions")
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 3, reasons
    assert sorted(t["metadata"]["name"] for t in trials) == [f"tj-{i}" for i in range(3)]
    for trial in trials:
        assert trial["status"]["objective"] == pytest.approx(score(trial["spec"]["params"]))
    assert not early, early
    assert {len(pods) for pods in pods_seen.values()} == {2}  # numNodes: 2
    for pod in (p for pods in pods_seen.values() for p in pods):
        node = next(c for c in pod["spec"]["containers"] if c["name"] == "node")
        assert node["resources"]["limits"]["nvidia.com/gpu"] == "1"  # per node
        assert pod["spec"]["nodeName"].startswith("kwok-gpu-")
        assert node["command"][:2] == ["/bin/sh", "-c"]  # the wrapper
    train = cluster.get("trainjob", "tj-0", namespace=namespace)
    assert train["metadata"]["ownerReferences"][0]["kind"] == "Trial"
    assert any(
        c["type"] == "Complete" and c["status"] == "True" for c in train["status"]["conditions"]
    )


def test_a_trainjob_whose_runtime_lacks_the_sidecar_fails_its_trial_saying_so(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    """The Trainer (v2.2.0) takes a patch of a container its runtime lacks and makes Jobs the
    API server refuses (an init container with no image): its JobSet would wait forever. The
    operator reads the runtime first and fails the trial saying what to do."""
    bare = {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "ClusterTrainingRuntime",
        "metadata": {"name": "bare-torch"},
        "spec": {
            "mlPolicy": {"numNodes": 1, "torch": {}},
            "template": {
                "spec": {
                    "replicatedJobs": [
                        {
                            "name": "node",
                            "template": {
                                "spec": {
                                    "template": {
                                        "spec": {"containers": [{"name": "node", "image": "t:1"}]}
                                    }
                                }
                            },
                        }
                    ]
                }
            },
        },
    }
    cluster.apply(bare)
    cluster.apply(
        study(
            "bare",
            trialTemplate=trainjob_template(1, "bare-torch"),
            budget={"maxTrials": 2, "parallelism": 1, "maxFailedTrials": 2},
        ),
        namespace=namespace,
    )

    def failed() -> list[dict[str, Any]]:
        return [
            t
            for t in trials_of(cluster, namespace, "bare")
            if t.get("status", {}).get("phase") == "Failed"
        ]

    wait_until(lambda: bool(failed()), 60, "the trial to fail")
    reason = failed()[0]["status"]["reason"]
    assert reason.startswith("it cannot run as a TrainJob: its runtime, ClusterTrainingRuntime")
    assert "no init container kubetune-metrics in its node Job" in reason, reason
    assert "kubetune-torch runtime (trainer.runtime.enabled)" in reason, reason
    assert not cluster.get("trainjobs", namespace=namespace)["items"]  # nothing made to hang


def test_asha_stops_a_trainjob_trial_and_every_node_goes(
    cluster: Cluster, namespace: str, operator: Operator, runtime: str
) -> None:
    """Rank 0 reports a learning curve; the other node runs on. A trial asha stops has its
    TrainJob deleted, and with it the Trainer's JobSet and every node's pod."""
    cluster.apply(
        study(
            "tjstop",
            trialTemplate=trainjob_template(2, runtime),
            earlyStopping={
                "name": "asha",
                "settings": {"minBudget": 1, "maxBudget": 9, "reductionFactor": 3},
            },
            budget={"maxTrials": 6, "parallelism": 2},
        ),
        namespace=namespace,
    )

    def curve(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        if not trainjob.reports(pod["metadata"]["labels"]):
            player.done.add(pod["metadata"]["name"])  # runs until its TrainJob ends or goes
            return
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        for step in range(1, 10):
            value = score(params) * step / 9
            body = {"reports": [{"seq": step, "step": step, "metrics": {"score": value}}]}
            if player.post(pod, body) != 200:
                break
            if step not in (1, 3, 9):
                continue  # asha judges only at its rungs
            phase = cluster.get("trial", trial, namespace=namespace).get("status", {}).get("phase")
            if phase == "EarlyStopped":
                player.done.add(pod["metadata"]["name"])
                return
        others = cluster.get("pods", "-l", f"kubetune.io/trial={trial}", namespace=namespace)
        for other in others["items"]:
            if other["metadata"]["name"] != pod["metadata"]["name"]:
                player.finish(other)
        player.finish(pod)

    Player(cluster, namespace, operator, "tjstop").play(curve, timeout=240)
    trials = trials_of(cluster, namespace, "tjstop")
    stopped = [t for t in trials if t["status"]["phase"] == "EarlyStopped"]
    assert stopped and len(trials) == 6, [t["status"].get("phase") for t in trials]
    for trial in stopped:
        name = trial["metadata"]["name"]

        def gone(name: str = name) -> bool:
            pods = cluster.get("pods", "-l", f"kubetune.io/trial={name}", namespace=namespace)
            left = [
                cluster.kubectl("get", kind, name, namespace=namespace, check=False).returncode == 0
                for kind in ("trainjob", "jobset")
            ]
            return not pods["items"] and not any(left)

        wait_until(gone, 60, f"the TrainJob of {name}, its JobSet and its pods to go")

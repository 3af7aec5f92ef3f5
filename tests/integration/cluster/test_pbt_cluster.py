"""`algorithm: pbt` through the operator on the real API server (kwok nodes; the test plays
each trial's side as the sidecar would). The checkpoint claim: a static hostPath
PersistentVolume, ReadWriteMany, bound to the Study's claim by the controller manager's
volume binder; the local cluster has no dynamic provisioner, and on kwok no pod writes to it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import yaml

from .conftest import Cluster, wait_until
from .operator_harness import Operator, Player
from .test_operator import events, study, trials_of

pytestmark = pytest.mark.cluster

INTERVAL = 2


def checkpoint_claim(cluster: Cluster, namespace: str, path: str) -> str:
    """A claim bound to a hostPath volume at `path` (the real node's folder, on that test)."""
    volume = f"kubetune-ckpt-{uuid.uuid4().hex[:8]}"
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": volume, "labels": {"kubetune.io/test": namespace}},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteMany"],
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": "",
                "hostPath": {"path": path, "type": "DirectoryOrCreate"},
            },
        }
    )
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "checkpoints"},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "volumeName": volume,
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        namespace=namespace,
    )
    wait_until(
        lambda: (
            cluster.get("pvc", "checkpoints", namespace=namespace).get("status", {}).get("phase")
            == "Bound"
        ),
        60,
        "the checkpoint claim to be bound",
    )
    return volume


def pbt_study(name: str, max_trials: int, population: int, **spec: Any) -> dict[str, Any]:
    return study(
        name,
        algorithm={
            "name": "pbt",
            "seed": 5,
            "settings": {"population": population, "readyInterval": INTERVAL},
        },
        budget={"maxTrials": max_trials, "parallelism": population},
        checkpoints={"volumeClaim": "checkpoints"},
        **spec,
    )


def play_segment(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
    """Report the segment's steps, counted from its line's start, scored by x and steps."""
    trial = pod["metadata"]["labels"]["kubetune.io/trial"]
    lineage = player.cluster.get("trial", trial, namespace=player.namespace)["spec"]["lineage"]
    first = INTERVAL * lineage["generation"] + 1
    reports = [
        {"seq": i + 1, "step": step, "metrics": {"score": step * (1 - (params["x"] - 0.3) ** 2)}}
        for i, step in enumerate(range(first, first + INTERVAL))
    ]
    assert player.post(pod, {"reports": reports}) == 200
    player.finish(pod)


def test_a_pbt_study_runs_segments_with_their_lineage_and_the_checkpoint_claim(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    volume = checkpoint_claim(cluster, namespace, f"/tmp/kubetune-kwok-{namespace}")
    try:
        cluster.apply(pbt_study("pbt", 9, 3), namespace=namespace)
        pods: dict[str, dict[str, Any]] = {}

        def remember(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
            pods[pod["metadata"]["labels"]["kubetune.io/trial"]] = pod
            play_segment(player, pod, params)

        Player(cluster, namespace, operator, "pbt").play(remember)
        status = cluster.get("study", "pbt", namespace=namespace)["status"]
        assert status["phase"] == "Succeeded", status
        assert status["trials"]["succeeded"] == 9
        trials = {t["metadata"]["name"]: t for t in trials_of(cluster, namespace, "pbt")}
        assert len(trials) == 9 and set(pods) == set(trials)
        for name, trial in trials.items():
            lineage, shown = trial["spec"]["lineage"], trial["status"]
            # The status says what the spec says: parent, member, generation, changes.
            assert shown.get("parent") == lineage.get("parent")
            assert (shown["member"], shown["generation"]) == (
                lineage["member"],
                lineage["generation"],
            )
            assert shown["changes"] == lineage["changes"]
            assert trial["spec"]["budget"] == INTERVAL * (lineage["generation"] + 1)
            assert [r["step"] for r in shown["reports"]] == [
                INTERVAL * lineage["generation"] + 1,
                INTERVAL * lineage["generation"] + 2,
            ]
            parent = lineage.get("parent")
            if parent is None:
                assert lineage["generation"] == 0
                assert set(lineage["changes"].values()) == {"sampled"}
            else:
                assert trials[parent]["status"]["phase"] == "Succeeded"
                assert trials[parent]["spec"]["index"] < trial["spec"]["index"]
                assert lineage["generation"] == trials[parent]["spec"]["lineage"]["generation"] + 1
            pod = pods[name]["spec"]
            assert {
                "name": "kubetune-checkpoints",
                "persistentVolumeClaim": {"claimName": "checkpoints"},
            } in pod["volumes"]
            env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
            assert env["KUBETUNE_CHECKPOINT_DIR"] == f"/kubetune/checkpoints/pbt/{name}"
            assert env.get("KUBETUNE_RESTORE_DIR") == (
                f"/kubetune/checkpoints/pbt/{parent}" if parent else None
            )
            prune = pod["initContainers"][0]
            assert prune["name"] == "kubetune-prune"
            assert f"--below={trial['spec']['index']}" in prune["command"]
        generations = sorted(t["spec"]["lineage"]["generation"] for t in trials.values())
        assert generations == [0, 0, 0, 1, 1, 1, 2, 2, 2]
        told = {
            e["message"].split(":")[0]: e["message"]
            for e in events(cluster, namespace)
            if e.get("reason") == "TrialCreated"
        }
        for name, trial in trials.items():
            lineage = trial["spec"]["lineage"]
            place = f"; member {lineage['member']}, from {lineage.get('parent') or 'scratch'}"
            assert place in told[name], told[name]
    finally:
        cluster.kubectl("delete", "pv", volume, "--wait=false", check=False)


def test_the_api_server_refuses_a_pbt_study_without_a_checkpoint_claim(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    document = pbt_study("no-claim", 9, 3)
    del document["spec"]["checkpoints"]
    refused = cluster.kubectl(
        "apply", "-f", "-", namespace=namespace, check=False, stdin=yaml.safe_dump(document)
    )
    assert refused.returncode != 0
    assert "spec.algorithm: Invalid value" in refused.stderr
    assert "pbt on a cluster needs spec.checkpoints.volumeClaim" in refused.stderr


def test_a_failed_segment_and_an_operator_restart_mid_generation_lose_nothing(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    volume = checkpoint_claim(cluster, namespace, f"/tmp/kubetune-kwok-{namespace}")
    try:
        cluster.apply(pbt_study("pbt-faults", 10, 3), namespace=namespace)
        restarted: list[int] = []

        def segment(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
            if pod["metadata"]["labels"]["kubetune.io/trial"] == "pbt-faults-4":
                player.finish(pod, code=1)  # the trainer failed: no checkpoint, no reports
                return
            play_segment(player, pod, params)

        def restart_once() -> None:
            if len(player.done) >= 5 and not restarted:
                operator.kill()  # mid-generation: segments of generation 1 are running
                operator.start()
                restarted.append(len(player.done))

        player = Player(cluster, namespace, operator, "pbt-faults")
        player.play(segment, timeout=240, each_round=restart_once)
        assert restarted
        status = cluster.get("study", "pbt-faults", namespace=namespace)["status"]
        assert status["phase"] == "Succeeded", status
        trials = {t["metadata"]["name"]: t for t in trials_of(cluster, namespace, "pbt-faults")}
        assert len(trials) == 10
        phases = {name: t["status"]["phase"] for name, t in trials.items()}
        assert phases["pbt-faults-4"] == "Failed"
        assert sorted(phases.values()).count("Succeeded") == 9
        failed = trials["pbt-faults-4"]["spec"]["lineage"]
        mine = sorted(
            (t for t in trials.values() if t["spec"]["lineage"]["member"] == failed["member"]),
            key=lambda t: t["spec"]["index"],
        )
        before = [t for t in mine if t["spec"]["index"] < 4]
        after = [t for t in mine if t["spec"]["index"] > 4]
        last_good = before[-1]["metadata"]["name"]
        assert after[0]["spec"]["lineage"].get("parent") == last_good, "again from the last good"
        # Nothing made twice or lost across the restart: indices 0..9, once each, and every
        # parent a good segment made before its child.
        assert sorted(t["spec"]["index"] for t in trials.values()) == list(range(10))
        for trial in trials.values():
            parent = trial["spec"]["lineage"].get("parent")
            if parent is not None:
                assert phases[parent] == "Succeeded"
                assert trials[parent]["spec"]["index"] < trial["spec"]["index"]
    finally:
        cluster.kubectl("delete", "pv", volume, "--wait=false", check=False)

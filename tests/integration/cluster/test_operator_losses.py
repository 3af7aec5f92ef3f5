"""What users and clusters do to a running study: a Trial, its Job or its pod deleted, the
operator down meanwhile, a Job the API server refuses, a quota that refuses Trials. None may
wedge a study or rewrite a finished trial, and trial names are never reused."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Cluster, wait_until
from .operator_harness import Operator, Player, report_and_finish
from .test_operator import events, study, trials_of

pytestmark = pytest.mark.cluster


class Ledger:
    """Every finished trial as first seen; a later look must find it unchanged."""

    def __init__(self, cluster: Cluster, namespace: str, name: str) -> None:
        self.cluster, self.namespace, self.name = cluster, namespace, name
        self.finished: dict[str, tuple[Any, ...]] = {}

    def look(self) -> None:
        for trial in trials_of(self.cluster, self.namespace, self.name):
            current = trial.get("status") or {}
            if current.get("phase") in ("Succeeded", "Failed", "EarlyStopped", "Killed"):
                seen = (
                    trial["metadata"]["uid"],
                    current["phase"],
                    current.get("objective"),
                    current.get("completionTime"),
                )
                first = self.finished.setdefault(trial["metadata"]["name"], seen)
                assert first == seen, f"{trial['metadata']['name']} changed: {first} -> {seen}"


def created_names(cluster: Cluster, namespace: str) -> list[str]:
    return [
        e["message"].split(":")[0]
        for e in events(cluster, namespace)
        if e["reason"] == "TrialCreated"
    ]


def test_deleting_a_running_trial_neither_wedges_nor_rewrites_the_study(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    """The deleted trial counts toward nothing; a new trial under a new name takes its slot."""
    cluster.apply(study("lost", budget={"maxTrials": 8, "parallelism": 2}), namespace=namespace)
    ledger = Ledger(cluster, namespace, "lost")
    deleted: list[str] = []

    def behave(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        if trial == "lost-2" and not deleted:  # lost-3 exists by now: its index is not free
            wait_until(
                lambda: len(trials_of(cluster, namespace, "lost")) >= 4, 30, "lost-3 to exist"
            )
            cluster.kubectl("delete", "trial", trial, "--wait=false", namespace=namespace)
            deleted.append(trial)
            player.done.add(pod["metadata"]["name"])
            return
        report_and_finish(player, pod, params)

    Player(cluster, namespace, operator, "lost").play(behave, each_round=ledger.look)
    ledger.look()
    status = cluster.get("study", "lost", namespace=namespace)["status"]
    names = sorted(t["metadata"]["name"] for t in trials_of(cluster, namespace, "lost"))
    assert deleted == ["lost-2"]
    assert names == sorted(f"lost-{i}" for i in (0, 1, 3, 4, 5, 6, 7, 8))
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 8
    assert status["nextTrialIndex"] == 9
    created = created_names(cluster, namespace)
    assert sorted(created) == sorted(f"lost-{i}" for i in range(9))  # each name created once
    assert any(
        e["reason"] == "TrialDeleted" and e["message"].startswith("lost-2 ")
        for e in events(cluster, namespace)
    )


def test_deleting_a_running_trials_job_or_pod_fails_that_trial_and_the_study_finishes(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(study("gone", budget={"maxTrials": 6, "parallelism": 2}), namespace=namespace)
    ledger = Ledger(cluster, namespace, "gone")
    acted: dict[str, str] = {}

    def behave(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        if trial == "gone-1":
            cluster.kubectl("delete", "job", trial, "--wait=false", namespace=namespace)
            acted[trial] = "job"
        elif trial == "gone-3":
            cluster.kubectl(
                "delete", "pod", pod["metadata"]["name"], "--wait=false", namespace=namespace
            )
            acted[trial] = "pod"
        else:
            report_and_finish(player, pod, params)
            return
        player.done.add(pod["metadata"]["name"])

    Player(cluster, namespace, operator, "gone").play(behave, each_round=ledger.look)
    ledger.look()
    trials = {t["metadata"]["name"]: t["status"] for t in trials_of(cluster, namespace, "gone")}
    assert acted == {"gone-1": "job", "gone-3": "pod"}
    assert trials["gone-1"]["phase"] == "Failed"
    assert "its Job gone-1 was deleted before the trial ended" in trials["gone-1"]["reason"]
    assert trials["gone-3"]["phase"] == "Failed"
    assert trials["gone-3"]["reason"].startswith("its pod gone-3-")
    assert "was deleted (Job failed: BackoffLimitExceeded" in trials["gone-3"]["reason"]
    status = cluster.get("study", "gone", namespace=namespace)["status"]
    assert status["phase"] == "Succeeded" and status["finishedBecause"] == "MaxTrialsReached"
    assert status["trials"] == {
        "total": 6,
        "pending": 0,
        "queued": 0,
        "running": 0,
        "succeeded": 4,
        "failed": 2,
        "earlyStopped": 0,
        "killed": 0,
    }


def test_a_job_deleted_while_the_operator_is_down_fails_its_trial_after_the_restart(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(study("down", budget={"maxTrials": 3, "parallelism": 2}), namespace=namespace)
    wait_until(
        lambda: (
            {(t.get("status") or {}).get("jobName") for t in trials_of(cluster, namespace, "down")}
            == {"down-0", "down-1"}
        ),
        30,
        "both trials to have their Jobs",
    )
    operator.kill()
    cluster.kubectl("delete", "job", "down-0", "--wait=true", namespace=namespace)
    operator.start()
    Player(cluster, namespace, operator, "down").play(report_and_finish)
    trials = {t["metadata"]["name"]: t["status"] for t in trials_of(cluster, namespace, "down")}
    assert trials["down-0"]["phase"] == "Failed" and "was deleted" in trials["down-0"]["reason"]
    assert [trials[f"down-{i}"]["phase"] for i in (1, 2)] == ["Succeeded", "Succeeded"]


def test_a_job_the_api_server_refuses_fails_its_trial_and_says_why(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    document = study("refused", budget={"maxTrials": 4, "parallelism": 1, "maxFailedTrials": 1})
    pod = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]
    pod["restartPolicy"] = "Always"  # a Job's pods may not restart in place
    cluster.apply(document, namespace=namespace)
    wait_until(
        lambda: (
            (cluster.get("study", "refused", namespace=namespace).get("status") or {}).get("phase")
            == "Failed"
        ),
        60,
        "the study to fail",
    )
    status = cluster.get("study", "refused", namespace=namespace)["status"]
    assert status["finishedBecause"] == "TooManyFailures" and status["trials"]["failed"] == 2
    for trial in trials_of(cluster, namespace, "refused"):
        assert "the API server refused its Job" in trial["status"]["reason"]
        assert "restartPolicy" in trial["status"]["reason"]
    warnings = {e["reason"] for e in events(cluster, namespace) if e["type"] == "Warning"}
    assert {"TrialFailed", "StudyFinished"} <= warnings


def test_a_study_held_up_by_a_quota_says_so_and_goes_on_once_it_is_lifted(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "trials"},
        "spec": {"hard": {"count/trials.kubetune.io": "2"}},
    }
    cluster.apply(quota, namespace=namespace)
    wait_until(
        lambda: (
            cluster.get("resourcequota", "trials", namespace=namespace).get("status") or {}
        ).get("hard"),
        30,
        "the quota to be in force",
    )
    cluster.apply(study("quota", budget={"maxTrials": 4, "parallelism": 4}), namespace=namespace)

    def stalled() -> dict[str, Any] | None:
        conditions = (cluster.get("study", "quota", namespace=namespace).get("status") or {}).get(
            "conditions"
        ) or []
        return next((c for c in conditions if c["type"] == "Stalled"), None)

    condition = wait_until(stalled, 60, "a Stalled condition")
    assert condition["reason"] == "ActionFailed" and "exceeded quota" in condition["message"]
    assert any(
        e["reason"] == "Stalled" and e["type"] == "Warning" for e in events(cluster, namespace)
    )
    cluster.kubectl("delete", "resourcequota", "trials", namespace=namespace)
    Player(cluster, namespace, operator, "quota").play(report_and_finish, timeout=120)
    status = cluster.get("study", "quota", namespace=namespace)["status"]
    assert status["trials"]["succeeded"] == 4 and stalled() is None
    names = sorted(t["metadata"]["name"] for t in trials_of(cluster, namespace, "quota"))
    assert len(names) == 4 and len(set(names)) == 4


def test_a_trial_whose_node_is_deleted_fails_saying_so_and_the_study_finishes(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    """The pod garbage collector deletes the pods of a node that is gone (after its 40 s
    quarantine); the Job fails, and the trial with it, naming the pod and the node."""
    node = f"kwok-doomed-{namespace}"
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": node,
                "annotations": {"kwok.x-k8s.io/node": "fake"},
                "labels": {"type": "kwok", "kubetune.io/doomed": namespace},
            },
            "status": {
                "allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110"},
                "capacity": {"cpu": "16", "memory": "64Gi", "pods": "110"},
            },
        }
    )
    document = study("node", budget={"maxTrials": 3, "parallelism": 1})
    document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["affinity"] = {
        "nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "preference": {
                        "matchExpressions": [
                            {"key": "kubetune.io/doomed", "operator": "In", "values": [namespace]}
                        ]
                    },
                }
            ]
        }
    }
    cluster.apply(document, namespace=namespace)
    doomed: list[str] = []

    def behave(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        if pod["spec"].get("nodeName") == node and not doomed:
            cluster.kubectl("delete", "node", node, "--wait=false")
            doomed.append(pod["metadata"]["labels"]["kubetune.io/trial"])
            player.done.add(pod["metadata"]["name"])
            return
        report_and_finish(player, pod, params)

    try:
        Player(cluster, namespace, operator, "node").play(behave, timeout=240)
    finally:
        cluster.kubectl("delete", "node", node, "--ignore-not-found", check=False)
    assert len(doomed) == 1
    trials = {t["metadata"]["name"]: t["status"] for t in trials_of(cluster, namespace, "node")}
    lost = trials[doomed[0]]
    assert lost["phase"] == "Failed" and f"on node {node} was " in lost["reason"]
    assert "node no longer exists" in lost["reason"], lost["reason"]
    assert sorted(s["phase"] for s in trials.values()) == ["Failed", "Succeeded", "Succeeded"]
    assert cluster.get("study", "node", namespace=namespace)["status"]["phase"] == "Succeeded"


def test_finished_jobs_removed_by_their_ttl_leave_every_trial_as_it_ended(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    """The advice for big sweeps (docs/cluster.md): `ttlSecondsAfterFinished` in the Job
    template lets Kubernetes remove each finished trial's Job and pod; the trials keep their
    records and the study finishes as usual."""
    document = study("ttl", budget={"maxTrials": 4, "parallelism": 2})
    document["spec"]["trialTemplate"]["spec"]["ttlSecondsAfterFinished"] = 0
    cluster.apply(document, namespace=namespace)
    ledger = Ledger(cluster, namespace, "ttl")
    Player(cluster, namespace, operator, "ttl").play(report_and_finish, each_round=ledger.look)
    wait_until(
        lambda: (
            not cluster.get("jobs", "-l", "kubetune.io/study=ttl", namespace=namespace)["items"]
        ),
        60,
        "the TTL controller to remove the finished Jobs",
    )
    ledger.look()
    trials = trials_of(cluster, namespace, "ttl")
    assert [t["status"]["phase"] for t in trials] == ["Succeeded"] * 4
    assert all(t["status"]["objective"] is not None for t in trials)
    status = cluster.get("study", "ttl", namespace=namespace)["status"]
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 4

"""Trials admitted by a real Kueue (built and started by `make cluster-up`) on kwok GPU nodes:
a quota caps admitted trials and the rest wait Queued; a higher-priority workload preempts
trials, which are queued again with the same params and never counted as failures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Cluster, wait_until
from .operator_harness import Operator, Player, report_and_finish
from .test_jobset import play_jobset_pod
from .test_operator import events, kubetune_cli, study, trials_of
from .test_trainjob import play_trainjob_pod
from factories import jobset_template, trainjob_template

pytestmark = pytest.mark.cluster

KUEUE = "kueue.x-k8s.io/v1beta2"
QUEUE = "gpus"


@pytest.fixture
def gpu_queue(cluster: Cluster, namespace: str) -> Iterator[str]:
    """A ClusterQueue of 8 GPUs (lower priorities preempted within it) and its LocalQueue
    `gpus` in the test's namespace; the cluster-scoped objects are named after the namespace."""
    flavor, queue, high = f"{namespace}-flavor", f"{namespace}-cq", f"{namespace}-high"
    cluster.apply({"apiVersion": KUEUE, "kind": "ResourceFlavor", "metadata": {"name": flavor}})
    cluster.apply(
        {
            "apiVersion": KUEUE,
            "kind": "ClusterQueue",
            "metadata": {"name": queue},
            "spec": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                "preemption": {"withinClusterQueue": "LowerPriority"},
                "resourceGroups": [
                    {
                        "coveredResources": ["cpu", "memory", "nvidia.com/gpu"],
                        "flavors": [
                            {
                                "name": flavor,
                                "resources": [
                                    {"name": "cpu", "nominalQuota": "100"},
                                    {"name": "memory", "nominalQuota": "100Gi"},
                                    {"name": "nvidia.com/gpu", "nominalQuota": "8"},
                                ],
                            }
                        ],
                    }
                ],
            },
        }
    )
    cluster.apply(
        {
            "apiVersion": KUEUE,
            "kind": "LocalQueue",
            "metadata": {"name": QUEUE},
            "spec": {"clusterQueue": queue},
        },
        namespace=namespace,
    )
    cluster.apply(
        {
            "apiVersion": KUEUE,
            "kind": "WorkloadPriorityClass",
            "metadata": {"name": high},
            "value": 1000,
        }
    )
    wait_until(
        lambda: any(
            c["type"] == "Active" and c["status"] == "True"
            for c in cluster.get("clusterqueue", queue).get("status", {}).get("conditions", [])
        ),
        60,
        "the ClusterQueue to be active",
    )
    yield high
    for kind, name in (
        ("clusterqueue", queue),
        ("resourceflavor", flavor),
        ("workloadpriorityclass", high),
    ):
        cluster.kubectl("delete", kind, name, "--wait=false", check=False)


def admitted_jobs(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    """The study's Jobs Kueue let run (not suspended) that have not ended."""
    jobs = cluster.get("jobs", "-l", f"kubetune.io/study={name}", namespace=namespace)["items"]
    return [
        j
        for j in jobs
        if not j["spec"].get("suspend")
        and not any(
            c["type"] in ("Complete", "Failed") and c["status"] == "True"
            for c in j.get("status", {}).get("conditions", [])
        )
    ]


def test_a_gpu_quota_admits_eight_trials_and_queues_the_rest(
    cluster: Cluster, namespace: str, operator: Operator, gpu_queue: str
) -> None:
    cluster.apply(
        study(
            "quota",
            queueName=QUEUE,
            resources={"gpus": 1},
            budget={"maxTrials": 24, "parallelism": 20},
        ),
        namespace=namespace,
    )
    seen = {"admitted": 0, "queued": 0, "pods": 0, "queued_phase": 0}

    def count() -> None:
        admitted = len(admitted_jobs(cluster, namespace, "quota"))
        pods = cluster.get("pods", "-l", "kubetune.io/study=quota", namespace=namespace)["items"]
        alive = [p for p in pods if p["status"].get("phase") in ("Pending", "Running")]
        assert admitted <= 8, f"{admitted} trial Jobs admitted with a quota of 8 GPUs"
        assert len(alive) <= 8, f"{len(alive)} trial pods exist with a quota of 8 GPUs"
        counts = (
            cluster.get("study", "quota", namespace=namespace).get("status", {}).get("trials", {})
        )
        phases = [t.get("status", {}).get("phase") for t in trials_of(cluster, namespace, "quota")]
        seen["admitted"] = max(seen["admitted"], admitted)
        seen["pods"] = max(seen["pods"], len(alive))
        seen["queued"] = max(seen["queued"], counts.get("queued", 0))
        seen["queued_phase"] = max(seen["queued_phase"], phases.count("Queued"))

    # Kueue unsuspends the 8 one by one: wait for all 8 (no pod ends before the harness
    # plays), or the 8th may be admitted only once the first ones have ended, never seen.
    wait_until(
        lambda: (
            count(),
            seen["queued_phase"] >= 12
            and seen["queued"] >= 12
            and seen["admitted"] == 8
            and seen["pods"] == 8,
        )[1],
        60,
        "8 trials admitted and 12 of the first 20 Queued behind them, in their phases and the "
        "Study's counts",
    )
    Player(cluster, namespace, operator, "quota").play(report_and_finish, each_round=count)
    status = cluster.get("study", "quota", namespace=namespace)["status"]
    trials = trials_of(cluster, namespace, "quota")
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 24
    assert len(trials) == 24 and all(t["status"]["phase"] == "Succeeded" for t in trials)
    assert seen["admitted"] == 8 and seen["pods"] == 8
    job = cluster.get("job", "quota-0", namespace=namespace)
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == QUEUE
    columns = cluster.kubectl("get", "study", "quota", namespace=namespace).stdout
    assert "QUEUED" in columns.splitlines()[0]


def test_a_preempted_trial_is_queued_again_and_not_failed(
    cluster: Cluster, namespace: str, operator: Operator, gpu_queue: str
) -> None:
    cluster.apply(
        study(
            "preempt",
            queueName=QUEUE,
            resources={"gpus": 1},
            budget={"maxTrials": 8, "parallelism": 8, "maxFailedTrials": 0},
        ),
        namespace=namespace,
    )
    player = Player(cluster, namespace, operator, "preempt")
    wait_until(lambda: len(list(player.running_pods())) == 8, 60, "8 trials running")
    # A workload of the high priority class asking for 4 GPUs: Kueue evicts 4 trials for it.
    urgent = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "urgent",
            "labels": {
                "kueue.x-k8s.io/queue-name": QUEUE,
                "kueue.x-k8s.io/priority-class": gpu_queue,
            },
        },
        "spec": {
            # 4 pods of 1 GPU: the GPUs freed by preemption may be on either node.
            "parallelism": 4,
            "completions": 4,
            "template": {
                "metadata": {
                    "annotations": {"kubetune.io/fake-delay": "3s", "kubetune.io/fake-exit": "0"}
                },
                "spec": {
                    "restartPolicy": "Never",
                    "tolerations": [
                        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
                    ],
                    "nodeSelector": {"nvidia.com/gpu.present": "true"},
                    "containers": [
                        {
                            "name": "main",
                            "image": "busybox",
                            "resources": {"limits": {"nvidia.com/gpu": "1"}},
                        }
                    ],
                },
            },
        },
    }
    cluster.apply(urgent, namespace=namespace)
    queued = [0]

    def preempted() -> list[dict[str, Any]]:
        trials = trials_of(cluster, namespace, "preempt")
        phases = [t.get("status", {}).get("phase") for t in trials]
        queued[0] = max(queued[0], phases.count("Queued"))
        return [t for t in trials if t.get("status", {}).get("preemptions")]

    hit = wait_until(
        lambda: found if len(found := preempted()) >= 4 else None, 60, "4 trials preempted"
    )
    assert queued[0] >= 1, "no preempted trial was ever seen Queued"
    wait_until(
        lambda: any(
            c["type"] == "Complete" and c["status"] == "True"
            for c in cluster.get("job", "urgent", namespace=namespace)
            .get("status", {})
            .get("conditions", [])
        ),
        60,
        "the urgent Job to finish",
    )
    player.play(report_and_finish)
    status = cluster.get("study", "preempt", namespace=namespace)["status"]
    trials = trials_of(cluster, namespace, "preempt")
    assert status["phase"] == "Succeeded", status
    assert status["trials"]["succeeded"] == 8 and status["trials"]["failed"] == 0
    assert len(trials) == 8  # retried in place: no trial was added to replace a preempted one
    again = {t["metadata"]["name"] for t in hit}
    for trial in trials:
        if trial["metadata"]["name"] in again:
            assert trial["status"]["preemptions"] >= 1
            assert trial["status"]["phase"] == "Succeeded"
    told = [e["message"] for e in events(cluster, namespace) if e["reason"] == "TrialPreempted"]
    assert len(told) >= 4 and all("Preempted" in m for m in told), told  # Kueue's own words
    listed = kubetune_cli(cluster, "trials", "preempt", "-n", namespace).stdout.splitlines()
    assert "PREEMPTED" in listed[0].split()
    column = listed[0].split().index("PREEMPTED")
    shown = {line.split()[0]: line.split()[column] for line in listed[1:]}
    recorded = {t["metadata"]["name"] for t in trials if t["status"].get("preemptions")}
    assert again <= recorded
    assert {name for name, count in shown.items() if count != "-"} == recorded


def test_a_jobset_study_waits_in_the_queue_whole(
    cluster: Cluster, namespace: str, operator: Operator, gpu_queue: str
) -> None:
    """Each trial's JobSet asks for 4 GPUs (2 Jobs x 2 pods): with 8 in the quota, 2 trials
    run and the third waits Queued with none of its pods created."""
    cluster.apply(
        study(
            "sets",
            queueName=QUEUE,
            trialTemplate=jobset_template(pods=2, jobs=2),
            resources={"gpus": 1},
            budget={"maxTrials": 4, "parallelism": 3},
        ),
        namespace=namespace,
    )

    def split() -> list[dict[str, Any]] | None:
        trials = trials_of(cluster, namespace, "sets")
        phases = [t.get("status", {}).get("phase") for t in trials]
        waiting = [t for t in trials if t.get("status", {}).get("phase") == "Queued"]
        return waiting if phases.count("Running") == 2 and len(waiting) == 1 else None

    queued = wait_until(split, 60, "2 JobSet trials Running and the third Queued")
    name = queued[0]["metadata"]["name"]
    assert cluster.get("jobset", name, namespace=namespace)["spec"]["suspend"] is True
    pods = cluster.get("pods", "-l", f"kubetune.io/trial={name}", namespace=namespace)["items"]
    assert pods == []
    Player(cluster, namespace, operator, "sets").play(play_jobset_pod, timeout=240)
    status = cluster.get("study", "sets", namespace=namespace)["status"]
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 4


def test_a_trainjob_study_waits_in_the_queue_whole(
    cluster: Cluster, namespace: str, operator: Operator, gpu_queue: str, runtime: str
) -> None:
    """Kueue manages TrainJobs too (its trainer.kubeflow.org/trainjob integration): each
    trial asks for 4 GPUs (4 nodes x 1), so with 8 in the quota 2 run and the third waits
    Queued, its TrainJob suspended and none of its pods made."""
    cluster.apply(
        study(
            "tjq",
            queueName=QUEUE,
            trialTemplate=trainjob_template(4, runtime),
            resources={"gpus": 1},
            budget={"maxTrials": 4, "parallelism": 3},
        ),
        namespace=namespace,
    )

    def split() -> list[dict[str, Any]] | None:
        trials = trials_of(cluster, namespace, "tjq")
        phases = [t.get("status", {}).get("phase") for t in trials]
        waiting = [t for t in trials if t.get("status", {}).get("phase") == "Queued"]
        return waiting if phases.count("Running") == 2 and len(waiting) == 1 else None

    queued = wait_until(split, 90, "2 TrainJob trials Running and the third Queued")
    name = queued[0]["metadata"]["name"]
    assert cluster.get("trainjob", name, namespace=namespace)["spec"]["suspend"] is True
    pods = cluster.get("pods", "-l", f"kubetune.io/trial={name}", namespace=namespace)["items"]
    assert pods == []
    Player(cluster, namespace, operator, "tjq").play(play_trainjob_pod, timeout=240)
    status = cluster.get("study", "tjq", namespace=namespace)["status"]
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 4

"""A trial's workload waiting for Kueue: its Trial is written Queued from the cache, read
fresh only when the write conflicts (the copy kept was behind), and a preemption seen then is
decided on the fresh copy."""

from __future__ import annotations

import copy
from typing import Any

from kubetune.controller.cache import TrialCache
from kubetune.controller.leader import ConflictError
from kubetune.controller.phases import TrialLocks, TrialPhases
from kubetune.controller.telemetry import Telemetry

Obj = dict[str, Any]


def trial(version: int, **status: Any) -> Obj:
    return {
        "metadata": {
            "name": "s-1",
            "namespace": "ns",
            "uid": "t-uid",
            "resourceVersion": str(version),
            "ownerReferences": [{"uid": "s-uid"}],
            "labels": {"kubetune.io/study": "s"},
        },
        "spec": {"study": "s", "index": 1, "params": {"x": 0.5}},
        "status": status,
    }


class FakeKube:
    """The API server's copy of one Trial; a write with a stale resourceVersion conflicts."""

    def __init__(self, stored: Obj) -> None:
        self.stored = stored
        self.calls: list[str] = []

    def fetch_trial(self, namespace: str, name: str) -> Obj | None:
        self.calls.append("get")
        return copy.deepcopy(self.stored)

    def patch_trial_status(
        self, namespace: str, name: str, status: Obj, resource_version: str | None = None
    ) -> Obj:
        self.calls.append("patch")
        if resource_version != self.stored["metadata"]["resourceVersion"]:
            raise ConflictError("the object has been modified")
        self.stored["status"] = {**self.stored["status"], **status}
        self.stored["metadata"]["resourceVersion"] = str(int(resource_version) + 1)
        return copy.deepcopy(self.stored)

    def emit_event(self, obj: Obj, reason: str, message: str, kind: str = "Normal") -> None:
        self.calls.append(f"event {reason}")


class Desk:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []

    def seen(self, trial: Obj) -> None:
        pass

    def request(self, namespace: str, name: str) -> None:
        self.requests.append((namespace, name))


def room(kube: FakeKube, cached: Obj) -> tuple[TrialPhases, Desk]:
    client: Any = kube
    pulls: Any = object()
    cache = TrialCache(client)
    cache.seen(cached)
    desk = Desk()
    return TrialPhases(client, Telemetry(), TrialLocks(), cache, desk, pulls), desk


def test_a_new_queued_trial_is_written_from_the_cache_without_a_read() -> None:
    kube = FakeKube(trial(5, phase="Pending", jobName="s-1"))
    phases, desk = room(kube, trial(5, phase="Pending", jobName="s-1"))
    phases.queue("ns", "s-1", "w-uid", "gpus", eviction=lambda: None)
    assert kube.calls == ["patch"]
    assert kube.stored["status"]["phase"] == "Queued"
    assert "LocalQueue gpus" in kube.stored["status"]["reason"]
    assert desk.requests == [("ns", "s")]
    phases.queue("ns", "s-1", "w-uid", "gpus", eviction=lambda: None)  # said already
    assert kube.calls == ["patch"]


def test_a_stale_copy_conflicts_and_the_fresh_one_decides_a_preemption() -> None:
    # The cache still holds it Pending; the API server has it Running with a pod since.
    kube = FakeKube(trial(9, phase="Running", jobName="s-1", startTime="t0", pod="s-1-abc"))
    phases, _ = room(kube, trial(5, phase="Pending", jobName="s-1"))
    phases.queue("ns", "s-1", "w-uid", "gpus", eviction=lambda: "preempted by a higher priority")
    assert kube.calls == ["patch", "get", "patch", "event TrialPreempted"]
    status = kube.stored["status"]
    assert status["phase"] == "Queued" and status["preemptions"] == 1
    assert status["earlierPods"] == ["s-1-abc"] and status["pod"] is None
    assert "preempted (preempted by a higher priority)" in status["reason"]

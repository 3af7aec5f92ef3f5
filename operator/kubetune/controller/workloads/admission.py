"""Kueue's word on a trial's workload, the same for every kind: a workload in a queue that is
suspended waits for admission (or was preempted); resumed, it was admitted, and its trial is
Pending until its pods run."""

from __future__ import annotations

from kubetune.api.study import QUEUE_LABEL
from kubetune.api.trial import TrialState
from kubetune.controller.kube import Kube, Obj
from kubetune.controller.phases import TrialPhases


def follow_admission(kube: Kube, phases: TrialPhases, workload: Obj, trial: str) -> None:
    meta = workload["metadata"]
    queue = (meta.get("labels") or {}).get(QUEUE_LABEL)
    if queue is None:
        return
    namespace, uid = meta["namespace"], meta["uid"]
    if (workload.get("spec") or {}).get("suspend"):
        phases.queue(namespace, trial, uid, queue, lambda: kube.kueue_eviction(namespace, uid))
        return
    known = phases.applied.get((namespace, trial))
    if known is not None and known[1] == TrialState.QUEUED:
        phases.settle(namespace, trial, TrialState.PENDING, None, uid)

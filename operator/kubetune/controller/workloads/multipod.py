"""The room of every kind whose status says how its trial ended, in conditions, and whose
trial runs several pods (JobSet, TrainJob, any kind with `trialTemplate.workload`).

The workload has the word on the end: its success condition is the trial's success, its
failure condition the trial's failure, with the workload's own reason and message. Pods say
less than in a plain Job: the reporting pod (rank 0, the kind's `reports`) running is the
trial running; a pod whose container can never start fails the trial at once (the workload
would wait forever holding its GPUs); any other pod's end is left to the workload. A
workload deleted while its trial runs fails the trial, as for a Job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kubetune.api.trial import TrialState
from kubetune.controller import manifests
from kubetune.controller.kube import Kube, Obj
from kubetune.controller.outcomes import pod_outcome
from kubetune.controller.phases import TrialPhases
from kubetune.controller.workloads import lost
from kubetune.controller.workloads.admission import follow_admission

#: workload -> (phase, reason): only the ends are read; anything else is PENDING.
Outcome = Callable[[Obj], tuple[TrialState, str | None]]
#: the workload's or its pod's metadata -> (apiVersion, plural) of the workload.
Resource = Callable[[Mapping[str, str]], tuple[str, str]]

#: Which pod's label names its workload's uid, for `TrialPhases.settle`'s memory.
UID_LABELS = ("jobset.sigs.k8s.io/jobset-uid", "batch.kubernetes.io/controller-uid")


def conditions_outcome(
    workload: Obj, succeeded: tuple[str, ...], failed: tuple[str, ...], what: str
) -> tuple[TrialState, str | None]:
    """(phase, reason) from the first condition of `succeeded` or `failed` types that is
    True; the reason names `what` failed, with the condition's own reason and message."""
    for condition in (workload.get("status") or {}).get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") in succeeded:
            return TrialState.SUCCEEDED, None
        if condition.get("type") in failed:
            reason = condition.get("reason") or condition["type"]
            message = condition.get("message") or ""
            detail = f": {message}" if message else ""
            return TrialState.FAILED, f"{what} failed: {reason}{detail}"
    return TrialState.PENDING, None


class MultiPodRoom:
    def __init__(
        self,
        kube: Kube,
        phases: TrialPhases,
        what: str | Callable[[Obj], str],
        outcome: Outcome,
        reports: Callable[[Mapping[str, str]], bool],
        resource: Resource,
    ) -> None:
        self.kube = kube
        self.phases = phases
        self.what = what
        self.outcome = outcome
        self.reports = reports
        self.resource = resource

    def _what(self, obj: Obj) -> str:
        return self.what(obj) if callable(self.what) else self.what

    def on_workload(self, workload: Obj) -> None:
        trial = _trial_of(workload)
        if trial is None:
            return
        meta = workload["metadata"]
        phase, reason = self.outcome(workload)
        if phase.finished:
            self.phases.settle(meta["namespace"], trial, phase, reason, meta["uid"])
        else:
            follow_admission(self.kube, self.phases, workload, trial)

    def on_pod(self, pod: Obj) -> None:
        meta = pod["metadata"]
        labels = meta.get("labels") or {}
        trial = labels.get(manifests.TRIAL_LABEL)
        if not trial:
            return
        phase, reason = pod_outcome(pod)
        uid = next((labels[label] for label in UID_LABELS if label in labels), None)
        waiting = (pod.get("status") or {}).get("phase") in ("Pending", "Running")
        if phase == TrialState.FAILED and waiting:
            # A container that can never start: fail the trial now and free every pod.
            why = f"pod {meta['name']}: {reason}"
            self.phases.settle(meta["namespace"], trial, phase, why, uid)
            resource = self.resource(meta.get("annotations") or {})
            self.kube.delete_workload(meta["namespace"], trial, *resource)
        elif phase == TrialState.RUNNING and self.reports(labels):
            self.phases.settle(meta["namespace"], trial, phase, None, uid)

    def on_pod_deleted(self, pod: Obj) -> None:
        """The workload, not its pods, says how the trial ended."""

    def on_workload_deleted(self, workload: Obj) -> None:
        lost.on_deleted(self.kube, self.phases, workload, self._what(workload))

    def heal(self, study: Obj, trials: list[Obj], api_version: str, plural: str) -> None:
        kind = ((study.get("spec") or {}).get("trialTemplate") or {}).get("kind") or plural
        lost.heal(self.kube, self.phases, study, trials, (api_version, plural), kind)


def _trial_of(obj: Obj) -> str | None:
    name = (obj["metadata"].get("labels") or {}).get(manifests.TRIAL_LABEL)
    return str(name) if name else None

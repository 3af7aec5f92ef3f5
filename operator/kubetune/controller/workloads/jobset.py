"""A trial run as a JobSet (jobset.x-k8s.io/v1alpha2): several Jobs, several pods, one trial.

The JobSet has the word on the end: `Completed` (every Job done) is the trial's success,
`Failed` (JobSet's failure policy: by default its first failed Job) the trial's failure,
with JobSet's reason and message. Pods say less than in a plain Job: the reporting pod
(rank 0: the first pod of the first replicated Job, `wire.rank_zero`) running is the trial
running; a pod whose container can never start fails the trial at once (the JobSet would
wait forever holding its GPUs); any other pod's end is left to the JobSet. A JobSet deleted
while its trial runs fails the trial, as for a Job.
"""

from __future__ import annotations

from kubetune.api.trial import TrialState
from kubetune.controller import manifests, status
from kubetune.controller.kube import Kube, Obj
from kubetune.controller.phases import TrialPhases
from kubetune.controller.workloads import lost
from kubetune.controller.workloads.admission import follow_admission
from kubetune.metrics.wire import rank_zero

KIND = "JobSet"
#: JobSet's label on its Jobs' pods, naming the JobSet by uid.
JOBSET_UID_LABEL = "jobset.sigs.k8s.io/jobset-uid"
JOBSET_NAME_LABEL = "jobset.sigs.k8s.io/jobset-name"


def jobset_outcome(jobset: Obj) -> tuple[TrialState, str | None]:
    """(phase, reason) of a trial from its JobSet's conditions: only the ends are read."""
    for condition in (jobset.get("status") or {}).get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Completed":
            return TrialState.SUCCEEDED, None
        if condition.get("type") == "Failed":
            reason = condition.get("reason") or "JobSetFailed"
            message = condition.get("message") or ""
            detail = f": {message}" if message else ""
            return TrialState.FAILED, f"JobSet failed: {reason}{detail}"
    return TrialState.PENDING, None


class JobSetWorkload:
    def __init__(self, kube: Kube, phases: TrialPhases) -> None:
        self.kube = kube
        self.phases = phases

    def on_jobset(self, jobset: Obj) -> None:
        trial = _trial_of(jobset)
        if trial is None:
            return
        meta = jobset["metadata"]
        phase, reason = jobset_outcome(jobset)
        if phase.finished:
            self.phases.settle(meta["namespace"], trial, phase, reason, meta["uid"])
        else:
            follow_admission(self.kube, self.phases, jobset, trial)

    def on_pod(self, pod: Obj) -> None:
        meta = pod["metadata"]
        labels = meta.get("labels") or {}
        trial = labels.get(manifests.TRIAL_LABEL)
        if not trial:
            return
        phase, reason = status.pod_outcome(pod)
        waiting = (pod.get("status") or {}).get("phase") in ("Pending", "Running")
        if phase == TrialState.FAILED and waiting:
            # A container that can never start: fail the trial now and free every pod.
            why = f"pod {meta['name']}: {reason}"
            self.phases.settle(meta["namespace"], trial, phase, why, labels.get(JOBSET_UID_LABEL))
            self.kube.delete_workload(meta["namespace"], trial, KIND)
        elif phase == TrialState.RUNNING and rank_zero(labels):
            self.phases.settle(meta["namespace"], trial, phase, None, labels.get(JOBSET_UID_LABEL))

    def on_jobset_deleted(self, jobset: Obj) -> None:
        lost.on_deleted(self.kube, self.phases, jobset, KIND)

    def heal(self, study: Obj, trials: list[Obj]) -> None:
        """Fail the running trials whose JobSet is gone with no event seen (the operator down)."""
        lost.heal(self.kube, self.phases, study, trials, KIND)


def _trial_of(obj: Obj) -> str | None:
    name = (obj["metadata"].get("labels") or {}).get(manifests.TRIAL_LABEL)
    return str(name) if name else None

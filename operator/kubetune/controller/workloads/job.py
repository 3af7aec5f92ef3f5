"""A trial run as a batch/v1 Job: the Job's and its pods' events, read as the trial's phase.

The pod is the fastest word on Running, Succeeded and Failed (it ends, sidecar flushed, a
second or more before the Job controller says so); the Job has the last word (backoffLimit,
activeDeadlineSeconds, a pod deleted while it ran). A Job deleted while its trial runs fails
the trial with that reason: from its DELETED event, or, for one deleted while the operator
was down, from the periodic look over each running study (`heal`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubetune.api.study import Study
from kubetune.api.trial import TrialState
from kubetune.controller import manifests
from kubetune.controller.kube import Kube, Obj
from kubetune.controller.outcomes import job_outcome, pod_outcome
from kubetune.controller.phases import Recent, TrialPhases
from kubetune.controller.settings import OperatorSettings
from kubetune.controller.workloads import lost
from kubetune.controller.workloads.admission import follow_admission
from kubetune.controller.workloads.kind import WorkloadKind

#: The Job controller's label on its pods, naming the Job by uid.
JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"


class JobWorkload:
    def __init__(self, kube: Kube, phases: TrialPhases) -> None:
        self.kube = kube
        self.phases = phases
        #: (namespace, trial) -> why its last pod vanished: the Job controller's own verdict
        #: (BackoffLimitExceeded) does not say the pod was deleted.
        self.vanished = Recent(1024)
        #: (namespace, trial) -> why its last attempt failed, when the Job may retry it: the
        #: Job's verdict (BackoffLimitExceeded) does not name the exit code.
        self.attempt_failed = Recent(1024)

    def on_workload(self, job: Obj) -> None:
        """A Job's verdict, or Kueue's word on it; the pod says when it runs."""
        phase, reason = job_outcome(job)
        trial = _trial_of(job)
        if trial is None:
            return
        if not phase.finished:
            if (job.get("spec") or {}).get("suspend"):
                self.vanished.pop((job["metadata"]["namespace"], trial))  # stopped by it
            follow_admission(self.kube, self.phases, job, trial)
            return
        namespace = job["metadata"]["namespace"]
        spec, counts = job.get("spec") or {}, job.get("status") or {}
        retries = int(spec.get("backoffLimit") or 0)
        if phase == TrialState.FAILED and reason and "DeadlineExceeded" in reason:
            # The Job controller ended the pods itself: say so as `kubetune run` does.
            reason = f"{reason} (activeDeadlineSeconds: {spec.get('activeDeadlineSeconds')})"
        elif phase == TrialState.FAILED:
            why = self.vanished.get((namespace, trial)) or self.attempt_failed.get(
                (namespace, trial)
            )
            if why is not None and retries:
                # The limit reached means every attempt failed; status.failed lags behind the
                # Job's verdict (it counts a pod once its finalizer is gone).
                spent = reason is not None and "BackoffLimitExceeded" in reason
                attempts = retries + 1 if spent else max(1, int(counts.get("failed") or 0))
                reason = f"{why} (attempt {attempts} of {retries + 1}; {reason})"
            elif why is not None:
                reason = f"{why} ({reason})"
        self.phases.settle(namespace, trial, phase, reason, job["metadata"]["uid"])

    def on_pod_deleted(self, pod: Obj) -> None:
        """A pod deleted (or being deleted) before it ended: its Job decides what follows (a
        new pod within backoffLimit, or failure); this only remembers why, for the reason."""
        trial = _trial_of(pod)
        if trial is None or (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        meta = pod["metadata"]
        node = (pod.get("spec") or {}).get("nodeName")
        where = f" on node {node}" if node else ""
        self.vanished.put((meta["namespace"], trial), f"its pod {meta['name']}{where} was deleted")

    def on_pod(self, pod: Obj) -> None:
        if pod["metadata"].get("deletionTimestamp"):
            self.on_pod_deleted(pod)  # the Job may fail before the pod is gone
        phase, reason = pod_outcome(pod)
        meta = pod["metadata"]
        trial = _trial_of(pod)
        if trial is None or phase == TrialState.PENDING:
            return
        labels = meta.get("labels") or {}
        stuck = (pod.get("status") or {}).get("phase") in ("Pending", "Running")
        queued = (meta.get("annotations") or {}).get(manifests.QUEUE_ANNOTATION)
        if phase == TrialState.FAILED and not stuck and queued and meta.get("deletionTimestamp"):
            # Stopped by its Job's suspension (Kueue preempted it), or deleted: the Job says
            # which (suspended: queued again; failed: the trial fails with its reason).
            return
        if phase == TrialState.FAILED and not stuck and _retries(pod) > 0:
            # One attempt failed; the Job starts another or gives up, and says which.
            self.attempt_failed.put((meta["namespace"], trial), reason or "its pod failed")
            return
        self.phases.settle(meta["namespace"], trial, phase, reason, labels.get(JOB_UID_LABEL))
        if phase == TrialState.FAILED and stuck:
            # A container that can never start (image, config): the Job would wait forever
            # holding the node's resources.
            self.kube.delete_job(meta["namespace"], trial)

    def on_workload_deleted(self, job: Obj) -> None:
        lost.on_deleted(self.kube, self.phases, job, "Job")

    def heal(self, study: Obj, trials: list[Obj], api_version: str, plural: str) -> None:
        """Fail the running trials whose Job is gone with no event seen (the operator down)."""
        lost.heal(self.kube, self.phases, study, trials, (api_version, plural), "Job")


def _retries(pod: Obj) -> int:
    """The pod's Job's backoffLimit, as the Job builder noted it (0 on pods built before)."""
    raw = (pod["metadata"].get("annotations") or {}).get(manifests.RETRIES_ANNOTATION, "0")
    return int(raw) if str(raw).isdigit() else 0


def _trial_of(obj: Obj) -> str | None:
    name = (obj["metadata"].get("labels") or {}).get(manifests.TRIAL_LABEL)
    return str(name) if name else None


def build(
    study: Study, trial_obj: Mapping[str, Any], token: str, settings: OperatorSettings
) -> dict[str, Any]:
    """The trial's Job, whole: the user's template substituted, labelled, annotated for the
    workload room, owned by the Trial, with the metrics sidecar unless Prometheus is read."""
    name = trial_obj["metadata"]["name"]
    template = manifests.substituted(study, trial_obj)
    job_spec = template["spec"]
    job_spec.setdefault("backoffLimit", 0)  # a trial is one attempt: retries skew the search
    sidecar = manifests.sidecar_for(study, name, token, settings)
    manifests.decorate_pod(
        job_spec["template"], study, name, job_spec["backoffLimit"], sidecar, settings
    )
    manifests.add_checkpoints(job_spec["template"]["spec"], study, trial_obj, settings)
    return manifests.workload_object(study, trial_obj, template, job_spec, settings)


#: Its one pod reports (a retried attempt is a new pod, the only one running).
KIND = WorkloadKind("Job", build, JobWorkload, reports=lambda labels: True)

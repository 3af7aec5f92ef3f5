"""A trial run as a JobSet (jobset.x-k8s.io/v1alpha2): several Jobs, several pods, one trial.

`Completed` (every Job done) is the trial's success, `Failed` (JobSet's failure policy: by
default its first failed Job) the trial's failure, with JobSet's reason and message
(`multipod` says how pods are read). Rank 0, the pod that reports, is the first pod of the
first replicated Job (`wire.rank_zero`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from kubetune.api.study import Study
from kubetune.controller import manifests
from kubetune.controller.kube import Kube
from kubetune.controller.phases import TrialPhases
from kubetune.controller.settings import OperatorSettings
from kubetune.controller.workloads.kind import WorkloadKind
from kubetune.controller.workloads.multipod import MultiPodRoom, conditions_outcome
from kubetune.metrics.wire import RANK_LABELS, rank_zero

API_VERSION = "jobset.x-k8s.io/v1alpha2"
PLURAL = "jobsets"
#: JobSet's label on its Jobs' pods, naming the JobSet by uid.
JOBSET_UID_LABEL = "jobset.sigs.k8s.io/jobset-uid"
JOBSET_NAME_LABEL = "jobset.sigs.k8s.io/jobset-name"

jobset_outcome = partial(
    conditions_outcome, succeeded=("Completed",), failed=("Failed",), what="JobSet"
)


def jobset_room(kube: Kube, phases: TrialPhases) -> MultiPodRoom:
    return MultiPodRoom(
        kube, phases, "JobSet", jobset_outcome, rank_zero, lambda _: (API_VERSION, PLURAL)
    )


def build(
    study: Study, trial_obj: Mapping[str, Any], token: str, settings: OperatorSettings
) -> dict[str, Any]:
    """The trial's JobSet: every pod of every replicated Job labelled, with the GPU shortcut
    (`resources.gpus` per pod); the pods of the first replicated Job get the trainer's
    wrapper and the sidecar, of which only rank 0's reports (wire.RANK_LABELS). Each Job
    is one attempt (backoffLimit 0 unless set) and JobSet's default failure policy fails
    the whole JobSet with its first failed Job, so the trial fails with it."""
    name = trial_obj["metadata"]["name"]
    template = manifests.substituted(study, trial_obj)
    spec = template["spec"]
    for index, replicated in enumerate(spec["replicatedJobs"]):
        job_spec = replicated["template"]["spec"]
        job_spec.setdefault("backoffLimit", 0)
        rank = tuple(RANK_LABELS)
        sidecar = manifests.sidecar_for(study, name, token, settings, rank) if index == 0 else None
        retries = job_spec["backoffLimit"]
        manifests.decorate_pod(job_spec["template"], study, name, retries, sidecar, settings)
        manifests.add_checkpoints(job_spec["template"]["spec"], study, trial_obj, settings)
    return manifests.workload_object(study, trial_obj, template, spec, settings)


KIND = WorkloadKind(
    "JobSet", build, jobset_room, rank_zero, watched=("jobset.x-k8s.io", "v1alpha2", PLURAL)
)

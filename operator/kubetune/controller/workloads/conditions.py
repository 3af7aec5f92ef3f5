"""A trial run as a kind kubetune does not know by name (a PyTorchJob, an MPIJob, a team's own
CRD), as Katib runs any kind: the Study's `trialTemplate.workload` names the condition types
that end a trial (`succeeded`, `failed`: with status True) and where the kind templates its
pods (`podTemplates`, dotted paths).

Every pod made from those templates is labelled, gets the GPU shortcut and is watched (a
container that can never start fails the trial); the pods of the first template run the
trainer's wrapper and the metrics sidecar, and all of them report: give that template one
pod (a Master, a launcher). Kueue: the queue label is set when the Study names a queue, but
kubetune does not suspend a kind it does not know (Kueue's own webhook does, for the kinds
it manages). Its RBAC: the chart's `workloads.custom`, and the operator's
`--workloads RESOURCE.VERSION.GROUP` to watch it.

The workload carries what its room needs (the condition types, its resource), so the room
judges it without reading the Study.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from kubetune.api.study import Study
from kubetune.api.template import resolve
from kubetune.api.trial import TrialState
from kubetune.controller import manifests
from kubetune.controller.kube import Kube, Obj
from kubetune.controller.phases import TrialPhases
from kubetune.controller.settings import OperatorSettings
from kubetune.controller.workloads.kind import WorkloadKind
from kubetune.controller.workloads.multipod import MultiPodRoom, conditions_outcome

#: On the workload: {"succeeded": [...], "failed": [...]}, its Study's condition types.
CONDITIONS_ANNOTATION = "kubetune.io/conditions"
#: On the workload and its pods: "APIVERSION PLURAL", where it is served.
RESOURCE_ANNOTATION = "kubetune.io/resource"


def outcome(workload: Obj) -> tuple[TrialState, str | None]:
    annotations = workload["metadata"].get("annotations") or {}
    told = json.loads(annotations.get(CONDITIONS_ANNOTATION) or "{}")
    return conditions_outcome(
        workload,
        tuple(told.get("succeeded") or ("Succeeded",)),
        tuple(told.get("failed") or ("Failed",)),
        str(workload.get("kind") or "workload"),
    )


def resource(annotations: Mapping[str, str]) -> tuple[str, str]:
    api_version, _, plural = (annotations.get(RESOURCE_ANNOTATION) or "").partition(" ")
    return api_version, plural


def conditions_room(kube: Kube, phases: TrialPhases) -> MultiPodRoom:
    return MultiPodRoom(
        kube,
        phases,
        lambda obj: str(obj.get("kind") or "workload"),
        outcome,
        lambda labels: True,  # every pod of the first template reports: it is one pod
        resource,
    )


def build(
    study: Study, trial_obj: Mapping[str, Any], token: str, settings: OperatorSettings
) -> dict[str, Any]:
    name = trial_obj["metadata"]["name"]
    described = study.spec.trial_template.workload
    assert described is not None  # registry.kind_of
    api_version, plural = study.spec.trial_template.resource
    where = {RESOURCE_ANNOTATION: f"{api_version} {plural}"}
    template = manifests.substituted(study, trial_obj)
    for index, path in enumerate(described.pod_templates):
        pod_template = resolve(template, path)
        sidecar = manifests.sidecar_for(study, name, token, settings) if index == 0 else None
        manifests.decorate_pod(pod_template, study, name, 0, sidecar, settings)
        manifests.add_checkpoints(pod_template["spec"], study, trial_obj, settings)
        pod_template["metadata"]["annotations"].update(where)
    workload = manifests.workload_object(
        study, trial_obj, template, template["spec"], settings, suspend=False
    )
    told = {"succeeded": described.succeeded, "failed": described.failed}
    workload["metadata"]["annotations"].update({CONDITIONS_ANNOTATION: json.dumps(told), **where})
    return workload


KIND = WorkloadKind("conditions", build, conditions_room, lambda labels: True)

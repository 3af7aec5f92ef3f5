"""Every kind of workload a trial runs as, by name: a new kind is one module and one entry.

Kinds known by name (Job, JobSet, TrainJob) are watched when the operator enables them
(`--workloads`); any other kind is run by the conditions its Study describes
(`conditions`), watched at the resources the operator is told (RESOURCE.VERSION.GROUP).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubetune.api.study import Study
from kubetune.api.template import TrialTemplate
from kubetune.controller.kube import Kube
from kubetune.controller.phases import TrialPhases
from kubetune.controller.settings import OperatorSettings
from kubetune.controller.workloads import conditions, job, jobset, trainjob
from kubetune.controller.workloads.kind import Room, WorkloadKind

KINDS: dict[str, WorkloadKind] = {
    kind.name: kind for kind in (job.KIND, jobset.KIND, trainjob.KIND, conditions.KIND)
}


def kind_of(template: TrialTemplate) -> WorkloadKind:
    return conditions.KIND if template.workload is not None else KINDS[template.kind]


def build_workload(
    study: Study, trial_obj: Mapping[str, Any], token: str, settings: OperatorSettings
) -> dict[str, Any]:
    """The trial's workload, of the kind its Study's template names."""
    return kind_of(study.spec.trial_template).build(study, trial_obj, token, settings)


def build_rooms(kube: Kube, phases: TrialPhases) -> dict[str, Room]:
    """One room per kind, by the name its pods carry (manifests.WORKLOAD_LABEL)."""
    return {name: kind.room(kube, phases) for name, kind in KINDS.items()}


def parse_custom(resource: str) -> tuple[str, str, str]:
    """RESOURCE.VERSION.GROUP (pytorchjobs.v1.kubeflow.org) -> (group, version, plural)."""
    plural, _, rest = resource.partition(".")
    version, _, group = rest.partition(".")
    if not plural or not version or not group:
        raise ValueError(
            f"{resource!r}: a kind not known by name is RESOURCE.VERSION.GROUP, "
            "e.g. pytorchjobs.v1.kubeflow.org"
        )
    return group, version, plural


def watched(enabled: Iterable[str]) -> list[tuple[str, str, str, str]]:
    """(room, group, version, plural) of every enabled kind watched beside batch/v1 Jobs."""
    out = []
    for name in sorted(enabled):
        if name == "Job":
            continue
        kind = KINDS.get(name)
        if kind is not None and kind.watched is not None:
            out.append((name, *kind.watched))
        elif kind is None:
            out.append((conditions.KIND.name, *parse_custom(name)))
    return out

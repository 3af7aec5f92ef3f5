"""kopf handlers: a few lines each, handing the event to its room (`memo.operator`).

Run by `kubetune operator`, which builds the rooms from its flags and passes them in kopf's
memo. None of these handlers waits for a decision: the study loop's own threads make those.

Only watch-event handlers: kopf's create/update/resume handlers computed a diff of the whole
Study (a deep copy) on every status write, a fifth of the operator's CPU at scale, and wrote
annotations back; the study loop tells a new spec by its generation instead (`study_seen`).
Bodies are handed over as shallow copies: nothing here or in the rooms writes into them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from kubetune.api.study import GROUP, VERSION
from kubetune.controller import manifests
from kubetune.controller.operator import Operator
from kubetune.controller.workloads import registry
from kubetune.controller.workloads.jobset import JOBSET_NAME_LABEL


class _NoDiffBase(kopf.DiffBaseStorage):
    """kopf builds every object's "essence" (a deep copy of the whole body) on every event,
    for create/update handlers to diff; this operator has none, so there is nothing to keep.
    At 400 trials it was a sixth of the operator's CPU."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def _rooms(memo: Any) -> Operator:
    operator: Operator = memo.operator
    return operator


@kopf.on.startup()
def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Runs only where this process acts: after leader election, when there is one."""
    settings.persistence.diffbase_storage = _NoDiffBase()
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = 16
    # kopf waits this long after an object's event for more before handling it (0.1 s by
    # default), per hop; a trial's end crosses two hops (pod, then Trial) before the next Job.
    settings.batching.batch_window = 0.01
    # The first list of each watched kind in pages: one list of a 10,000-trial study's Trials
    # (38 MB of JSON) put a restarted operator past the chart's memory limit.
    settings.watching.chunk_size = 500
    _rooms(memo).act()


@kopf.on.event(GROUP, VERSION, "studies")
def study_event(
    event: Mapping[str, Any], body: Mapping[str, Any], memo: kopf.Memo, **_: Any
) -> None:
    rooms = _rooms(memo)
    deleted = event.get("type") == "DELETED"
    study = dict(body)
    rooms.ticker.track(study, deleted=deleted)
    if deleted:
        meta = study["metadata"]
        rooms.studies.study_deleted(meta["namespace"], meta["name"], meta.get("uid"))
    else:
        rooms.study_seen(study)


@kopf.on.event(GROUP, VERSION, "trials")
def trial_event(
    event: Mapping[str, Any], body: Mapping[str, Any], memo: kopf.Memo, **_: Any
) -> None:
    if event.get("type") == "DELETED":
        _rooms(memo).trial_deleted(dict(body))
    else:
        _rooms(memo).trial_seen(dict(body))


@kopf.on.event("batch", "v1", "jobs", labels={manifests.TRIAL_LABEL: kopf.PRESENT})
def job_event(event: Mapping[str, Any], body: Mapping[str, Any], memo: kopf.Memo, **_: Any) -> None:
    _workload_event("Job", event, body, memo)


def _workload_event(
    room: str, event: Mapping[str, Any], body: Mapping[str, Any], memo: kopf.Memo
) -> None:
    workloads = _rooms(memo).workloads[room]
    if event.get("type") == "DELETED":
        workloads.on_workload_deleted(dict(body))
    else:
        workloads.on_workload(dict(body))


def watch_workloads(enabled: frozenset[str]) -> None:
    """Registered only for the kinds enabled here (`--workloads`): the chart grants their
    RBAC only then, and kopf would otherwise watch them with none."""
    for room, group, version, plural in registry.watched(enabled):

        def workload_event(
            event: Mapping[str, Any],
            body: Mapping[str, Any],
            memo: kopf.Memo,
            _room: str = room,
            **_: Any,
        ) -> None:
            _workload_event(_room, event, body, memo)

        kopf.on.event(
            group,
            version,
            plural,
            id=f"workload-{plural}.{group}",
            labels={manifests.TRIAL_LABEL: kopf.PRESENT},
        )(workload_event)


@kopf.on.event("", "v1", "pods", labels={manifests.TRIAL_LABEL: kopf.PRESENT})
def pod_event(event: Mapping[str, Any], body: Mapping[str, Any], memo: kopf.Memo, **_: Any) -> None:
    pod = dict(body)
    labels = pod["metadata"].get("labels") or {}
    # Pods made before kubetune labelled the kind: a JobSet's carry JobSet's own labels.
    kind = labels.get(manifests.WORKLOAD_LABEL) or (
        "JobSet" if JOBSET_NAME_LABEL in labels else "Job"
    )
    room = _rooms(memo).workloads.get(kind)
    if room is None:
        return
    if event.get("type") == "DELETED":
        room.on_pod_deleted(pod)
    else:
        room.on_pod(pod)

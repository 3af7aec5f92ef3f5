"""kopf handlers: a few lines each, handing the event to its room (`memo.operator`).

Run by `kubetune operator`, which builds the rooms from its flags and passes them in kopf's
memo. None of these handlers waits for a decision: the study loop's own threads make those.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import kopf

from kubetune.api.study import GROUP, VERSION
from kubetune.controller import manifests
from kubetune.controller.operator import Operator


def _rooms(memo: Any) -> Operator:
    operator: Operator = memo.operator
    return operator


@kopf.on.startup()
def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Runs only where this process acts: after leader election, when there is one."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="kubetune.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="kubetune.io")
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = 16
    # kopf waits this long after an object's event for more before handling it (0.1 s by
    # default), per hop; a trial's end crosses two hops (pod, then Trial) before the next Job.
    settings.batching.batch_window = 0.01
    _rooms(memo).act()


@kopf.on.resume(GROUP, VERSION, "studies")
def study_resumed(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    """After a start: this pass also looks for Jobs deleted while no one was watching."""
    assert namespace is not None  # Study is namespaced
    _rooms(memo).studies.request(namespace, name, heal=True)


@kopf.on.create(GROUP, VERSION, "studies")
@kopf.on.update(GROUP, VERSION, "studies", field="spec")
def study_changed(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    assert namespace is not None  # Study is namespaced
    _rooms(memo).studies.request(namespace, name)


@kopf.on.event(GROUP, VERSION, "studies")
def study_event(
    event: Mapping[str, Any], body: Mapping[str, Any], memo: kopf.Memo, **_: Any
) -> None:
    rooms = _rooms(memo)
    deleted = event.get("type") == "DELETED"
    rooms.ticker.track(_plain(body), deleted=deleted)
    if deleted:
        rooms.studies.study_deleted(body["metadata"]["namespace"], body["metadata"]["name"])


@kopf.on.event(GROUP, VERSION, "trials")
def trial_event(
    event: Mapping[str, Any], body: Mapping[str, Any], memo: kopf.Memo, **_: Any
) -> None:
    if event.get("type") == "DELETED":
        _rooms(memo).trial_deleted(_plain(body))
    else:
        _rooms(memo).studies.trial_changed(_plain(body))


@kopf.on.event("batch", "v1", "jobs", labels={manifests.TRIAL_LABEL: kopf.PRESENT})
def job_event(event: Mapping[str, Any], body: Mapping[str, Any], memo: kopf.Memo, **_: Any) -> None:
    if event.get("type") == "DELETED":
        _rooms(memo).jobs.on_job_deleted(_plain(body))
    else:
        _rooms(memo).jobs.on_job(_plain(body))


@kopf.on.event("", "v1", "pods", labels={manifests.TRIAL_LABEL: kopf.PRESENT})
def pod_event(event: Mapping[str, Any], body: Mapping[str, Any], memo: kopf.Memo, **_: Any) -> None:
    if event.get("type") == "DELETED":
        _rooms(memo).jobs.on_pod_deleted(_plain(body))
    else:
        _rooms(memo).jobs.on_pod(_plain(body))


def _plain(body: Mapping[str, Any]) -> dict[str, Any]:
    def convert(node: Any) -> Any:
        if isinstance(node, Mapping):
            return {k: convert(v) for k, v in node.items()}
        if isinstance(node, list):
            return [convert(v) for v in node]
        return node

    result: dict[str, Any] = convert(body)
    return result

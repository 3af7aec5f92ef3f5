"""Trial objects into the engine's records and a Study's Trials into its History; a Trial's
status written through its model."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from kubetune.api.trial import MAX_REPORTS, TrialStatus
from kubetune.engine import History, Lineage, Report, StopDecision, TrialRecord, TrialState
from kubetune.records.times import parse_time


def trial_phase(trial: Mapping[str, Any]) -> TrialState:
    """A Trial object's phase; one with no status yet is Pending."""
    return TrialState((trial.get("status") or {}).get("phase", TrialState.PENDING))


def trial_record(obj: Mapping[str, Any]) -> TrialRecord:
    spec, status = obj["spec"], obj.get("status") or {}
    stop = status.get("stop")
    return TrialRecord(
        name=obj["metadata"]["name"],
        index=spec["index"],
        params=dict(spec["params"]),
        state=trial_phase(obj),
        reports=tuple(Report(r.get("step"), r["metrics"]) for r in status.get("reports", [])),
        objective=status.get("objective"),
        reason=status.get("reason"),
        stop=StopDecision(**stop) if stop else None,
        budget=spec.get("budget"),
        values=dict(status.get("values") or {}),
        lineage=_lineage(spec.get("lineage")),
    )


def _lineage(given: Mapping[str, Any] | None) -> Lineage | None:
    if not given:
        return None
    return Lineage(
        int(given["member"]),
        given.get("parent"),
        int(given["generation"]),
        dict(given.get("changes") or {}),
    )


def lineage_status(trial: Mapping[str, Any]) -> dict[str, Any]:
    """A pbt Trial's lineage as its status shows it (`parent`, `member`, `generation`,
    `changes`, as in the local results file's `created` event); empty for the rest."""
    given = trial["spec"].get("lineage")
    if not given:
        return {}
    return {
        "parent": given.get("parent"),
        "member": given["member"],
        "generation": given["generation"],
        "changes": dict(given.get("changes") or {}),
    }


def owned_by(obj: Mapping[str, Any], owner_uid: str) -> bool:
    return any(ref.get("uid") == owner_uid for ref in obj["metadata"].get("ownerReferences") or [])


def history_from_trials(
    study: Mapping[str, Any], trials: Iterable[Mapping[str, Any]], now: float
) -> History:
    """The engine's view of a Study, from its Trials and its status. Trials of an earlier
    Study of the same name (still being garbage-collected) are not its own and are left out;
    the stored next index keeps a deleted trial's name from coming back."""
    meta, previous = study["metadata"], study.get("status") or {}
    own = (t for t in trials if owned_by(t, meta["uid"]))
    records = sorted((trial_record(t) for t in own), key=lambda r: r.index)
    return History(
        study=meta["name"],
        trials=tuple(records),
        started_at=parse_time(previous.get("startTime")) or now,
        next_index=previous.get("nextTrialIndex"),
    )


def merge_reports(
    existing: list[dict[str, Any]], new: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Append, keeping at most MAX_REPORTS: the latest half kept whole, older ones thinned
    evenly, so a long run still shows its whole curve within etcd's object size limit."""
    merged = existing + new
    if len(merged) <= MAX_REPORTS:
        return merged
    keep = MAX_REPORTS // 2
    recent, older = merged[-keep:], merged[:-keep]
    room = MAX_REPORTS - keep
    return older[:: math.ceil(len(older) / room)][:room] + recent


def trial_status_patch(update: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch of a Trial's status, checked against `TrialStatus` (the model its CRD
    schema comes from): an unknown or mistyped field raises here. Only the fields given are
    written; one given as None is cleared."""
    model = TrialStatus.model_validate(dict(update), strict=False)
    written: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return written

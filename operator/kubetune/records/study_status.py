"""The Study's status after a decision, built as the `StudyStatus` model the CRD's status
schema is rendered from."""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Any

from kubetune.api.study import (
    EARLY_STOPS_SHOWN,
    AlgorithmInUse,
    BestTrial,
    Condition,
    FrontTrial,
    StopRecord,
    StudyPhase,
    StudyStatus,
    TrialCounts,
)
from kubetune.engine import Decision, History, TrialRecord, TrialState
from kubetune.engine.samplers.auto import Choice
from kubetune.records.times import now_iso


class _Stops:
    """The early-stopped trials' stop records in index order, folded once per finished trial
    (the ledger's memo) instead of read from every trial at every pass."""

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.stops: list[StopRecord] = []

    def add(self, record: TrialRecord) -> None:
        if record.stop is None:
            return
        at = bisect.bisect(self.keys, record.index)
        self.keys.insert(at, record.index)
        self.stops.insert(at, StopRecord(**vars(record.stop)))


def _stops(history: History) -> list[StopRecord]:
    """The highest-numbered `EARLY_STOPS_SHOWN` stops (the Trials keep every one)."""
    if history.tally is not None:
        kept = history.tally.folded("study_status.stops", _Stops)
        if kept is not None:
            return kept.stops[-EARLY_STOPS_SHOWN:]
    counted = _Stops()
    for trial in history.trials:
        counted.add(trial)
    return counted.stops[-EARLY_STOPS_SHOWN:]


def _condition(
    kind: str, reason: str, message: str, now: str, previous: list[dict[str, Any]]
) -> Condition:
    same = next((c for c in previous if c.get("type") == kind and c.get("reason") == reason), None)
    return Condition(
        type=kind,
        status="True",
        reason=reason,
        message=message,
        last_transition_time=same["lastTransitionTime"] if same else now,
    )


def build_study_status(
    previous: Mapping[str, Any],
    history: History,
    decision: Decision,
    max_trials: int,
    generation: int | None,
    now: float,
    metric: str,
    algorithm: Choice | None = None,
) -> dict[str, Any]:
    """The Study's whole status after a decision, as a merge patch of `StudyStatus` (fields
    it does not own, such as `warmStart`, are left out and so kept). `nextTrialIndex` is one
    past every trial ever created, including the decision's new ones: names are never
    reused. `metric`: the metric the best trial's `objective` is (the first objective's, when
    there are several), kept beside it for `kubectl get`'s METRIC column. `algorithm`: the
    sampler in use and why (what `auto` picked)."""
    counts = {state: history.count(state) for state in TrialState}
    done = sum(counts[s] for s in TrialState if not s.active)
    stamp = now_iso(now)
    finish = decision.finish if not history.active and not decision.kill else None
    old_conditions = list(previous.get("conditions") or [])
    if finish is not None:
        phase: StudyPhase = "Succeeded" if finish.succeeded else "Failed"
        condition = _condition(phase, finish.reason, finish.message, stamp, old_conditions)
    else:
        phase = "Running" if history.trials or decision.create else "Created"
        condition = _condition(
            "Running", "TrialsRunning", f"{done} of {max_trials} trials done", stamp, old_conditions
        )
    best = decision.best
    fields: dict[str, Any] = {}
    if algorithm is not None:
        fields["algorithm"] = AlgorithmInUse(name=algorithm.name, reason=algorithm.reason)
    if decision.front:
        fields["pareto_front"] = [
            FrontTrial(name=m.trial, params=dict(m.params), objectives=dict(m.objectives))
            for m in decision.front
        ]
        fields["pareto_front_size"] = len(decision.front)
    status = StudyStatus(
        phase=phase,
        conditions=[condition],
        trials=TrialCounts(
            total=len(history.trials),
            pending=counts[TrialState.PENDING],
            queued=counts[TrialState.QUEUED],
            running=counts[TrialState.RUNNING],
            succeeded=counts[TrialState.SUCCEEDED],
            failed=counts[TrialState.FAILED],
            early_stopped=counts[TrialState.EARLY_STOPPED],
            killed=counts[TrialState.KILLED],
        ),
        best_trial=None
        if best is None
        else BestTrial(
            name=best.trial, params=dict(best.params), objective=best.objective, metric=metric
        ),
        next_suggestions=[dict(p) for p in decision.next_suggestions]
        or list(previous.get("nextSuggestions", [])),
        early_stopped=_stops(history),
        progress=f"{done}/{max_trials}",
        finished_because=finish.reason if finish is not None else None,
        observed_generation=generation,
        next_trial_index=max([history.next_trial_index, *(n.index + 1 for n in decision.create)]),
        start_time=previous.get("startTime") or stamp,
        completion_time=(previous.get("completionTime") or stamp) if finish is not None else None,
        **fields,
    )
    written: dict[str, Any] = status.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return written


def study_status_patch(update: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch of a Study's status, checked against `StudyStatus` (the model its CRD
    schema comes from): an unknown or mistyped field raises here. Only the fields given are
    written; one given as None is cleared."""
    model = StudyStatus.model_validate(dict(update), strict=False)
    written: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return written

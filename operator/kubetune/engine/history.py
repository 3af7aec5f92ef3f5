"""Frozen records of a study's trials and their reports: everything the engine may look at.

A shell hands the engine a `History` of what it stored (Trial objects on the cluster, the
results file locally) at every decision; the engine keeps nothing between calls. A shell that
keeps a `TrialLedger` (engine/ledger.py) hands it over with a `Tally`, which spares the engine
recounting every trial at every decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kubetune.api.parameters import ParamValue
from kubetune.api.trial import TrialState
from kubetune.engine.decision import Lineage, StopDecision

if TYPE_CHECKING:
    from kubetune.engine.ledger import Tally

__all__ = ["History", "Report", "TrialRecord", "TrialState", "final_objective"]


@dataclass(frozen=True)
class Report:
    step: int | None
    metrics: Mapping[str, float]


@dataclass(frozen=True)
class TrialRecord:
    name: str
    index: int
    params: Mapping[str, ParamValue]
    state: TrialState = TrialState.PENDING
    reports: tuple[Report, ...] = ()
    objective: float | None = None
    reason: str | None = None
    stop: StopDecision | None = None
    budget: float | None = None
    #: Final value of each objective and constraint metric, as the shell recorded it when
    #: the trial ended (empty: read from `reports`).
    values: Mapping[str, float] = field(default_factory=dict)
    #: A population-based trial's place in its line (`engine.pbt`); None for the rest.
    lineage: Lineage | None = None

    @property
    def learned_value(self) -> float | None:
        """What a model-based sampler learns from this trial: a succeeded trial's objective,
        an early-stopped one's value at its stop (what got it stopped); None for the rest
        (a crash says nothing about the objective)."""
        if self.state == TrialState.SUCCEEDED:
            return self.objective
        if self.state == TrialState.EARLY_STOPPED and self.stop is not None:
            return self.stop.value
        return None

    def series(self, metric: str) -> list[tuple[int, float]]:
        """(step, value) of each report carrying `metric`; a report without a step counts as
        the next position (1, 2, ...), so trials that never pass `step` can still be compared."""
        points: list[tuple[int, float]] = []
        for report in self.reports:
            if metric in report.metrics:
                step = report.step if report.step is not None else len(points) + 1
                points.append((step, report.metrics[metric]))
        return points


@dataclass(frozen=True)
class History:
    study: str
    trials: tuple[TrialRecord, ...] = ()
    started_at: float | None = None
    #: The index the next new trial takes, as the shell stored it. Names are STUDY-INDEX and
    #: must never come back, even after a trial is deleted (a reused name would overwrite a
    #: finished trial), so a shell that can lose trials keeps this counter (the operator in
    #: the Study's status). None: one past the highest index in `trials`.
    next_index: int | None = None
    #: Finished trials of earlier studies (`spec.warmStart.studies`), already fitted to this
    #: study's parameters by the shell: what a model learns from before this study's own.
    #: Never this study's trials: they are not its best, its front, nor its budget.
    prior: tuple[TrialRecord, ...] = ()
    #: Counts kept by the ledger this history came from, or None: counted when asked.
    tally: Tally | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        tally = self.tally
        if tally is not None and (
            tally.size != len(self.trials)
            or (self.trials and tally.highest_index != self.trials[-1].index)
        ):
            # `dataclasses.replace(history, trials=...)` kept a tally of other trials.
            object.__setattr__(self, "tally", None)

    @property
    def evidence(self) -> tuple[TrialRecord, ...]:
        """Every trial a model may learn from: the earlier studies', then this study's."""
        return self.prior + self.trials

    def by_state(self, *states: TrialState) -> list[TrialRecord]:
        if self.tally is not None and all(s.active for s in states):
            return [t for t in self.tally.active if t.state in states]
        return [t for t in self.trials if t.state in states]

    def count(self, *states: TrialState) -> int:
        if self.tally is not None:
            return self.tally.count(*states)
        return sum(1 for t in self.trials if t.state in states)

    @property
    def active(self) -> list[TrialRecord]:
        """Trials still holding a slot, in index order."""
        if self.tally is not None:
            return list(self.tally.active)
        return [t for t in self.trials if t.state.active]

    @property
    def next_trial_index(self) -> int:
        """Where new trials are numbered from; also what seeds the next draw."""
        if self.tally is not None:
            after_highest = self.tally.highest_index + 1
        else:
            after_highest = max((t.index for t in self.trials), default=-1) + 1
        return after_highest if self.next_index is None else max(self.next_index, after_highest)


def final_objective(reports: Sequence[Report], metric: str) -> float | None:
    """A finished trial's objective: the last value it reported (the model it ended with)."""
    for report in reversed(reports):
        if metric in report.metrics:
            return report.metrics[metric]
    return None

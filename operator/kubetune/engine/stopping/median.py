"""`median`: stop a trial whose best value by step s is worse than the median of the others'.

The others are every trial (finished, stopped or running) that has reached step s; their
value is their best by step s too, so the comparison is like for like. Judged at the trial's
latest step only, so a verdict never depends on when the engine happened to be called.

Several objectives: the median is taken per objective, and a trial stops only when that
median point dominates it (worse than or equal to the median on every objective, worse on
one): a trial that is good at anything goes on. Constraints are left to the final verdict
(a median of a constraint metric says nothing about its bound).
"""

from __future__ import annotations

from kubetune.api.settings import MedianSettings
from kubetune.api.study import StudySpec
from kubetune.engine.decision import StopDecision
from kubetune.engine.history import History, TrialRecord, TrialState
from kubetune.engine.stopping.base import Direction, directions
from kubetune.engine.stopping.book import (
    Column,
    active_trials,
    book_key,
    curves,
    keys_by,
    kth,
    step_book,
    value_of,
)


class MedianRule:
    def __init__(
        self,
        direction: Direction,
        settings: MedianSettings,
        others: list[Direction] | None = None,
    ) -> None:
        self.direction = direction
        self.settings = settings
        self.all_directions = others or [direction]

    def decide(self, history: History) -> list[StopDecision]:
        """The finished trials' values at a step come from the book (read once per trial);
        the active ones' are read here, at every decision: there are few."""
        directions = self.all_directions
        book = step_book(history, book_key(directions), directions)
        active = {t.name: (t, curves(t, directions)) for t in active_trials(history)}
        stops: list[StopDecision] = []
        for trial in history.by_state(TrialState.RUNNING):
            step = self._judged_step(trial)
            if step is None:
                continue
            own = keys_by(active[trial.name][1], step)
            if own is None:
                continue
            added = [
                keys
                for name, (_, found) in active.items()
                if name != trial.name and (keys := keys_by(found, step)) is not None
            ]
            columns = book.columns(step)
            count = len(columns[0]) + len(added)
            if count < self.settings.min_trials:
                continue
            medians = [
                _median(column, [keys[i] for keys in added], count, d)
                for i, (column, d) in enumerate(zip(columns, directions, strict=True))
            ]
            values = [value_of(key, d) for key, d in zip(own, directions, strict=True)]
            stop = (
                self._single(trial, step, values[0], medians[0], count)
                if len(directions) == 1
                else self._pareto(trial, step, values, medians, count)
            )
            if stop is not None:
                stops.append(stop)
        return stops

    def _judged_step(self, trial: TrialRecord) -> int | None:
        """The trial's latest step, once it is past `startStep`; None before."""
        series = trial.series(self.direction.metric)
        if not series or series[-1][0] < self.settings.start_step:
            return None
        return series[-1][0]

    def _single(
        self, trial: TrialRecord, step: int, value: float, median: float, others: int
    ) -> StopDecision | None:
        if not self.direction.worse(value, median):
            return None
        return StopDecision(
            trial=trial.name,
            step=step,
            value=value,
            rule="median",
            threshold=median,
            reason=f"best {self.direction.metric} {value:.6g} by step {step} is "
            f"worse than the median {median:.6g} of {others} other trials",
        )

    def _pareto(
        self,
        trial: TrialRecord,
        step: int,
        own: list[float],
        medians: list[float],
        others: int,
    ) -> StopDecision | None:
        """Stopped only when the median point dominates it: a trial good at anything goes on."""
        pairs = list(zip(self.all_directions, own, medians, strict=True))
        worse = [d.worse(v, m) for d, v, m in pairs]
        equal_or_worse = all(v == m or d.worse(v, m) for d, v, m in pairs)
        if not (equal_or_worse and any(worse)):
            return None
        said = ", ".join(f"{d.metric} {v:.6g} (median {m:.6g})" for d, v, m in pairs)
        return StopDecision(
            trial=trial.name,
            step=step,
            value=float(own[0]),
            rule="median",
            threshold=medians[0],
            reason=f"by step {step} the median of {others} other trials dominates it: {said}",
        )


def _median(column: Column, added: list[float], count: int, direction: Direction) -> float:
    """`statistics.median` of the column's keys and `added`, as a value of the metric."""
    if count % 2:
        return value_of(kth(column, (), added, count // 2 + 1), direction)
    low = value_of(kth(column, (), added, count // 2), direction)
    high = value_of(kth(column, (), added, count // 2 + 1), direction)
    # In the metric's own order, as statistics.median adds them: the same float either way.
    return (high + low) / 2 if direction.maximize else (low + high) / 2


def build(spec: StudySpec) -> MedianRule:
    settings = spec.early_stopping.settings_as(MedianSettings)
    every = directions(spec)
    return MedianRule(every[0], settings, every)

"""The stopping rules' bookkeeping, kept from one decision to the next.

Every rule compares a running trial's best value by some step with the other trials' best by
the same step. Counted afresh, that rereads every trial's reports at every decision: at 10,000
trials most of a decision, for an answer that only changes by the trials finished since the
last one. A `StepBook` is a fold over the finished trials (the ledger's memo keeps it between
decisions, `Tally.folded`): each finished trial's best-by-step, read once, and for each step a
rule has asked about, the finished trials' values there, sorted, kept up to date as trials
finish. A rule then asks it for the k-th best, or how many are better than a value, in
O(log n), and adds the few active trials itself. The answers are exactly the ones a full
count gives.

Values are kept as keys: the value when the goal is to minimise, its negation when it is to
maximise, so that smaller is better in every column.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from kubetune.api.trial import TrialState
from kubetune.engine.history import History, TrialRecord
from kubetune.engine.stopping.base import Direction

#: Steps (or rungs) whose sorted values a book keeps at most (the least recently asked
#: dropped, and rebuilt from the finished trials if asked again).
KEPT_STEPS = 256


@dataclass(frozen=True)
class Curve:
    """One trial's best-so-far of one metric, by step, as keys (smaller is better)."""

    steps: tuple[int, ...]  # sorted
    best: tuple[float, ...]  # best key among the points at or before steps[i]
    first: float  # the first point's key: a rung jumped past is judged by it
    last_step: int  # the highest step reported

    @classmethod
    def of(cls, trial: TrialRecord, direction: Direction) -> Curve | None:
        series = trial.series(direction.metric)
        if not series:
            return None
        sign = -1.0 if direction.maximize else 1.0
        ordered = sorted(series, key=lambda point: point[0])
        best: list[float] = []
        for _, value in ordered:
            key = sign * value
            best.append(key if not best or key < best[-1] else best[-1])
        return cls(
            steps=tuple(s for s, _ in ordered),
            best=tuple(best),
            first=sign * series[0][1],
            last_step=max(s for s, _ in series),
        )

    def key_by(self, step: int) -> float | None:
        """`Direction.best_by` as a key: None when the trial has not reached `step`."""
        if self.last_step < step:
            return None
        at = bisect.bisect_right(self.steps, step)
        return self.best[at - 1] if at else self.first


def curves(trial: TrialRecord, directions: Sequence[Direction]) -> tuple[Curve | None, ...]:
    return tuple(Curve.of(trial, d) for d in directions)


def keys_by(found: tuple[Curve | None, ...], step: int) -> tuple[float, ...] | None:
    """The trial's key in every column by `step`, or None when one has not reached it."""
    keys = []
    for curve in found:
        key = curve.key_by(step) if curve is not None else None
        if key is None:
            return None
        keys.append(key)
    return tuple(keys)


class Column:
    """The finished trials' keys at one step: sorted, and by trial index."""

    def __init__(self) -> None:
        self.sorted: list[float] = []
        self.by_index: list[tuple[int, float]] = []

    def add(self, index: int, key: float) -> None:
        bisect.insort(self.sorted, key)
        bisect.insort(self.by_index, (index, key))

    def __len__(self) -> int:
        return len(self.sorted)

    def from_index(self, index: int) -> list[float]:
        """The keys of the trials numbered `index` or more (few: those newer than a trial)."""
        at = bisect.bisect_left(self.by_index, (index, float("-inf")))
        return [key for _, key in self.by_index[at:]]


def kth(column: Column, removed: Sequence[float], added: Sequence[float], k: int) -> float:
    """The k-th smallest (1-based) key of the column, less `removed` (keys it holds), plus
    `added`: a binary search over the column, then the few added keys, so O(log n) for a
    column of n keys and a handful of removed and added ones."""

    def at_most(key: float) -> int:
        return (
            bisect.bisect_right(column.sorted, key)
            - sum(1 for r in removed if r <= key)
            + sum(1 for a in added if a <= key)
        )

    low, high = 0, len(column.sorted)
    while low < high:  # the first position whose key has k members at or below it
        middle = (low + high) // 2
        if at_most(column.sorted[middle]) >= k:
            high = middle
        else:
            low = middle + 1
    candidates = [a for a in added if at_most(a) >= k]
    if low < len(column.sorted):
        candidates.append(column.sorted[low])
    return min(candidates)


class StepBook:
    """A fold over finished trials (`ledger.Fold`): their curves, and the sorted keys at each
    step asked about, for one set of directions and one group of trials."""

    def __init__(self, directions: Sequence[Direction]) -> None:
        self.directions = tuple(directions)
        #: (index, curves) of every finished trial with a report, in the order they finished.
        self.finished: list[tuple[int, tuple[Curve | None, ...]]] = []
        self._columns: OrderedDict[tuple[int, Group | None], list[Column]] = OrderedDict()

    def add(self, record: TrialRecord) -> None:
        found = curves(record, self.directions)
        if all(c is None for c in found):
            return
        self.finished.append((record.index, found))
        for (step, group), columns in self._columns.items():
            self._place(columns, step, group, record.index, found)

    def columns(self, step: int, group: Group | None = None) -> list[Column]:
        """One column per direction: the keys by `step` of the finished trials (of `group`)
        that reached it in every direction."""
        key = (step, group)
        kept = self._columns.get(key)
        if kept is not None:
            self._columns.move_to_end(key)
            return kept
        columns = [Column() for _ in self.directions]
        for index, found in self.finished:
            self._place(columns, step, group, index, found)
        self._columns[key] = columns
        if len(self._columns) > KEPT_STEPS:
            self._columns.popitem(last=False)
        return columns

    @staticmethod
    def _place(
        columns: list[Column],
        step: int,
        group: Group | None,
        index: int,
        found: tuple[Curve | None, ...],
    ) -> None:
        if group is not None and not group.holds(index):
            return
        keys = keys_by(found, step)
        if keys is None:
            return
        for column, key in zip(columns, keys, strict=True):
            column.add(index, key)


@dataclass(frozen=True)
class Group:
    """Trials dealt to one bracket by index (hyperband): `pattern[index % len] == bracket`."""

    pattern: tuple[int, ...]
    bracket: int

    def holds(self, index: int) -> bool:
        return self.pattern[index % len(self.pattern)] == self.bracket


def step_book(history: History, key: Hashable, directions: Sequence[Direction]) -> StepBook:
    """The book of the history's finished trials: kept by the ledger's memo when the history
    has one, else counted."""
    if history.tally is not None:
        kept = history.tally.folded(key, lambda: StepBook(directions))
        if kept is not None:
            return kept
    counted = StepBook(directions)
    for trial in history.trials:
        if not trial.state.active:
            counted.add(trial)
    return counted


def active_trials(history: History) -> list[TrialRecord]:
    """The trials a book does not hold: those still active (running, and pending or queued
    ones, which may hold an earlier attempt's reports)."""
    return history.by_state(*(s for s in TrialState if s.active))


def book_key(directions: Sequence[Direction]) -> Hashable:
    """What a book depends on: its directions (every rule with the same ones shares it)."""
    return ("stopping.book", tuple((d.metric, d.maximize) for d in directions))


def value_of(key: float, direction: Direction) -> float:
    """A key back as a value of the direction's metric."""
    return -key if direction.maximize else key

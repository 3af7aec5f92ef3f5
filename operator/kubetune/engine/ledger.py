"""`TrialLedger`: a shell's running copy of one study's trials, so a decision at trial 10,000
costs what it costs at trial 10.

The engine stays pure: `decide(spec, history, now)` still gets a frozen `History`. What a shell
gains by keeping a ledger instead of rebuilding the history for every decision is the
`Tally` the ledger hands out with it: the active trials, the count in each state and the
highest index, kept up to date as each trial changes, and a memo in which the engine folds
the finished trials one at a time (the best, the front, a grid's used points) instead of
rereading all of them at every decision. A `History` built without a ledger works as before:
everything is counted from `trials` when asked.

Finished trials are logged in the order they finish. A fold remembers how far into that log
it has read; a change the log cannot express as an append (a finished trial changed or
removed, a trial inserted before the end) starts a new generation, and every fold starts
over from the trials as they are then. Those changes are rare (a shell repairing a record),
so they may cost a full pass.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from kubetune.api.trial import TrialState
from kubetune.engine.history import History, TrialRecord

__all__ = ["Fold", "Tally", "TrialLedger"]


class Fold(Protocol):
    """Something the engine builds up from finished trials, one at a time."""

    def add(self, record: TrialRecord) -> None: ...


F = TypeVar("F", bound=Fold)


@dataclass
class _Memo:
    """The ledger's folds, each with how many logged trials it has read."""

    generation: int = 0
    #: Finished trials in the order they finished (this generation).
    finished: list[TrialRecord] = field(default_factory=list)
    #: Every trial in the order it first appeared (this generation).
    created: list[TrialRecord] = field(default_factory=list)
    folds: dict[Hashable, tuple[Fold, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class Tally:
    """A ledger's counts at the moment a `History` was taken from it."""

    active: tuple[TrialRecord, ...]
    counts: Mapping[TrialState, int]
    highest_index: int
    size: int
    memo: _Memo
    generation: int
    finished: int
    created: int

    def count(self, *states: TrialState) -> int:
        return sum(self.counts.get(s, 0) for s in states)

    def folded(self, key: Hashable, start: Callable[[], F], log: str = "finished") -> F | None:
        """The fold kept under `key`, brought up to this moment: `start()` makes an empty one,
        which then reads the `finished` (or `created`) trials. None when the ledger has moved
        on to a new generation since: the caller counts from the history's trials instead."""
        memo = self.memo
        if memo.generation != self.generation:
            return None
        upto = self.finished if log == "finished" else self.created
        records = memo.finished if log == "finished" else memo.created
        kept = memo.folds.get(key)
        fold, read = kept if kept is not None else (start(), 0)
        if read > upto:  # a later snapshot read past this one: start over
            fold, read = start(), 0
        for record in records[read:upto]:
            fold.add(record)
        memo.folds[key] = (fold, upto)
        return fold  # type: ignore[return-value]

    def with_pending(self, records: Iterable[TrialRecord]) -> Tally:
        """The tally of a history that also holds `records` (new pending trials numbered past
        every trial): what a sampler sees while a decision's first picks are not yet made.
        The folds do not read them; a fold over every trial adds `active` itself."""
        added = tuple(records)
        if not added:
            return self
        counts = Counter(self.counts)
        counts[TrialState.PENDING] += len(added)
        return Tally(
            active=self.active + added,
            counts=counts,
            highest_index=max(self.highest_index, *(r.index for r in added)),
            size=self.size + len(added),
            # The folds read the ledger's own trials only; the new ones are all in `active`.
            memo=self.memo,
            generation=self.generation,
            finished=self.finished,
            created=self.created,
        )


class TrialLedger:
    """One study's trials by name, kept in index order, with their tally kept as they change."""

    def __init__(self, records: Iterable[TrialRecord] = ()) -> None:
        self._ordered: list[TrialRecord] = []
        self._position: dict[str, int] = {}
        self._active: dict[str, TrialRecord] = {}
        self._counts: Counter[TrialState] = Counter()
        self._memo = _Memo()
        self._snapshot: tuple[TrialRecord, ...] | None = ()
        for record in records:
            self.put(record)

    def __len__(self) -> int:
        return len(self._ordered)

    def __contains__(self, name: object) -> bool:
        return name in self._position

    def get(self, name: str) -> TrialRecord | None:
        at = self._position.get(name)
        return None if at is None else self._ordered[at]

    @property
    def records(self) -> tuple[TrialRecord, ...]:
        """Every trial, in index order (the same tuple until something changes)."""
        if self._snapshot is None:
            self._snapshot = tuple(self._ordered)
        return self._snapshot

    def put(self, record: TrialRecord) -> None:
        """Add a trial, or replace the one of that name; a record equal to the one kept is
        ignored, so a shell may put what it observes without checking first."""
        at = self._position.get(record.name)
        old = None if at is None else self._ordered[at]
        if old is not None and (old is record or old == record):
            return
        self._snapshot = None
        if old is not None and at is not None:
            if old.index != record.index:
                self.discard(record.name)
                self.put(record)
                return
            self._ordered[at] = record
            self._counts[old.state] -= 1
            self._active.pop(record.name, None)
            if old.state.finished:  # a finished trial changed: the folds read it already
                self._new_generation()
        else:
            self._insert(record)
            self._memo.created.append(record)
        self._counts[record.state] += 1
        if record.state.active:
            self._active[record.name] = record
        elif old is None or old.state.active:
            self._memo.finished.append(record)

    def discard(self, name: str) -> None:
        at = self._position.pop(name, None)
        if at is None:
            return
        old = self._ordered.pop(at)
        self._counts[old.state] -= 1
        self._active.pop(name, None)
        self._reindex(at)
        self._snapshot = None
        self._new_generation()

    def history(
        self,
        study: str,
        started_at: float | None = None,
        next_index: int | None = None,
        prior: tuple[TrialRecord, ...] = (),
    ) -> History:
        trials = self.records
        memo = self._memo
        tally = Tally(
            active=tuple(sorted(self._active.values(), key=lambda r: r.index)),
            counts=dict(self._counts),
            highest_index=trials[-1].index if trials else -1,
            size=len(trials),
            memo=memo,
            generation=memo.generation,
            finished=len(memo.finished),
            created=len(memo.created),
        )
        return History(study, trials, started_at, next_index, prior, tally=tally)

    def _insert(self, record: TrialRecord) -> None:
        ordered = self._ordered
        if not ordered or ordered[-1].index <= record.index:
            self._position[record.name] = len(ordered)
            ordered.append(record)
            return
        at = bisect.bisect_right([r.index for r in ordered], record.index)
        ordered.insert(at, record)
        self._reindex(at)
        # The created log stays an append; only the order of `trials` moved.

    def _reindex(self, start: int) -> None:
        for at in range(start, len(self._ordered)):
            self._position[self._ordered[at].name] = at

    def _new_generation(self) -> None:
        """Start every fold over: the logs are rebuilt from the trials as they are now."""
        ordered = self._ordered
        self._memo = _Memo(
            generation=self._memo.generation + 1,
            finished=[r for r in ordered if r.state.finished],
            created=list(ordered),
        )

"""What a model-based sampler learns from: the finished trials with values, encoded once.

`tpe` and `bayesian` read every learned trial at every ask: its values under the goals, its
point in the unit box, its loss and how far outside the constraints it is. Reading them from
the records costs Python work per trial per ask (most of `tpe`'s ask at 10,000 trials); with a
ledger's tally the work is kept between asks (`_Fold`) and only new finished trials are read.
The rows always come in the same order, earlier studies' trials first and then this study's
by index, so the same trials give the same picks whichever order they finished in.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass

import numpy as np

from kubetune.engine.encoding import Key, Space
from kubetune.engine.history import History, TrialRecord
from kubetune.engine.objectives import Goals

Values = dict[str, float]


@dataclass(frozen=True)
class Observations:
    units: np.ndarray  # rows x dims, `Space.encode`
    values: list[Values]
    losses: np.ndarray  # rows x objectives, to minimise
    outside: np.ndarray  # rows: `Goals.violation_total`, 0 when feasible
    keys: list[Key]  # each row's point as `Space.key` sees it after decode(encode(params))

    def __len__(self) -> int:
        return len(self.values)


class _Fold:
    def __init__(self, space: Space, goals: Goals) -> None:
        self.space = space
        self.goals = goals
        self.indices: list[int] = []
        self.units: list[list[float]] = []
        self.values: list[Values] = []
        self.losses: list[np.ndarray] = []
        self.outside: list[float] = []
        self.keys: list[Key] = []

    def add(self, record: TrialRecord) -> None:
        values = self.goals.values(record)
        if values is None:
            return
        units = self.space.encode(record.params)
        self.indices.append(record.index)
        self.units.append(units)
        self.values.append(values)
        self.losses.append(self.goals.losses(values))
        self.outside.append(self.goals.violation_total(values))
        self.keys.append(self.space.key(self.space.decode(units)))

    def read(self, first: _Fold | None = None) -> Observations:
        """The rows, by index (after `first`'s, the earlier studies')."""
        order = np.argsort(np.asarray(self.indices, dtype=np.int64), kind="stable")
        if len(order) and np.any(np.diff(order) != 1):
            picked = [int(i) for i in order]
        else:
            picked = list(range(len(self.values)))
        folds = [(first, range(len(first.values))), (self, picked)] if first else [(self, picked)]
        units = [f.units[i] for f, rows in folds for i in rows]
        losses = [f.losses[i] for f, rows in folds for i in rows]
        size, width = self.space.size, len(self.goals.metrics)
        return Observations(
            units=np.array(units, dtype=float).reshape(-1, size),
            values=[f.values[i] for f, rows in folds for i in rows],
            losses=np.array(losses, dtype=float).reshape(-1, width),
            outside=np.array([f.outside[i] for f, rows in folds for i in rows], dtype=float),
            keys=[f.keys[i] for f, rows in folds for i in rows],
        )


def _folded(space: Space, goals: Goals, records: Iterable[TrialRecord]) -> _Fold:
    fold = _Fold(space, goals)
    for record in records:
        fold.add(record)
    return fold


def observations(history: History, space: Space, goals: Goals, key: Hashable) -> Observations:
    """Every trial a model learns from (`History.evidence`) with values: the earlier studies'
    first, then this study's by index. `key` names what the rows depend on (the space and the
    goals), under which a ledger keeps them."""
    prior = _folded(space, goals, history.prior) if history.prior else None
    kept = None
    if history.tally is not None:
        kept = history.tally.folded(key, lambda: _Fold(space, goals))
    if kept is None:
        kept = _folded(space, goals, history.trials)
    return kept.read(prior)


def observations_key(kind: str, space: Space, goals: Goals) -> Hashable:
    """What `observations` depend on: the parameters, the objectives and the constraints."""
    return (
        kind,
        tuple(d.param.model_dump_json() for d in space.dims),
        goals.metrics,
        tuple(goals.signs),
        tuple((c.metric, c.min, c.max) for c in goals.constraints),
    )

"""`grid`: the exact cartesian product, in declared order, each point once.

Stateless: the next points are the first ones no trial (in any state) has used yet, so a
restart neither repeats nor skips a point. Fewer points than asked means the grid is exhausted.
With a ledger's tally, the walk through the grid is kept between decisions (`_Walk`), so a
decision reads only the points past the last one used instead of the grid from its start.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator

import numpy as np

from kubetune.api.study import StudySpec
from kubetune.engine.encoding import Key, Params, Space, grid_points
from kubetune.engine.history import History, TrialRecord


class _Walk:
    """The grid read in order, with the points every trial so far has used taken out."""

    def __init__(self, space: Space, points: int | None) -> None:
        self.space = space
        self.used: set[Key] = set()
        self._grid: Iterator[Params] = space.grid(points)
        #: Points read from the grid that no trial had used when they were read.
        self._ahead: list[Params] = []

    def add(self, record: TrialRecord) -> None:
        self.used.add(self.space.key(record.params))

    def next_points(self, count: int, also_used: set[Key]) -> list[Params]:
        chosen: list[Params] = []
        kept: list[Params] = []
        ahead = iter(self._ahead)
        while len(chosen) < count:
            params = next(ahead, None)
            if params is None:
                params = next(self._grid, None)
                if params is None:
                    break
            key = self.space.key(params)
            if key in self.used:
                continue  # used for good: never read again
            kept.append(params)
            if key not in also_used:
                chosen.append(params)
        kept.extend(ahead)
        self._ahead = kept
        return chosen


class GridSampler:
    def __init__(self, space: Space, points: int | None, key: Hashable) -> None:
        self.space = space
        self.points = points
        self.key = key

    def suggest(self, history: History, count: int, rng: np.random.Generator) -> list[Params]:
        walk = None
        if history.tally is not None:
            walk = history.tally.folded(self.key, self._walk, log="created")
        if walk is None:
            walk = self._walk()
            for trial in history.trials:
                walk.add(trial)
        # Trials the ledger does not hold yet (this decision's warm-start picks) are active.
        return walk.next_points(count, {self.space.key(t.params) for t in history.active})

    def _walk(self) -> _Walk:
        return _Walk(self.space, self.points)


def build(spec: StudySpec, space: Space, seed: int) -> GridSampler:
    points = grid_points(spec)
    key = ("grid", points, tuple(p.model_dump_json() for p in spec.parameters))
    return GridSampler(space, points, key)

"""`grid`: the exact cartesian product, in declared order, each point once.

Stateless: the next points are the first ones no trial (in any state) has used yet, so a
restart neither repeats nor skips a point. Fewer points than asked means the grid is exhausted.
"""

from __future__ import annotations

import numpy as np

from kubetune.api.study import StudySpec
from kubetune.engine.encoding import Params, Space, grid_points
from kubetune.engine.history import History


class GridSampler:
    def __init__(self, space: Space, points: int | None) -> None:
        self.space = space
        self.points = points

    def suggest(self, history: History, count: int, rng: np.random.Generator) -> list[Params]:
        used = {self.space.key(t.params) for t in history.trials}
        chosen: list[Params] = []
        for params in self.space.grid(self.points):
            if len(chosen) >= count:
                break
            if self.space.key(params) not in used:
                chosen.append(params)
        return chosen


def build(spec: StudySpec, space: Space, seed: int) -> GridSampler:
    return GridSampler(space, grid_points(spec))

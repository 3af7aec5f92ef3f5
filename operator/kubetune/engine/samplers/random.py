"""`random`: independent uniform draws in the unit box, decoded through the space."""

from __future__ import annotations

import numpy as np

from kubetune.api.study import StudySpec
from kubetune.engine.encoding import Params, Space
from kubetune.engine.history import History


class RandomSampler:
    def __init__(self, space: Space) -> None:
        self.space = space

    def suggest(self, history: History, count: int, rng: np.random.Generator) -> list[Params]:
        return [self.space.decode(row) for row in rng.random((count, self.space.size))]


def build(spec: StudySpec, space: Space, seed: int) -> RandomSampler:
    return RandomSampler(space)

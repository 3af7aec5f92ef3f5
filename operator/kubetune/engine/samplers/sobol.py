"""`sobol`: a scrambled Sobol sequence (scipy.stats.qmc), continued where the history ends.

The sequence is fixed by the study seed and indexed by how many trials exist, so trial n
always gets the n-th point: reproducible locally, on the cluster and after a restart.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import qmc

from kubetune.api.study import StudySpec
from kubetune.engine.encoding import Params, Space
from kubetune.engine.history import History


def sobol_points(size: int, seed: int, start: int, count: int) -> np.ndarray:
    """Points `start` .. `start+count-1` of the study's scrambled Sobol sequence."""
    if size == 0:
        return np.zeros((count, 0))
    engine = qmc.Sobol(d=size, scramble=True, seed=seed)
    if start:
        engine.fast_forward(start)
    with warnings.catch_warnings():  # balance warnings: we index the sequence, not sample it
        warnings.simplefilter("ignore", UserWarning)
        points: np.ndarray = engine.random(count)
    return points


class SobolSampler:
    def __init__(self, space: Space, seed: int) -> None:
        self.space = space
        self.seed = seed

    def suggest(self, history: History, count: int, rng: np.random.Generator) -> list[Params]:
        points = sobol_points(self.space.size, self.seed, history.next_trial_index, count)
        return [self.space.decode(row) for row in points]


def build(spec: StudySpec, space: Space, seed: int) -> SobolSampler:
    return SobolSampler(space, seed)

"""Pareto dominance on loss vectors (every objective turned into one to minimise): ranks,
crowding and hypervolume. Pure numpy; used by the front, the samplers, the stopping rules
and the benchmarks alike, so all of them mean the same thing by "better"."""

from __future__ import annotations

import numpy as np


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """a is no worse than b on every objective and better on one."""
    return bool(np.all(a <= b) and np.any(a < b))


def nondominated_ranks(losses: np.ndarray) -> np.ndarray:
    """Each row's front number: 0 for rows nothing dominates, 1 for those only rank 0
    dominates, and so on (non-dominated sorting, Deb et al. 2002). Equal rows share a rank."""
    count = len(losses)
    ranks = np.full(count, -1)
    if count == 0:
        return ranks
    le = np.all(losses[:, None, :] <= losses[None, :, :], axis=2)
    lt = np.any(losses[:, None, :] < losses[None, :, :], axis=2)
    beats = le & lt  # beats[i, j]: i dominates j
    left = np.ones(count, dtype=bool)
    rank = 0
    while left.any():
        dominated = (beats & left[:, None]).any(axis=0)
        current = left & ~dominated
        ranks[current] = rank
        left &= ~current
        rank += 1
    return ranks


def crowding(losses: np.ndarray) -> np.ndarray:
    """Crowding distance within one front: the boundary rows infinite, the rest the sum over
    objectives of their neighbours' gap, scaled by the front's range. Larger means lonelier."""
    count, size = losses.shape if losses.ndim == 2 else (len(losses), 0)
    distance = np.zeros(count)
    if count <= 2:
        return np.full(count, np.inf)
    for column in range(size):
        order = np.argsort(losses[:, column], kind="stable")
        values = losses[order, column]
        spread = values[-1] - values[0]
        distance[order[0]] = distance[order[-1]] = np.inf
        if spread <= 0:
            continue
        distance[order[1:-1]] += (values[2:] - values[:-2]) / spread
    return distance


def hypervolume(losses: np.ndarray, reference: np.ndarray) -> float:
    """The volume dominated by `losses` and bounded by `reference` (exact).

    Points not strictly better than the reference on every objective add nothing. Two
    objectives: a sweep; more: slices along the last objective (HSO), which is exact and
    fast enough for the few hundred points and 3 or 4 objectives a study has."""
    points = np.asarray(losses, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if points.size == 0:
        return 0.0
    points = points[np.all(points < reference, axis=1)]
    if len(points) == 0:
        return 0.0
    points = points[nondominated_ranks(points) == 0]
    return _volume(np.unique(points, axis=0), reference)


def _volume(points: np.ndarray, reference: np.ndarray) -> float:
    if points.shape[1] == 1:
        return float(reference[0] - points[:, 0].min())
    if points.shape[1] == 2:
        order = np.argsort(points[:, 0], kind="stable")
        total, ceiling = 0.0, reference[1]
        for x, y in points[order]:
            if y < ceiling:
                total += (reference[0] - x) * (ceiling - y)
                ceiling = y
        return total
    order = np.argsort(points[:, -1], kind="stable")
    points = points[order]
    total = 0.0
    for index in range(len(points)):
        top = points[index + 1, -1] if index + 1 < len(points) else reference[-1]
        depth = top - points[index, -1]
        if depth <= 0:
            continue
        slab = points[: index + 1, :-1]
        slab = slab[nondominated_ranks(slab) == 0]
        total += depth * _volume(slab, reference[:-1])
    return total

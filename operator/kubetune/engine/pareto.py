"""Pareto dominance on loss vectors (every objective turned into one to minimise): ranks,
crowding and hypervolume. Pure numpy; used by the front, the samplers, the stopping rules
and the benchmarks alike, so all of them mean the same thing by "better"."""

from __future__ import annotations

import numpy as np


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """a is no worse than b on every objective and better on one."""
    return bool(np.all(a <= b) and np.any(a < b))


#: Rows past which ranks are peeled front by front (memory O(rows)) instead of from the
#: all-pairs dominance matrix (rows^2 booleans per objective: 400 MB at 10,000).
MATRIX_ROWS = 2000


def front_mask(losses: np.ndarray) -> np.ndarray:
    """Which rows no other row dominates, in one sweep: in lexicographic order a row can only
    be dominated by one before it, so each row is checked against the front kept so far."""
    count = len(losses)
    mask = np.zeros(count, dtype=bool)
    if count == 0:
        return mask
    order = np.lexsort(losses.T[::-1])
    if losses.shape[1] == 2:
        mask[order] = ~_dominated_in_order(losses[order])
        return mask
    kept: list[int] = []
    for row in order:
        if kept:
            front = losses[kept]
            point = losses[row]
            if np.any(np.all(front <= point, axis=1) & np.any(front < point, axis=1)):
                continue
        kept.append(int(row))
    mask[kept] = True
    return mask


def _dominated_in_order(rows: np.ndarray) -> np.ndarray:
    """Two objectives, rows in lexicographic order: row i is dominated when a row before it
    has a lower second objective, or the same one with a lower first (an equal row does not
    dominate). Vectorised with running minima."""
    first, second = rows[:, 0], rows[:, 1]
    running = np.minimum.accumulate(second)
    before = np.concatenate([[np.inf], running[:-1]])
    dominated = before < second
    newest = np.maximum.accumulate(np.where(second < before, np.arange(len(rows)), 0))
    holder = np.concatenate([[0], newest[:-1]])  # where the minimum before row i was first met
    return np.asarray(dominated | ((before == second) & (first[holder] < first)))


def nondominated_ranks(losses: np.ndarray, enough: int | None = None) -> np.ndarray:
    """Each row's front number: 0 for rows nothing dominates, 1 for those only rank 0
    dominates, and so on (non-dominated sorting, Deb et al. 2002). Equal rows share a rank.

    `enough`: past `MATRIX_ROWS` rows, stop peeling once this many rows are ranked; the rest
    share the next rank (a caller that reads only the best few need not sort thousands)."""
    count = len(losses)
    ranks = np.full(count, -1)
    if count == 0:
        return ranks
    if count > MATRIX_ROWS:
        left = np.arange(count)
        rank = 0
        while len(left):
            if enough is not None and count - len(left) >= enough:
                ranks[left] = rank
                break
            on_front = front_mask(losses[left])
            ranks[left[on_front]] = rank
            left = left[~on_front]
            rank += 1
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


def beyond_worst(losses: np.ndarray) -> np.ndarray:
    """A reference point just past the worst of `losses` on every objective (a tenth of their
    range further): every point counts toward a hypervolume measured from it."""
    return np.asarray(losses.max(axis=0) + 0.1 * np.maximum(np.ptp(losses, axis=0), 1e-9))


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
    points = points[front_mask(points)]
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
        slab = slab[front_mask(slab)]
        total += depth * _volume(slab, reference[:-1])
    return total

"""`tpe`'s Parzen estimators: a mixture of truncated normals (numeric inputs) and smoothed
indicators (categoricals) over the unit box, each kernel as wide as the gaps between its
trials (see `sampler.py` for why)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp, ndtr, ndtri

PRIOR_WEIGHT = 1.0
PRIOR_SIGMA = 1.0
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@dataclass
class Parzen:
    """A mixture over `centres` (rows in the unit box, the group's inputs) plus a flat prior.
    `categorical`: which inputs are categoricals; `cells`: each input's number of values (an
    int's or a categorical's; 0 for a float)."""

    categorical: np.ndarray
    cells: np.ndarray
    centres: np.ndarray
    #: each centre's weight, relative (default: all alike); the prior's is `PRIOR_WEIGHT`
    #: against their mean
    centre_weights: np.ndarray | None = None

    def __post_init__(self) -> None:
        m, d = self.centres.shape
        given = np.ones(m) if self.centre_weights is None else np.asarray(self.centre_weights)
        mean = float(given.mean()) if m else 1.0
        self.weights = np.append(given / (mean if mean > 0 else 1.0), PRIOR_WEIGHT)
        self.weights /= self.weights.sum()
        self.numeric = ~self.categorical
        cells = self.cells
        floor = np.where(cells > 0, 0.5 / np.maximum(cells, 1), 1e-3)
        self.sigma = np.maximum(
            np.vstack([gap_bandwidths(self.centres), np.full(d, PRIOR_SIGMA)]), floor
        )
        self.mu = np.vstack([self.centres, np.full(d, 0.5)])

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        pick = rng.choice(len(self.weights), size=count, p=self.weights)
        mu, sigma = self.mu[pick], self.sigma[pick]
        low, high = ndtr(-mu / sigma), ndtr((1.0 - mu) / sigma)
        u = low + (high - low) * rng.random(mu.shape)
        out = np.clip(mu + sigma * ndtri(np.clip(u, 1e-300, 1 - 1e-16)), 0.0, 1.0 - 1e-12)
        for j, n in self._categories():
            probs = self._category_probs(j, n)[pick]  # count x n
            cum = probs.cumsum(axis=1)
            drawn = (rng.random((count, 1)) > cum).sum(axis=1)
            out[:, j] = (np.minimum(drawn, n - 1) + 0.5) / n
        return np.asarray(out)

    def log_density(self, points: np.ndarray) -> np.ndarray:
        """log of the mixture's density at each row of `points` (count x group inputs)."""
        total = np.zeros((len(points), len(self.weights)))
        numeric = np.flatnonzero(self.numeric)
        if len(numeric):
            x = points[:, None, numeric]
            mu, sigma = self.mu[None, :, numeric], self.sigma[None, :, numeric]
            z = (x - mu) / sigma
            mass = np.log(np.maximum(ndtr((1.0 - mu) / sigma) - ndtr(-mu / sigma), 1e-300))
            total += (-0.5 * z * z - _LOG_SQRT_2PI - np.log(sigma) - mass).sum(axis=2)
        for j, n in self._categories():
            index = np.minimum((points[:, j] * n).astype(int), n - 1)
            total += np.log(self._category_probs(j, n)[:, index]).T
        return np.asarray(logsumexp(total + np.log(self.weights)[None, :], axis=1))

    def _categories(self) -> list[tuple[int, int]]:
        return [(int(j), int(self.cells[j] or 1)) for j in np.flatnonzero(~self.numeric)]

    def _category_probs(self, j: int, n: int) -> np.ndarray:
        """Each component's distribution over the categorical's n values (components x n):
        its trial's value, smoothed by a prior share spread evenly; the prior itself flat."""
        m = len(self.centres)
        probs = np.full((m + 1, n), PRIOR_WEIGHT / n)
        seen = np.minimum((self.centres[:, j] * n).astype(int), n - 1)
        probs[np.arange(m), seen] += 1.0
        probs[m] = 1.0 / n
        return np.asarray(probs / probs.sum(axis=1, keepdims=True))


def gap_bandwidths(centres: np.ndarray) -> np.ndarray:
    """Each centre's bandwidth per input (m x d, unit box): the larger of the gaps to its two
    neighbours on that input, the box's edges standing in at the ends, except that the
    outermost centres take the gap inward (an edge alone would make them the widest);
    clipped to [1 / min(100, m + 1), 1]."""
    m, d = centres.shape
    if m == 0:
        return np.empty((0, d))
    order = np.argsort(centres, axis=0, kind="stable")
    ranked = np.take_along_axis(centres, order, axis=0)
    edged = np.vstack([np.zeros((1, d)), ranked, np.ones((1, d))])
    gaps = np.maximum(edged[1:-1] - edged[:-2], edged[2:] - edged[1:-1])
    if m >= 2:
        gaps[0] = edged[2] - edged[1]
        gaps[-1] = edged[-2] - edged[-3]
    widths = np.empty_like(gaps)
    np.put_along_axis(widths, order, gaps, axis=0)
    return np.asarray(np.clip(widths, 1.0 / min(100.0, m + 1.0), 1.0))

"""Expected hypervolume improvement, exact, in log form, with its gradient: what a pick of
`bayesian` maximises when a study has several objectives.

One Gaussian process per objective (independent), each on its own warped losses. The region
the current front does not dominate (bounded by a reference point) is cut into boxes
(`box_decomposition`); a new point y improves the hypervolume by the sum over boxes of the
volume of {z in box: z >= y}, a product over objectives of (u - max(l, y_j))^+. With
independent objectives the expectation of each product is the product of one-dimensional
expectations, and E[(u - max(l, Y))^+] = g(u) - g(l) with g(t) = E[(t - Y)^+] =
sigma h((t - mu) / sigma), the same h as expected improvement's. So EHVI is exact for any
number of objectives, with no Monte Carlo (Emmerich et al. 2006 for two; the cell form of
Yang et al. 2019), and each term is computed in logs like log EI, so the optimiser has a
slope far from the front too.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import log_ndtr, logsumexp

from kubetune.engine.pareto import beyond_worst, crowding
from kubetune.engine.samplers.bayesian import gaussian_process as gp
from kubetune.engine.samplers.bayesian.acquisition import Acquisition, log_h
from kubetune.engine.samplers.bayesian.feasibility import Feasibility
from kubetune.engine.samplers.bayesian.model_inputs import ModelInputs

#: Front points kept for the boxes, by objectives: the boxes number (points + 1)^(m - 1).
FRONT_FOR_BOXES = {2: 60, 3: 24, 4: 12}
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_LOG_CAP = 300.0


def thin_front(front: np.ndarray, limit: int) -> np.ndarray:
    """The front with its most crowded points dropped one at a time down to `limit`."""
    return front[spread_rows(front, limit)]


def spread_rows(front: np.ndarray, limit: int) -> list[int]:
    """Rows of `front` left after dropping its most crowded point, one at a time, down to
    `limit` (the ends, of infinite crowding distance, stay)."""
    kept = list(range(len(front)))
    while len(kept) > limit:
        kept.pop(int(np.argmin(crowding(front[kept]))))
    return kept


def box_decomposition(front: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper corners of boxes that exactly tile the part of the box below
    `reference` that no point of `front` weakly dominates (lower corners may be -inf).

    A grid over the front's coordinates in the first m - 1 objectives; in each grid column
    the non-dominated cells along the last objective run from -inf up to the lowest last
    coordinate of a front point that dominates the column's lower corner, so they merge into
    one box: (points + 1)^(m - 1) boxes at most."""
    points = front[np.all(front < reference, axis=1)]
    size = len(reference)
    edges = [
        np.concatenate([[-np.inf], np.unique(points[:, j]), [reference[j]]])
        for j in range(size - 1)
    ]
    grids = np.meshgrid(*[np.arange(len(e) - 1) for e in edges], indexing="ij")
    cells = np.stack([g.ravel() for g in grids], axis=1)
    lower = np.array([[edges[j][c[j]] for j in range(size - 1)] for c in cells])
    upper = np.array([[edges[j][c[j] + 1] for j in range(size - 1)] for c in cells])
    if len(points):
        covers = np.all(points[None, :, : size - 1] <= lower[:, None, :], axis=2)
        last = np.where(covers, points[None, :, -1], np.inf).min(axis=1)
    else:
        last = np.full(len(cells), np.inf)
    top = np.minimum(last, reference[-1])
    keep = top > -np.inf
    lower = np.hstack([lower[keep], np.full((int(keep.sum()), 1), -np.inf)])
    upper = np.hstack([upper[keep], top[keep, None]])
    return lower, upper


class HypervolumeImprovement(Acquisition):
    """log EHVI over `front` (model units, one column per objective), plus the shared penalty
    near pending points and log probability of feasibility of `Acquisition`."""

    def __init__(
        self,
        inputs: ModelInputs,
        posteriors: list[gp.Posterior],
        front: np.ndarray,
        reference: np.ndarray,
        avoid: np.ndarray,
        running: int = 0,
        feasibility: Feasibility | None = None,
    ):
        super().__init__(inputs, posteriors[0], None, avoid, running, "ehvi", feasibility)
        self.posteriors = posteriors
        limit = FRONT_FOR_BOXES.get(len(posteriors), 8)
        self.lower, self.upper = box_decomposition(thin_front(front, limit), reference)

    def _model(self, points: np.ndarray, gradient: bool) -> tuple[np.ndarray, np.ndarray | None]:
        count = len(points)
        log_terms = np.zeros((count, len(self.lower)))
        by_mean, by_sigma, predictions = [], [], []
        for j, posterior in enumerate(self.posteriors):
            if gradient:
                mean, var, d_mean, d_var = posterior.predict_with_gradient(points)
                predictions.append((d_mean, d_var, np.sqrt(var)))
            else:
                mean, var = posterior.predict(points)
            sigma = np.sqrt(var)
            log_f, d_mu, d_sigma = _log_factor(
                mean[:, None], sigma[:, None], self.lower[None, :, j], self.upper[None, :, j]
            )
            log_terms += log_f
            by_mean.append(d_mu)
            by_sigma.append(d_sigma)
        value = logsumexp(log_terms, axis=1)
        if not gradient:
            return value, None
        weights = np.exp(log_terms - value[:, None])  # each box's share of the improvement
        grad = np.zeros_like(points)
        for j, (d_mean, d_var, sigma) in enumerate(predictions):
            d_value_mean = (weights * by_mean[j]).sum(1)
            d_value_sigma = (weights * by_sigma[j]).sum(1)
            d_sigma = d_var / (2.0 * sigma[:, None])
            grad += d_value_mean[:, None] * d_mean + d_value_sigma[:, None] * d_sigma
        return value, grad


def _log_factor(
    mean: np.ndarray, sigma: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """log(g(u) - g(l)) for Y ~ N(mean, sigma^2), and its derivatives by mean and sigma.

    g(u) - g(l) = E[(u - max(l, Y))^+]; its derivatives are Phi(z_l) - Phi(z_u) (by the mean)
    and phi(z_u) - phi(z_l) (by sigma), taken over the factor in logs so that neither the
    factor nor they underflow far from the box."""
    z_u = (upper - mean) / sigma
    log_g_u = np.log(sigma) + log_h(z_u)[0]
    finite = np.isfinite(lower)
    z_l = np.where(finite, (np.where(finite, lower, 0.0) - mean) / sigma, -np.inf)
    log_g_l = np.where(finite, np.log(sigma) + log_h(np.where(finite, z_l, 0.0))[0], -np.inf)
    gap = np.minimum(log_g_l - log_g_u, -1e-12)
    log_f = log_g_u + np.log(-np.expm1(gap))
    # by the mean: (Phi(z_l) - Phi(z_u)) / f, which is -(Phi(z_u) - Phi(z_l)) / f
    log_cdf_u, log_cdf_l = log_ndtr(z_u), log_ndtr(z_l)
    cdf_gap = np.minimum(log_cdf_l - log_cdf_u, -1e-12)
    # Capped: a box far out of reach can have a huge slope on a tiny factor, but its weight
    # in the sum over boxes (`HypervolumeImprovement._model`) is then about 0.
    d_mu = -np.exp(np.minimum(log_cdf_u + np.log(-np.expm1(cdf_gap)) - log_f, _LOG_CAP))
    # by sigma: (phi(z_u) - phi(z_l)) / f
    pdf_u = np.exp(np.minimum(-0.5 * z_u * z_u - _LOG_SQRT_2PI - log_f, _LOG_CAP))
    z_l0 = np.where(finite, z_l, 0.0)
    pdf_l = np.where(
        finite, np.exp(np.minimum(-0.5 * z_l0 * z_l0 - _LOG_SQRT_2PI - log_f, _LOG_CAP)), 0.0
    )
    d_sigma = pdf_u - pdf_l
    return log_f, d_mu, d_sigma


def reference_point(front: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """The point the hypervolume is measured from: halfway between the front's own nadir
    (plus a tenth of its range) and the worst observation (plus a tenth of theirs).

    The worst observation alone (Optuna's GPSampler's choice) rewards stretching the front's
    ends far past anything useful: on DTLZ2 the picks chased the corners of the objective
    space, and both GP samplers ended behind Optuna's TPE. The front's nadir alone lets the
    front grow past its ends only a tenth at a time: on ZDT1 one front never reached past
    f1 = 0.35 in 80 trials. Halfway, over 10 seeds at 80 trials (one at a time), the median
    hypervolume went from 0.474 to 0.505 on DTLZ2 (Optuna's TPE 0.490) and held on ZDT1 and
    ZDT2 (19 of those 20 runs within 0.03 of the true front's hypervolume, one 0.77 short)."""
    return np.asarray((beyond_worst(observed) + beyond_worst(front)) / 2)

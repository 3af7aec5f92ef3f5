"""The probability that a point keeps every constraint, in log form, with its gradient.

One Gaussian process per constraint metric, fitted on every trial that reported it (feasible
or not: the model must learn where the boundary lies); the constraints are taken as
independent, so log P(feasible) is the sum over bounds of log Phi(z). `bayesian` adds it to
its log acquisition: expected improvement times the probability of feasibility (Gardner et
al. 2014, Gelbart et al. 2014), and the probability alone while no trial is feasible yet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import log_ndtr

from kubetune.engine.samplers.bayesian import gaussian_process as gp

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@dataclass(frozen=True)
class Bound:
    posterior: gp.Posterior
    limit: float  # in the model's standardised units
    upper: bool  # feasible when value <= limit (a max); else value >= limit


class Feasibility:
    def __init__(self, bounds: list[Bound]) -> None:
        self.bounds = bounds

    @classmethod
    def fit(
        cls,
        inputs: np.ndarray,
        categorical: np.ndarray,
        columns: list[tuple[np.ndarray, float | None, float | None]],
    ) -> Feasibility:
        """`columns`: per constraint metric, its value for each row of `inputs` (NaN where the
        trial never reported it) and its max and min."""
        bounds: list[Bound] = []
        for values, upper, lower in columns:
            known = np.isfinite(values)
            if known.sum() < 2:
                continue
            x, y = inputs[known], values[known]
            centre, spread = float(y.mean()), float(y.std()) or 1.0
            scaled = (y - centre) / spread
            params = gp.fit(x, scaled, categorical)
            posterior = gp.Posterior(x, scaled, categorical, params)
            for limit, is_upper in ((upper, True), (lower, False)):
                if limit is not None:
                    bounds.append(Bound(posterior, (limit - centre) / spread, is_upper))
        return cls(bounds)

    def __call__(
        self, points: np.ndarray, gradient: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        total = np.zeros(len(points))
        grad = np.zeros_like(points) if gradient else None
        for bound in self.bounds:
            if gradient:
                mean, var, d_mean, d_var = bound.posterior.predict_with_gradient(points)
            else:
                mean, var = bound.posterior.predict(points)
            sigma = np.sqrt(np.maximum(var, 1e-12))
            sign = 1.0 if bound.upper else -1.0
            z = sign * (bound.limit - mean) / sigma
            value = log_ndtr(z)
            total += value
            if grad is not None:
                d_by_z = np.exp(-0.5 * z * z - _LOG_SQRT_2PI - value)
                d_z_mean = -sign / sigma
                d_z_sigma = -z / sigma
                d_sigma = d_var / (2.0 * sigma[:, None])
                grad += d_by_z[:, None] * (
                    d_z_mean[:, None] * d_mean + d_z_sigma[:, None] * d_sigma
                )
        return total, grad

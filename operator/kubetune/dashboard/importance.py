"""Which parameters it took to reach the best trials: PED-ANOVA (Watanabe et al., "PED-ANOVA:
Efficiently Quantifying Hyperparameter Importance in Arbitrary Subspaces", IJCAI 2023), the
method optuna-dashboard uses, written here on numpy.

Why this one: it is a published functional-ANOVA estimate with a closed form (no random forest
to fit, so 10,000 trials take milliseconds and there is no model whose own fit could be
blamed), and it asks the question a tuner's user has ("what mattered to get into the best
tenth?") rather than what explains the variance of every trial, which diverged trials would
dominate. For each parameter, the distribution of its values among the best `GAMMA` of the
trials is compared with their distribution among all trials (each a Parzen estimate on a grid
of `STEPS` points, log parameters on a log grid, plus a uniform prior of weight one trial);
the importance is the Pearson divergence between the two, and the shares are the importances
divided by their sum, so they add up to 1. A parameter whose values are spread alike among the
best and among all trials gets a share near 0. Interactions count towards each parameter
taking part in them. A conditional parameter is judged over the trials that have it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: The share of trials counted as "the best" (PED-ANOVA's gamma; optuna-dashboard's 0.1).
GAMMA = 0.1
#: At least this many trials count as the best, however few trials there are.
MIN_TOP = 2
#: Grid points of a numeric parameter's Parzen estimate.
STEPS = 50
#: Fewer scored trials than this and no importance is reported (it would be noise).
MIN_TRIALS = 8


def importance_method() -> str:
    return (
        f"PED-ANOVA (Watanabe et al., IJCAI 2023): how differently each parameter is spread "
        f"among the best {GAMMA:.0%} of the trials than among all of them (Pearson divergence "
        "of Parzen estimates), as shares that sum to 1"
    )


def _grid(parameter: Mapping[str, Any], values: Sequence[Any]) -> tuple[np.ndarray, int, bool]:
    """Each value's place on the parameter's grid, the grid's size, and whether it is
    categorical (no smoothing across places)."""
    kind = parameter["type"]
    if kind == "categorical":
        labels = [str(v) for v in parameter["values"]]
        places = [labels.index(str(v)) if str(v) in labels else 0 for v in values]
        return np.asarray(places), len(labels), True
    low, high = float(parameter["min"]), float(parameter["max"])
    if kind == "int" and not parameter.get("log") and high - low + 1 <= STEPS:
        return np.asarray([round(float(v) - low) for v in values]), int(high - low) + 1, False
    data = np.asarray(values, dtype=float)
    if parameter.get("log"):
        low, high, data = math.log10(low), math.log10(high), np.log10(data)
    share = (data - low) / (high - low) if high > low else np.zeros_like(data)
    return np.rint(np.clip(share, 0, 1) * (STEPS - 1)).astype(int), STEPS, False


def _parzen(places: np.ndarray, size: int, categorical: bool) -> np.ndarray:
    """A probability over the grid: the observations' kernels and a uniform prior weighing as
    much as one of them. Numeric kernels are Gaussian with Scott's bandwidth."""
    mass = np.full(size, 1.0 / size)  # the prior
    if categorical:
        mass += np.bincount(places, minlength=size)
        return np.asarray(mass / mass.sum())
    count = len(places)
    spread = float(np.std(places)) if count > 1 else size / 4
    width = max(1.0, 1.059 * spread * (count + 1) ** -0.2)
    grid = np.arange(size, dtype=float)
    kernels = np.exp(-0.5 * ((grid[None, :] - places[:, None]) / width) ** 2)
    mass += (kernels / kernels.sum(axis=1, keepdims=True)).sum(axis=0)
    return np.asarray(mass / mass.sum())


def _best(losses: np.ndarray) -> np.ndarray:
    """Which trials are among the best GAMMA (ties with the last one included)."""
    keep = min(len(losses), max(MIN_TOP, math.ceil(GAMMA * len(losses))))
    cutoff = np.partition(losses, keep - 1)[keep - 1]
    return np.asarray(losses <= cutoff)


def divergence(parameter: Mapping[str, Any], values: Sequence[Any], best: np.ndarray) -> float:
    """Pearson divergence of the best trials' values from all trials' values."""
    places, size, categorical = _grid(parameter, values)
    overall = _parzen(places, size, categorical)
    among_best = _parzen(places[best], size, categorical)
    return float(overall @ (among_best / overall - 1.0) ** 2)


def importance(study: Mapping[str, Any], scored: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Each parameter's share (summing to 1) over trials with an objective; empty below
    MIN_TRIALS. A parameter that took one value only (or was absent) is left out."""
    if len(scored) < MIN_TRIALS:
        return {}
    goal = (study["spec"].get("objective") or study["spec"]["objectives"][0]).get("goal")
    sign = -1.0 if goal == "maximize" else 1.0
    losses = np.asarray([sign * float(t["status"]["objective"]) for t in scored])
    raw: dict[str, float] = {}
    for parameter in study["spec"]["parameters"]:
        name = parameter["name"]
        having = [i for i, t in enumerate(scored) if t["spec"]["params"].get(name) is not None]
        values = [scored[i]["spec"]["params"][name] for i in having]
        if len(having) < MIN_TRIALS or len({str(v) for v in values}) < 2:
            continue
        raw[name] = divergence(parameter, values, _best(losses[having]))
    total = sum(raw.values())
    if total <= 0:
        return {name: round(1.0 / len(raw), 4) for name in raw}
    return {name: round(value / total, 4) for name, value in raw.items()}

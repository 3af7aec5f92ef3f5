"""Which parameters the objective depends on: a first-order (main-effect) variance share.

The method, named on the page: each parameter is cut into up to `BINS` quantile bins (a
categorical into its values), and its importance is the share of the objective's variance
that the bins' means explain, corrected for the share that chance alone explains with that
many bins (epsilon squared: (SS_between - (k - 1) MS_within) / SS_total, floored at 0). It is
the main effect of a functional ANOVA (what fANOVA reports per parameter) estimated directly
from the trials, without fitting a random forest first: cheap at 10,000 trials and with no
model whose own fit could be blamed. It is computed on the objective's ranks, so a diverged
trial counts as "worst", not as a number that dwarfs every other. Interactions are not
counted: two parameters that only matter together both score low.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

BINS = 10
#: Fewer scored trials than this and no importance is reported (it would be noise).
MIN_TRIALS = 8


def importance_method() -> str:
    return (
        f"main-effect share of the objective's variance (epsilon squared over up to {BINS} "
        "quantile bins per parameter, on the objective's ranks; interactions not counted)"
    )


def _bins(values: Sequence[Any], categorical: bool) -> np.ndarray:
    if categorical:
        labels = {str(v): i for i, v in enumerate(sorted({str(v) for v in values}))}
        return np.array([labels[str(v)] for v in values])
    data = np.asarray(values, dtype=float)
    edges = np.unique(np.quantile(data, np.linspace(0, 1, BINS + 1)[1:-1]))
    return np.searchsorted(edges, data, side="right")


def ranks(values: Sequence[float]) -> np.ndarray:
    """1-based ranks, ties sharing their average (scipy.stats.rankdata's default), in numpy:
    importing scipy.stats costs 1.5 s, which every `kubetune run` plot and CLI call paid."""
    data = np.asarray(values, dtype=float)
    order = np.argsort(data, kind="stable")
    positions = np.empty(len(data))
    positions[order] = np.arange(1, len(data) + 1)
    _, group, sizes = np.unique(data, return_inverse=True, return_counts=True)
    return np.bincount(group, weights=positions)[group] / sizes[group]


def epsilon_squared(groups: np.ndarray, y: np.ndarray) -> float:
    """Variance share of y explained by the groups, less what chance explains."""
    total = float(((y - y.mean()) ** 2).sum())
    labels = np.unique(groups)
    k, n = len(labels), len(y)
    if total == 0 or k < 2 or n <= k:
        return 0.0
    between = sum(
        float((groups == g).sum()) * (float(y[groups == g].mean()) - float(y.mean())) ** 2
        for g in labels
    )
    within = (total - between) / (n - k)
    return max(0.0, (between - (k - 1) * within) / total)


def importance(study: Mapping[str, Any], scored: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Importance per parameter over trials with an objective; empty below MIN_TRIALS.
    A parameter that took one value only (or was absent) is left out."""
    if len(scored) < MIN_TRIALS:
        return {}
    y_all = ranks([float(t["status"]["objective"]) for t in scored])
    scores: dict[str, float] = {}
    for parameter in study["spec"]["parameters"]:
        name = parameter["name"]
        # A conditional parameter: judged over the trials that have it, when enough do.
        having = [i for i, t in enumerate(scored) if t["spec"]["params"].get(name) is not None]
        values = [scored[i]["spec"]["params"][name] for i in having]
        if len(having) < MIN_TRIALS or len({str(v) for v in values}) < 2:
            continue
        y = y_all if len(having) == len(scored) else ranks([float(y_all[i]) for i in having])
        groups = _bins(values, parameter["type"] == "categorical")
        scores[name] = round(epsilon_squared(groups, y), 4)
    return scores

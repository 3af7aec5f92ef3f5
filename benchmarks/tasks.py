"""Benchmark tasks: a search space (as Study parameters) and an objective to minimise.

Branin and Hartmann-6 are the standard synthetic functions with known minima, so we report
simple regret (best found - true minimum). The digits SVC task trains a real model on a fixed
hold-out split (a quarter for training); the table shows its best accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

Params = Mapping[str, Any]


@dataclass(frozen=True)
class Task:
    name: str
    parameters: list[dict[str, Any]]
    objective: Callable[[Params], float]  # minimised
    minimum: float  # the known optimum (0 for accuracy-based tasks: regret = 1 - accuracy)
    accuracy: bool = False


def branin(p: Params) -> float:
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H6_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(p: Params) -> float:
    x = np.array([p[f"x{i}"] for i in range(6)])
    inner = np.sum(_H6_A * (x - _H6_P) ** 2, axis=1)
    return float(-np.sum(_H6_ALPHA * np.exp(-inner)))


@cache
def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # noqa: PLC0415 - only the SVC task needs sklearn
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    x, y = load_digits(return_X_y=True)
    # Train on a quarter, validate on the rest: with the usual 2:1 split every sampler reaches
    # the same ceiling (4 errors in 594) within 10 trials and the task tells samplers apart
    # no more; a small training set makes the hyperparameters matter.
    split = train_test_split(x / 16.0, y, train_size=0.25, random_state=0, stratify=y)
    return tuple(split)  # type: ignore[return-value]


def digits_svc(p: Params) -> float:
    from sklearn.svm import SVC  # noqa: PLC0415

    train_x, val_x, train_y, val_y = _digits()
    model = SVC(C=p["C"], gamma=p["gamma"], kernel=p["kernel"]).fit(train_x, train_y)
    return 1.0 - float(model.score(val_x, val_y))


def _box(names: list[str], low: float, high: float) -> list[dict[str, Any]]:
    return [{"name": n, "type": "float", "min": low, "max": high} for n in names]


TASKS: dict[str, Task] = {
    "branin": Task(
        "branin",
        [
            {"name": "x1", "type": "float", "min": -5, "max": 10},
            {"name": "x2", "type": "float", "min": 0, "max": 15},
        ],
        branin,
        0.397887357729739,
    ),
    "hartmann6": Task(
        "hartmann6", _box([f"x{i}" for i in range(6)], 0, 1), hartmann6, -3.32236801141551
    ),
    "digits-svc": Task(
        "digits-svc",
        [
            {"name": "C", "type": "float", "min": 0.01, "max": 1000, "log": True},
            {"name": "gamma", "type": "float", "min": 1e-5, "max": 1, "log": True},
            {"name": "kernel", "type": "categorical", "values": ["rbf", "sigmoid"]},
        ],
        digits_svc,
        0.0,
        accuracy=True,
    ),
}

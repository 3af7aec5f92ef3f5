"""Benchmark tasks with several objectives or constraints (issue 22).

Every task returns a dict of metrics for a point; `objectives` says which to optimise and how,
`constraints` which to keep within bounds. Hypervolume is computed in loss space (every
objective turned into minimise) against `reference`, which is stated with each task; `ideal`
is the hypervolume of the true front where it is known (ZDT, DTLZ2), so the table can show the
gap to it. The constrained single-objective task has one objective and a known constrained
minimum instead, and reports regret of the best feasible point.

- zdt1, zdt2 (Zitzler, Deb, Thiele 2000) in 5 dimensions, reference (11, 11): the usual one.
  ZDT1's front is convex (f2 = 1 - sqrt(f1)), ZDT2's concave (f2 = 1 - f1^2), where a
  weighted sum of the objectives finds only the two ends.
- dtlz2 (Deb et al. 2002), 3 objectives in 6 dimensions, reference (1.1, 1.1, 1.1): the front
  is the positive eighth of the unit sphere.
- gramacy: minimise x1 + x2 under two constraints (Gramacy et al. 2016), a disconnected
  feasible region; the constrained minimum is 0.599788 (at about (0.1954, 0.4044)).
- digits-forest: a real pair, a random forest on scikit-learn's digits: validation error
  against log10 of the forest's node count (its size), reference (1.0, 5.0).

Issue 37's fronts, designed here (never seen by any sampler's tuning):
- gaps2: 2 objectives in 5 dimensions whose front is in 4 separate pieces; the far ones
  (f1 > 0.5) hold two thirds of the hypervolume, reference (1.1, 1.1). f2 = g (h(x0) + 1) - 1
  with h(x) = 1 - sqrt(x) - 0.9 x sin(7 pi x) and g = 1 + 4 sum (x_i - 0.3)^2, so the front
  is h where it is not dominated (g = 1).
- gaps3: 3 objectives in 6 dimensions, front in 4 pieces (DTLZ7's form with another
  frequency and the distance variables' optimum at 0.65), reference (1.1, 1.1, 3.3).
- arc3: 3 objectives in 6 dimensions whose front is a curve, not a surface (degenerate, as
  DTLZ5's: at the front x1 stops mattering), reference (1.1, 1.1, 1.1).
- agree2: 2 objectives that do not conflict: the front is one point (0, 0.3), reference
  (1.0, 1.3); what a reference point drawn from the front's own spread makes of it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

Params = Mapping[str, Any]
Metrics = dict[str, float]


@dataclass(frozen=True)
class MoTask:
    name: str
    parameters: list[dict[str, Any]]
    evaluate: Callable[[Params], Metrics]
    objectives: list[dict[str, Any]]
    reference: tuple[float, ...] = ()
    ideal: float | None = None  # the true front's hypervolume, when known
    constraints: list[dict[str, Any]] = field(default_factory=list)
    minimum: float | None = None  # one objective with constraints: the constrained optimum


def _box(names: list[str], low: float, high: float) -> list[dict[str, Any]]:
    return [{"name": n, "type": "float", "min": low, "max": high} for n in names]


def _x(p: Params, size: int) -> np.ndarray:
    return np.array([float(p[f"x{i}"]) for i in range(size)])


def zdt1(p: Params) -> Metrics:
    x = _x(p, 5)
    g = 1.0 + 9.0 * float(x[1:].sum()) / (len(x) - 1)
    return {"f1": float(x[0]), "f2": g * (1.0 - math.sqrt(x[0] / g))}


def zdt2(p: Params) -> Metrics:
    x = _x(p, 5)
    g = 1.0 + 9.0 * float(x[1:].sum()) / (len(x) - 1)
    return {"f1": float(x[0]), "f2": g * (1.0 - (x[0] / g) ** 2)}


def dtlz2(p: Params) -> Metrics:
    x = _x(p, 6)
    g = float(((x[2:] - 0.5) ** 2).sum())
    a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
    return {
        "f1": (1 + g) * math.cos(a) * math.cos(b),
        "f2": (1 + g) * math.cos(a) * math.sin(b),
        "f3": (1 + g) * math.sin(a),
    }


def gramacy(p: Params) -> Metrics:
    x1, x2 = float(p["x0"]), float(p["x1"])
    return {
        "f": x1 + x2,
        "c1": 1.5 - x1 - 2 * x2 - 0.5 * math.sin(2 * math.pi * (x1 * x1 - 2 * x2)),
        "c2": x1 * x1 + x2 * x2 - 1.5,
    }


@cache
def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # noqa: PLC0415
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    x, y = load_digits(return_X_y=True)
    parts = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    return parts[0], parts[1], parts[2], parts[3]


def digits_forest(p: Params) -> Metrics:
    from sklearn.ensemble import RandomForestClassifier  # noqa: PLC0415

    x_train, x_test, y_train, y_test = _digits()
    forest = RandomForestClassifier(
        n_estimators=int(p["trees"]),
        max_depth=int(p["depth"]),
        min_samples_leaf=int(p["min_leaf"]),
        max_features=float(p["max_features"]),
        random_state=0,
        n_jobs=1,
    ).fit(x_train, y_train)
    nodes = sum(tree.tree_.node_count for tree in forest.estimators_)
    return {"error": 1.0 - float(forest.score(x_test, y_test)), "size": math.log10(nodes)}


def _h_gaps(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 - np.sqrt(x) - 0.9 * x * np.sin(7 * math.pi * x))


def gaps2(p: Params) -> Metrics:
    x = _x(p, 5)
    g = 1.0 + 4.0 * float(((x[1:] - 0.3) ** 2).sum())
    return {"f1": float(x[0]), "f2": g * (float(_h_gaps(x[:1])[0]) + 1.0) - 1.0}


def gaps3(p: Params) -> Metrics:
    x = _x(p, 6)
    g = 2.0 * float(((x[2:] - 0.65) ** 2).sum())
    pulled = sum(float(f) * (1 + math.sin(4 * math.pi * float(f))) for f in x[:2])
    return {"f1": float(x[0]), "f2": float(x[1]), "f3": (1 + g) * 3 - pulled}


def arc3(p: Params) -> Metrics:
    x = _x(p, 6)
    g = float(((x[2:] - 0.4) ** 2).sum())
    a = x[0] * math.pi / 2
    b = math.pi / 4 * (1 + 2 * g * x[1]) / (1 + g)
    return {
        "f1": (1 + g) * math.cos(a) * math.cos(b),
        "f2": (1 + g) * math.cos(a) * math.sin(b),
        "f3": (1 + g) * math.sin(a),
    }


def agree2(p: Params) -> Metrics:
    x = _x(p, 4)
    g = 2.0 * float(((x[1:] - 0.2) ** 2).sum())
    bend = (x[0] - 0.7) ** 2
    return {"f1": g + float(bend), "f2": g + 0.5 * float(bend) + 0.3}


def _gaps2_front() -> float:
    """The hypervolume of gaps2's true front: h on a fine grid, its non-dominated points."""
    x = np.linspace(0.0, 1.0, 100_001)
    f2 = _h_gaps(x)
    reference = (1.1, 1.1)
    volume, lowest, previous = 0.0, reference[1], None
    for f1, value in zip(x, f2, strict=True):  # f1 ascending: a point counts if f2 drops
        if value < lowest:
            if previous is not None:
                volume += (f1 - previous) * (reference[1] - lowest)
            lowest, previous = float(value), float(f1)
        elif previous is not None:
            volume += (f1 - previous) * (reference[1] - lowest)
            previous = float(f1)
    if previous is not None:
        volume += (reference[0] - previous) * (reference[1] - lowest)
    return volume


def _arc_front() -> float:
    from kubetune.engine.pareto import hypervolume  # noqa: PLC0415

    a = np.linspace(0.0, math.pi / 2, 2001)
    b = math.pi / 4
    points = np.c_[np.cos(a) * math.cos(b), np.cos(a) * math.sin(b), np.sin(a)]
    return hypervolume(points, np.array([1.1, 1.1, 1.1]))


MINIMISE = "minimize"

MO_TASKS: dict[str, MoTask] = {
    "zdt1": MoTask(
        "zdt1",
        _box([f"x{i}" for i in range(5)], 0, 1),
        zdt1,
        [{"metric": "f1", "goal": MINIMISE}, {"metric": "f2", "goal": MINIMISE}],
        (11.0, 11.0),
        ideal=121.0 - 1.0 + 2.0 / 3.0,
    ),
    "zdt2": MoTask(
        "zdt2",
        _box([f"x{i}" for i in range(5)], 0, 1),
        zdt2,
        [{"metric": "f1", "goal": MINIMISE}, {"metric": "f2", "goal": MINIMISE}],
        (11.0, 11.0),
        ideal=121.0 - 1.0 + 1.0 / 3.0,
    ),
    "dtlz2": MoTask(
        "dtlz2",
        _box([f"x{i}" for i in range(6)], 0, 1),
        dtlz2,
        [{"metric": f"f{i}", "goal": MINIMISE} for i in (1, 2, 3)],
        (1.1, 1.1, 1.1),
        ideal=1.1**3 - math.pi / 6,
    ),
    "gramacy": MoTask(
        "gramacy",
        _box(["x0", "x1"], 0, 1),
        gramacy,
        [{"metric": "f", "goal": MINIMISE}],
        constraints=[{"metric": "c1", "max": 0.0}, {"metric": "c2", "max": 0.0}],
        minimum=0.599788,
    ),
    "digits-forest": MoTask(
        "digits-forest",
        [
            {"name": "trees", "type": "int", "min": 1, "max": 64, "log": True},
            {"name": "depth", "type": "int", "min": 1, "max": 20},
            {"name": "min_leaf", "type": "int", "min": 1, "max": 20},
            {"name": "max_features", "type": "float", "min": 0.05, "max": 1.0},
        ],
        digits_forest,
        [{"metric": "error", "goal": MINIMISE}, {"metric": "size", "goal": MINIMISE}],
        (1.0, 5.0),
    ),
    "gaps2": MoTask(
        "gaps2",
        _box([f"x{i}" for i in range(5)], 0, 1),
        gaps2,
        [{"metric": "f1", "goal": MINIMISE}, {"metric": "f2", "goal": MINIMISE}],
        (1.1, 1.1),
        ideal=_gaps2_front(),
    ),
    "gaps3": MoTask(
        "gaps3",
        _box([f"x{i}" for i in range(6)], 0, 1),
        gaps3,
        [{"metric": f"f{i}", "goal": MINIMISE} for i in (1, 2, 3)],
        (1.1, 1.1, 3.3),
    ),
    "arc3": MoTask(
        "arc3",
        _box([f"x{i}" for i in range(6)], 0, 1),
        arc3,
        [{"metric": f"f{i}", "goal": MINIMISE} for i in (1, 2, 3)],
        (1.1, 1.1, 1.1),
        ideal=_arc_front(),
    ),
    "agree2": MoTask(
        "agree2",
        _box([f"x{i}" for i in range(4)], 0, 1),
        agree2,
        [{"metric": "f1", "goal": MINIMISE}, {"metric": "f2", "goal": MINIMISE}],
        (1.0, 1.3),
        ideal=1.0,
    ),
}


def feasible(task: MoTask, metrics: Metrics) -> bool:
    for constraint in task.constraints:
        value = metrics[constraint["metric"]]
        if "max" in constraint and value > constraint["max"]:
            return False
        if "min" in constraint and value < constraint["min"]:
            return False
    return True


def losses(task: MoTask, metrics: Metrics) -> np.ndarray:
    return np.array(
        [(1 if o["goal"] == MINIMISE else -1) * metrics[o["metric"]] for o in task.objectives]
    )

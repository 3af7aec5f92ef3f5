"""Benchmark tasks: a search space (as Study parameters) and an objective to minimise.

The synthetic functions (Branin, Hartmann-6, Hartmann-6 hidden among 10 inputs, and a mixed
space of Hartmann-3 with an int, a categorical and a log-scaled float) have known minima, so we
report simple regret (best found - true minimum). The two ML tasks train real models on
scikit-learn's bundled data sets with a fixed hold-out split; for them the table shows the best
validation error (digits, SVC) or log-loss (breast cancer, gradient-boosted trees).

Issue 37's tasks, designed here and never used to tune a sampler:
- wells-4d, wells-8d: a double well per coordinate, each pair tilted so one well is deeper by
  only 0.1-0.4, coupled pairwise: 16 and 256 near-equal basins; "stuck" is any coordinate
  ending in its shallower well.
- digits-sgd: a linear model by stochastic gradient descent on digits, 7 parameters (three
  categorical: loss, penalty, learning-rate schedule; alpha and eta0 log-scaled; l1_ratio;
  max_iter an int): validation error.
- cancer-hgb-cv: gradient-boosted trees on breast cancer, 7 parameters (learning rate and L2
  log-scaled, four ints, one of them log-scaled, the bins a categorical): 3-fold CV log-loss.
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
    minimum: float  # the known optimum; 0 for the ML tasks, whose "regret" is the loss itself
    measure: str = "simple regret"
    #: Whether a point lies in the global optimum's basin (tasks with several near-equal
    #: basins): the table counts the seeds whose best point does not, i.e. got stuck.
    in_global_basin: Callable[[Params], bool] | None = None


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


_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]
)
_H3_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_MIXED_CATEGORY_COST = {"adam": 0.0, "sgd": 0.4, "rmsprop": 0.8}


def mixed(p: Params) -> float:
    """Hartmann-3 plus an int, a categorical and a log-scaled float, each with its own cost.

    The optimum: Hartmann-3's, layers = 7, optimizer = adam, lr = 10^-2.5.
    """
    x = np.array([p[f"x{i}"] for i in range(3)])
    inner = np.sum(_H3_A * (x - _H3_P) ** 2, axis=1)
    h3 = float(-np.sum(_H3_ALPHA * np.exp(-inner)))
    return (
        h3
        + 0.02 * (p["layers"] - 7) ** 2
        + _MIXED_CATEGORY_COST[p["optimizer"]]
        + 0.1 * (math.log10(p["lr"]) + 2.5) ** 2
    )


def _h3(x: np.ndarray) -> float:
    inner = np.sum(_H3_A * (x - _H3_P) ** 2, axis=1)
    return float(-np.sum(_H3_ALPHA * np.exp(-inner)))


#: How the categorical `shape` acts on x0, and what it costs: the best shape mirrors x0, so a
#: model that treats shape as a separate additive effect learns the wrong x0 for it.
_SHAPES: dict[str, tuple[Callable[[float], float], float]] = {
    "identity": (lambda x: x, 0.15),
    "mirror": (lambda x: 1 - x, 0.0),
    "half": (lambda x: 0.5 * x, 0.3),
}


def mixed_interacting(p: Params) -> float:
    """Hartmann-3 whose third input is an int k (x2 = k/10, snapped to 11 values) and whose
    first is transformed by a categorical: the int and the categorical are the function's own
    dimensions, not separate costs. Optimum (multistart L-BFGS-B over every k and shape):
    shape = mirror, k = 9, x0 = 0.90451, x1 = 0.56012."""
    transform, cost = _SHAPES[p["shape"]]
    return _h3(np.array([transform(p["x0"]), p["x1"], p["k"] / 10])) + cost


def _in_mixed_interacting_basin(p: Params) -> bool:
    return bool(p["shape"] == "mirror" and p["k"] == 9 and abs(p["x0"] - 0.90451) < 0.1)


#: How the categorical `act` maps the raw x2 onto Branin's x2, and what it costs.
_ACTS: dict[str, tuple[Callable[[float], float], float]] = {
    "relu": (lambda x: x, 0.3),
    "tanh": (lambda x: 15 - x, 0.0),
    "gelu": (lambda x: 0.6 * x + 3, 0.6),
}


def mixed_branin(p: Params) -> float:
    """Branin with x1 an int (-5..10: each of its three minima falls between two ints) and x2
    mapped by a categorical. Two optima of the same value (Branin's cosine is even, and its
    square term can be zeroed at either): act = tanh with x1 = -3, x2 = 3.06269 (Branin at
    (-3, 11.93731)) or x1 = 3, x2 = 12.61199 (Branin at (3, 2.38801)); x1 = 9 is 0.76
    worse."""
    transform, cost = _ACTS[p["act"]]
    return branin({"x1": p["x1"], "x2": transform(p["x2"])}) + cost


def _in_mixed_branin_basin(p: Params) -> bool:
    return bool(p["act"] == "tanh" and p["x1"] in (-3, 3))


#: Where the basins' grid is centred: the global minimum, off every axis' middle.
_BASIN_SHIFT = np.array([1.3, -2.2, 0.7, 3.1])


def basins(p: Params) -> float:
    """Rastrigin-like in 4 dimensions on [-5, 5]: a basin at every integer offset from the
    optimum (10,000 of them), each neighbour only ~0.1 worse than the global one per
    coordinate off by one; the global minimum 0 at x = (1.3, -2.2, 0.7, 3.1)."""
    z = np.array([p[f"x{i}"] for i in range(4)]) - _BASIN_SHIFT
    return float(np.sum(0.1 * z**2 + 1 - np.cos(2 * math.pi * z)))


def _in_basins_basin(p: Params) -> bool:
    z = np.array([p[f"x{i}"] for i in range(4)]) - _BASIN_SHIFT
    return bool(np.all(np.abs(z) < 0.5))


#: Per coordinate: the tilt that makes one well deeper (its sign picks which) and where the
#: wells sit in the box. The deeper well is the left one where the tilt is positive.
_WELL_TILT = np.array([0.05, -0.12, 0.08, -0.2, 0.15, -0.07, 0.1, -0.18])
_WELL_CENTRE = np.array([0.3, -0.4, 0.1, 0.6, -0.2, 0.5, -0.5, 0.2])


def _wells_z(p: Params, size: int) -> np.ndarray:
    return np.array([p[f"x{i}"] for i in range(size)]) - _WELL_CENTRE[:size]


def wells(p: Params, size: int) -> float:
    """Sum of (z^2 - 1)^2 + tilt z per coordinate, plus a small coupling of neighbours: each
    coordinate's two wells (z near -1 and +1) differ by about 2 |tilt|."""
    z = _wells_z(p, size)
    tilt = _WELL_TILT[:size]
    coupling = 0.05 * float(np.sum(z[:-1] * z[1:]))
    return float(np.sum((z**2 - 1) ** 2 + tilt * z)) + coupling


def _wells_minimum(size: int) -> float:
    from scipy.optimize import minimize  # noqa: PLC0415

    start = -np.sign(_WELL_TILT[:size]) + _WELL_CENTRE[:size]
    found = minimize(lambda x: wells({f"x{i}": v for i, v in enumerate(x)}, size), start)
    return float(found.fun)


def _in_wells_basin(size: int) -> Callable[[Params], bool]:
    def inside(p: Params) -> bool:
        z = _wells_z(p, size)
        return bool(np.all(np.sign(z) == -np.sign(_WELL_TILT[:size])))

    return inside


@cache
def _digits_sgd_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # noqa: PLC0415
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    x, y = load_digits(return_X_y=True)
    split = train_test_split(x / 16.0, y, train_size=600, test_size=600, random_state=2, stratify=y)
    return tuple(split)  # type: ignore[return-value]


def digits_sgd(p: Params) -> float:
    import warnings  # noqa: PLC0415

    from sklearn.exceptions import ConvergenceWarning  # noqa: PLC0415
    from sklearn.linear_model import SGDClassifier  # noqa: PLC0415

    train_x, val_x, train_y, val_y = _digits_sgd_data()
    model = SGDClassifier(
        loss=p["loss"],
        penalty=p["penalty"],
        alpha=p["alpha"],
        l1_ratio=p["l1_ratio"],
        learning_rate=p["schedule"],
        eta0=p["eta0"],
        max_iter=p["max_iter"],
        tol=None,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(train_x, train_y)
    return 1.0 - float(model.score(val_x, val_y))


def cancer_hgb_cv(p: Params) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: PLC0415
    from sklearn.model_selection import StratifiedKFold, cross_val_score  # noqa: PLC0415

    train_x, _, train_y, _ = _breast_cancer()
    model = HistGradientBoostingClassifier(
        learning_rate=p["learning_rate"],
        max_iter=p["max_iter"],
        max_leaf_nodes=p["max_leaf_nodes"],
        min_samples_leaf=p["min_samples_leaf"],
        l2_regularization=p["l2_regularization"],
        max_bins=int(p["max_bins"]),
        max_depth=p["max_depth"],
        early_stopping=False,
        random_state=0,
    )
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    scores = cross_val_score(model, train_x, train_y, cv=folds, scoring="neg_log_loss")
    return float(-scores.mean())


#: The six inputs that matter among twenty.
_ACTIVE = [2, 5, 9, 13, 16, 19]


def hartmann6_in_20d(p: Params) -> float:
    """Hartmann-6 on six scattered inputs of twenty."""
    return hartmann6({f"x{i}": p[f"x{j}"] for i, j in enumerate(_ACTIVE)})


def hartmann6_in_10d(p: Params) -> float:
    """Hartmann-6 on x0..x5 with four inputs that do nothing: does the model learn to ignore?"""
    return hartmann6(p)


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


@cache
def _breast_cancer() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer  # noqa: PLC0415
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    x, y = load_breast_cancer(return_X_y=True)
    split = train_test_split(x, y, train_size=0.3, random_state=0, stratify=y)
    return tuple(split)  # type: ignore[return-value]


def breast_cancer_hgb(p: Params) -> float:
    """Validation log-loss of gradient-boosted trees: a continuous score, unlike accuracy."""
    from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: PLC0415
    from sklearn.metrics import log_loss  # noqa: PLC0415

    train_x, val_x, train_y, val_y = _breast_cancer()
    model = HistGradientBoostingClassifier(
        learning_rate=p["learning_rate"],
        max_leaf_nodes=p["max_leaf_nodes"],
        min_samples_leaf=p["min_samples_leaf"],
        l2_regularization=p["l2_regularization"],
        max_iter=50,
        random_state=0,
    ).fit(train_x, train_y)
    return float(log_loss(val_y, model.predict_proba(val_x)))


#: The branches of `conditional`: each one's own minimum, so only branch c holds the global one.
_BRANCH_FLOOR = {"a": 0.6, "b": 0.4, "c": 4.0 - 3.86278214782076}


def conditional(p: Params) -> float:
    """Three model families behind a categorical `branch`, each with its own parameters
    (`when`), and a shared log-scaled `lr`:
    - a: Branin on (a_x1, a_x2) in [0, 1]^2, scaled down; its floor 0.6, the easiest to reach.
    - b: `n_layers` (1-4) with one width per layer (`u1`..`u4`, each only when n_layers reaches
      it): 0.4 + 0.5 * (4 - n_layers) / 3 + sum of (u_i - 0.2 i)^2; its floor 0.4, which
      needs all four layers.
    - c: Hartmann-3 on (c_x0, c_x1, c_x2), plus 4; its floor 0.137, the global minimum.
    A sampler that spreads trials across inactive dimensions, or cannot tell the branches
    apart, stays on a branch's floor."""
    lr = 0.05 * (math.log10(p["lr"]) + 2.5) ** 2
    if p["branch"] == "a":
        x1, x2 = -5 + 15 * p["a_x1"], 15 * p["a_x2"]
        return lr + _BRANCH_FLOOR["a"] + (branin({"x1": x1, "x2": x2}) - 0.397887357729739) / 50
    if p["branch"] == "b":
        n = p["n_layers"]
        widths = sum((p[f"u{i}"] - 0.2 * i) ** 2 for i in range(1, n + 1))
        return lr + _BRANCH_FLOOR["b"] + 0.5 * (4 - n) / 3 + widths
    return lr + 4.0 + _h3(np.array([p["c_x0"], p["c_x1"], p["c_x2"]]))


def _in_conditional_basin(p: Params) -> bool:
    """On branch c and below every other branch's floor."""
    return bool(p["branch"] == "c" and conditional(p) < _BRANCH_FLOOR["b"])


def _when(parent: str, *values: Any) -> dict[str, Any]:
    return {"when": {parent: list(values)}}


@cache
def _digits_small() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # noqa: PLC0415
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    x, y = load_digits(return_X_y=True)
    # 450 to train, 450 to validate: each of the three families fits in well under 0.1 s.
    split = train_test_split(x / 16.0, y, train_size=450, test_size=450, random_state=1, stratify=y)
    return tuple(split)  # type: ignore[return-value]


def digits_models(p: Params) -> float:
    """Validation error of one of three model families on digits, each with its own
    parameters: an SVC (C, gamma), a random forest (trees, depth), logistic regression (C)."""
    from sklearn.ensemble import RandomForestClassifier  # noqa: PLC0415
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415
    from sklearn.svm import SVC  # noqa: PLC0415

    train_x, val_x, train_y, val_y = _digits_small()
    model: Any
    if p["model"] == "svc":
        model = SVC(C=p["svc_C"], gamma=p["svc_gamma"])
    elif p["model"] == "forest":
        model = RandomForestClassifier(
            n_estimators=p["trees"], max_depth=p["depth"], random_state=0, n_jobs=1
        )
    else:
        model = LogisticRegression(C=p["logreg_C"], max_iter=300)
    return 1.0 - float(model.fit(train_x, train_y).score(val_x, val_y))


def _box(names: list[str], low: float, high: float) -> list[dict[str, Any]]:
    return [{"name": n, "type": "float", "min": low, "max": high} for n in names]


def _wells_task(size: int) -> Task:
    name = f"wells-{size}d"
    return Task(
        name,
        _box([f"x{i}" for i in range(size)], -2, 2),
        lambda p: wells(p, size),
        _wells_minimum(size),
        in_global_basin=_in_wells_basin(size),
    )


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
        measure="validation error",
    ),
    "mixed": Task(
        "mixed",
        [
            *_box(["x0", "x1", "x2"], 0, 1),
            {"name": "layers", "type": "int", "min": 1, "max": 12},
            {"name": "optimizer", "type": "categorical", "values": ["sgd", "adam", "rmsprop"]},
            {"name": "lr", "type": "float", "min": 1e-5, "max": 1, "log": True},
        ],
        mixed,
        -3.86278214782076,
    ),
    "hartmann6-10d": Task(
        "hartmann6-10d",
        _box([f"x{i}" for i in range(10)], 0, 1),
        hartmann6_in_10d,
        -3.32236801141551,
    ),
    "mixed-interacting": Task(
        "mixed-interacting",
        [
            *_box(["x0", "x1"], 0, 1),
            {"name": "k", "type": "int", "min": 0, "max": 10},
            {"name": "shape", "type": "categorical", "values": list(_SHAPES)},
        ],
        mixed_interacting,
        -3.6411237524397286,
        in_global_basin=_in_mixed_interacting_basin,
    ),
    "mixed-branin": Task(
        "mixed-branin",
        [
            {"name": "x1", "type": "int", "min": -5, "max": 10},
            {"name": "x2", "type": "float", "min": 0, "max": 15},
            {"name": "act", "type": "categorical", "values": list(_ACTS)},
        ],
        mixed_branin,
        0.4939805326401636,
        in_global_basin=_in_mixed_branin_basin,
    ),
    "basins": Task(
        "basins",
        _box([f"x{i}" for i in range(4)], -5, 5),
        basins,
        0.0,
        in_global_basin=_in_basins_basin,
    ),
    "hartmann6-20d": Task(
        "hartmann6-20d",
        _box([f"x{i}" for i in range(20)], 0, 1),
        hartmann6_in_20d,
        -3.32236801141551,
    ),
    "breast-cancer-hgb": Task(
        "breast-cancer-hgb",
        [
            {"name": "learning_rate", "type": "float", "min": 1e-3, "max": 1, "log": True},
            {"name": "max_leaf_nodes", "type": "int", "min": 2, "max": 64, "log": True},
            {"name": "min_samples_leaf", "type": "int", "min": 1, "max": 60},
            {"name": "l2_regularization", "type": "float", "min": 1e-6, "max": 10, "log": True},
        ],
        breast_cancer_hgb,
        0.0,
        measure="validation log-loss",
    ),
    "conditional": Task(
        "conditional",
        [
            {"name": "branch", "type": "categorical", "values": ["a", "b", "c"]},
            {"name": "lr", "type": "float", "min": 1e-4, "max": 0.1, "log": True},
            *({**d, **_when("branch", "a")} for d in _box(["a_x1", "a_x2"], 0, 1)),
            {"name": "n_layers", "type": "int", "min": 1, "max": 4, **_when("branch", "b")},
            *(
                {**d, **_when("n_layers", *range(i, 5))}
                for i, d in enumerate(_box(["u1", "u2", "u3", "u4"], 0, 1), start=1)
            ),
            *({**d, **_when("branch", "c")} for d in _box(["c_x0", "c_x1", "c_x2"], 0, 1)),
        ],
        conditional,
        4.0 - 3.86278214782076,
        in_global_basin=_in_conditional_basin,
    ),
    "digits-models": Task(
        "digits-models",
        [
            {"name": "model", "type": "categorical", "values": ["svc", "forest", "logreg"]},
            {
                "name": "svc_C",
                "type": "float",
                "min": 0.01,
                "max": 1000,
                "log": True,
                **_when("model", "svc"),
            },
            {
                "name": "svc_gamma",
                "type": "float",
                "min": 1e-5,
                "max": 1,
                "log": True,
                **_when("model", "svc"),
            },
            {
                "name": "trees",
                "type": "int",
                "min": 5,
                "max": 100,
                "log": True,
                **_when("model", "forest"),
            },
            {"name": "depth", "type": "int", "min": 2, "max": 24, **_when("model", "forest")},
            {
                "name": "logreg_C",
                "type": "float",
                "min": 1e-4,
                "max": 100,
                "log": True,
                **_when("model", "logreg"),
            },
        ],
        digits_models,
        0.0,
        measure="validation error",
    ),
    "wells-4d": _wells_task(4),
    "wells-8d": _wells_task(8),
    "digits-sgd": Task(
        "digits-sgd",
        [
            {
                "name": "loss",
                "type": "categorical",
                "values": ["hinge", "log_loss", "modified_huber"],
            },
            {"name": "penalty", "type": "categorical", "values": ["l2", "l1", "elasticnet"]},
            {"name": "alpha", "type": "float", "min": 1e-7, "max": 1e-1, "log": True},
            {"name": "l1_ratio", "type": "float", "min": 0.0, "max": 1.0},
            {
                "name": "schedule",
                "type": "categorical",
                "values": ["optimal", "invscaling", "adaptive"],
            },
            {"name": "eta0", "type": "float", "min": 1e-4, "max": 1.0, "log": True},
            {"name": "max_iter", "type": "int", "min": 5, "max": 60},
        ],
        digits_sgd,
        0.0,
        measure="validation error",
    ),
    "cancer-hgb-cv": Task(
        "cancer-hgb-cv",
        [
            {"name": "learning_rate", "type": "float", "min": 1e-3, "max": 1, "log": True},
            {"name": "max_iter", "type": "int", "min": 10, "max": 100},
            {"name": "max_leaf_nodes", "type": "int", "min": 2, "max": 64, "log": True},
            {"name": "min_samples_leaf", "type": "int", "min": 1, "max": 60},
            {"name": "l2_regularization", "type": "float", "min": 1e-6, "max": 10, "log": True},
            {"name": "max_depth", "type": "int", "min": 2, "max": 12},
            {"name": "max_bins", "type": "categorical", "values": ["15", "63", "255"]},
        ],
        cancer_hgb_cv,
        0.0,
        measure="3-fold CV log-loss",
    ),
}

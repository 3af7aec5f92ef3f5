"""Population-based training's decisions on a real small training (issue 39, part 3, the
engine's half): scikit-learn's MLP on digits, trained epoch by epoch with SGD, its learning
rate and weight decay (L2 `alpha`) tuned, against the best fixed pair `bayesian` (and
`random`) find with the same total epochs.

Digits split once per seed into 1,000 training, 400 validation and 397 test images. A trial
reports the validation accuracy after its epochs; the figure is the test accuracy of the model
each method picks by validation (PBT: its best member at the end). A PBT checkpoint is the
model itself (weights and SGD's momentum); a segment continuing from it with other parameters
sets the optimizer's learning rate and `alpha` before training on.

PBT: a population of 8 (parallelism 8), segments of 3 epochs, until every member trained 30
(240 epochs). Fixed: 8 trials of 30 epochs, one at a time (the same 240 epochs).

    python benchmarks/pbt_digits.py [--seeds 20] [--out benchmarks/results/pbt-digits.json]

Prints medians over seeds, Mann-Whitney U of PBT against each, and how many seeds got stuck
(a test accuracy of 0.95 or less).
"""

from __future__ import annotations

import copy
import time
import warnings
from functools import cache
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from kubetune.engine.pbt import PbtSettings
from pbt_harness import arguments, compare, table, write

EPOCHS, POPULATION, INTERVAL = 30, 8, 3
#: A digits model at or below this test accuracy trained badly ("stuck").
STUCK = 0.95
PARAMETERS = [
    {"name": "lr", "type": "float", "min": 1e-3, "max": 1.0, "log": True},
    {"name": "alpha", "type": "float", "min": 1e-6, "max": 1e-1, "log": True},
]
CLASSES = np.arange(10)


@cache
def split(seed: int) -> tuple[np.ndarray, ...]:
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(x))
    x = x / 16.0
    parts = (order[:1000], order[1000:1400], order[1400:])
    return tuple(a for p in parts for a in (x[p], y[p]))


def train(state: Any, params: dict[str, Any], epochs: int, seed: int) -> tuple[Any, float]:
    x_train, y_train, x_val, y_val, _, _ = split(seed)
    if state is None:
        model = MLPClassifier(
            hidden_layer_sizes=(64,),
            solver="sgd",
            momentum=0.9,
            batch_size=64,
            learning_rate_init=float(params["lr"]),
            alpha=float(params["alpha"]),
            random_state=seed,
        )
    else:  # a checkpoint is shared by the lines that continue from it: train a copy
        model = copy.deepcopy(state)
        model.learning_rate_init, model.alpha = float(params["lr"]), float(params["alpha"])
        model._optimizer.learning_rate = float(params["lr"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(epochs):
            model.partial_fit(x_train, y_train, classes=CLASSES)
    return model, float(model.score(x_val, y_val))


def judge_for(seed: int) -> Any:
    def judge(model: Any) -> float:
        _, _, _, _, x_test, y_test = split(seed)
        return float(model.score(x_test, y_test))

    return judge


def main() -> None:
    args = arguments(__doc__, "benchmarks/results/pbt-digits.json")
    started = time.time()
    settings = PbtSettings(population=POPULATION, interval=INTERVAL)
    rows = compare(PARAMETERS, settings, EPOCHS, train, judge_for, args.seeds)
    print(
        f"MLP on digits, SGD, lr and alpha: {POPULATION * EPOCHS} epochs per method, "
        f"test accuracy of the model picked by validation; {args.seeds} seeds; "
        f"'stuck': {STUCK} or less"
    )
    print(table({k: [r["final"] for r in v] for k, v in rows.items()}, STUCK))
    used = {"epochs": EPOCHS, "population": POPULATION, "interval": INTERVAL}
    write(args.out, started, used, runs=rows)


if __name__ == "__main__":
    main()

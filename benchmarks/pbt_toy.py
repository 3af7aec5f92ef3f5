"""Population-based training's decisions on a toy whose best learning rate falls during
training (issue 39, part 3, the engine's half): `engine.pbt.next_segments` against the best
fixed learning rate that `bayesian` (and `random`) find with the same total steps.

The toy: a training of T = 100 steps gains, at step t, exp(-(log10 lr - log10 lr*(t))^2 /
(2 w^2)), the best rate lr*(t) falling from 1e-1 to 1e-3 over the training (log-linear),
w = 0.3 decades; the reported score is the gains so far over T plus a little noise (sd 0.002);
the judged score is the same without noise (1.0 only if every step had the best rate).

PBT: a population of 8 (parallelism 8), segments of 10 steps, until every member has trained
T steps (800 steps in all). Fixed rates: 8 trials of T steps, one at a time (the same 800).

    python benchmarks/pbt_toy.py [--seeds 20] [--out benchmarks/results/pbt-toy.json]

Prints medians over seeds, Mann-Whitney U of PBT against each fixed-rate search, and how many
seeds got stuck (a final score no better than the best fixed rate's, found on a fine grid).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from kubetune.engine.pbt import PbtSettings
from pbt_harness import arguments, compare, table, write

STEPS, POPULATION, INTERVAL, WIDTH, NOISE = 100, 8, 10, 0.3, 0.002
PARAMETERS = [{"name": "lr", "type": "float", "min": 1e-4, "max": 1.0, "log": True}]


def gains(start: float, step: int, lr: float, steps: int) -> float:
    for t in range(step, step + steps):
        best = -1.0 - 2.0 * t / STEPS
        start += math.exp(-((math.log10(lr) - best) ** 2) / (2 * WIDTH**2))
    return start


def train(state: Any, params: dict[str, Any], steps: int, seed: int) -> tuple[Any, float]:
    """A checkpoint is (step, gains so far, the noise's generator state)."""
    step, gained, noise = state if state is not None else (0, 0.0, np.random.default_rng(seed))
    gained = gains(gained, step, float(params["lr"]), steps)
    return (step + steps, gained, noise), gained / STEPS + float(noise.normal(0, NOISE))


def judge(state: Any) -> float:
    return float(state[1]) / STEPS


def main() -> None:
    args = arguments(__doc__, "benchmarks/results/pbt-toy.json")
    started = time.time()
    settings = PbtSettings(population=POPULATION, interval=INTERVAL)
    rows = compare(PARAMETERS, settings, STEPS, train, lambda seed: judge, args.seeds)
    best_fixed = max(gains(0.0, 0, 10**u, STEPS) / STEPS for u in np.linspace(-4, 0, 4001))
    print(
        f"toy: best lr falls 1e-1 -> 1e-3 over {STEPS} steps; 800 steps per method; "
        f"{args.seeds} seeds; the best fixed rate scores {best_fixed:.3f} ('stuck': no better)"
    )
    print(table({k: [r["final"] for r in v] for k, v in rows.items()}, best_fixed))
    used = {"steps": STEPS, "population": POPULATION, "interval": INTERVAL, "width": WIDTH}
    write(args.out, started, {**used, "noise": NOISE}, best_fixed=best_fixed, runs=rows)


if __name__ == "__main__":
    main()

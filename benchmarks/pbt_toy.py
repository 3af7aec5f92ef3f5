"""Population-based training's decisions on a toy whose best learning rate falls during
training (issue 39, part 3, the engine's half): `engine.pbt.next_segments` against the best
fixed learning rate that `bayesian` finds with the same total steps.

The toy: a training of T steps gains, at step t, exp(-(log10 lr - log10 lr*(t))^2 / (2 w^2)),
with the best learning rate lr*(t) falling from 1e-1 to 1e-3 over the training (log-linear),
w = 0.3 decades; the score after t steps is the gains so far over T (1.0 only if every step had
the best rate), observed with a little noise (sd 0.002). A fixed rate can gain about a third;
a schedule that follows lr*(t) gains nearly all.

PBT: a population of 8 (parallelism 8), segments of 10 steps, 80 segments (every member
trains T = 100 steps: 800 steps in all). The fixed rates: `bayesian` through `decide`, 8 trials
of T steps each, one at a time (the same 800 steps). Also `random` for the fixed rate. The
checkpoint a segment continues from is the (step, score) its parent ended with.

    python benchmarks/pbt_toy.py [--seeds 20] [--out benchmarks/baselines/issue-39-pbt-toy.json]

Prints medians over seeds of each method's final score (PBT: its best member's at T steps),
Mann-Whitney U of PBT against each fixed-rate method, and how many seeds "got stuck" (a final
score no better than the best fixed rate's, found on a fine grid).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu

from kubetune.api import load_study
from kubetune.engine import History, Report, TrialRecord, TrialState, decide
from kubetune.engine.encoding import build_space
from kubetune.engine.pbt import PbtSettings, next_segments

STEPS, POPULATION, INTERVAL, WIDTH, NOISE = 100, 8, 10, 0.3, 0.002
LR = {"name": "lr", "type": "float", "min": 1e-4, "max": 1.0, "log": True}


def best_log_lr(step: int) -> float:
    return -1.0 - 2.0 * step / STEPS


def train(start: tuple[int, float], lr: float, steps: int) -> tuple[int, float]:
    """(step, gains so far) after `steps` more steps at `lr` from the checkpoint `start`."""
    step, gained = start
    for t in range(step, step + steps):
        gained += math.exp(-((math.log10(lr) - best_log_lr(t)) ** 2) / (2 * WIDTH**2))
    return step + steps, gained


def observed(gained: float, rng: np.random.Generator) -> float:
    return gained / STEPS + float(rng.normal(0, NOISE))


def spec(algorithm: str, seed: int, trials: int) -> Any:
    return load_study(
        {
            "apiVersion": "kubetune.io/v1alpha1",
            "kind": "Study",
            "metadata": {"name": "toy"},
            "spec": {
                "objective": {"metric": "score", "goal": "maximize"},
                "parameters": [LR],
                "algorithm": {"name": algorithm, "seed": seed},
                "budget": {"maxTrials": trials, "parallelism": 1},
                "trialTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {"name": "t", "image": "x", "command": ["python", "train.py"]}
                                ]
                            }
                        }
                    }
                },
            },
        }
    ).spec


def run_pbt(seed: int) -> dict[str, Any]:
    space = build_space(spec("random", seed, 80))
    settings = PbtSettings(population=POPULATION, interval=INTERVAL)
    rng = np.random.default_rng(seed)
    noise = np.random.default_rng([seed, 1])
    trials: list[TrialRecord] = []
    checkpoints: dict[str, tuple[int, float]] = {}
    members: dict[str, int] = {}
    exploits = 0
    while len(trials) < POPULATION * STEPS // INTERVAL:
        history = History("toy", tuple(trials))
        wanted = min(POPULATION, POPULATION * STEPS // INTERVAL - len(trials))
        for segment in next_segments(space, settings, history, wanted, True, rng):
            lineage = segment.lineage
            start = checkpoints[lineage.parent] if lineage.parent else (0, 0.0)
            exploits += lineage.parent is not None and members[lineage.parent] != lineage.member
            end = train(start, float(segment.params["lr"]), segment.end_step - start[0])
            name = f"toy-{len(trials)}"
            checkpoints[name], members[name] = end, lineage.member
            score = observed(end[1], noise)
            trials.append(
                TrialRecord(
                    name,
                    len(trials),
                    segment.params,
                    TrialState.SUCCEEDED,
                    (Report(end[0], {"score": score}),),
                    score,
                    lineage=lineage,
                )
            )
    finals = [checkpoints[t.name][1] / STEPS for t in trials if checkpoints[t.name][0] == STEPS]
    return {"final": max(finals), "exploits": exploits}


def run_fixed(algorithm: str, seed: int, trials: int = POPULATION) -> dict[str, Any]:
    study = spec(algorithm, seed, trials)
    noise = np.random.default_rng([seed, 2])
    done: list[TrialRecord] = []
    truth: dict[str, float] = {}
    while True:
        decision = decide(study, History("toy", tuple(done), started_at=0.0), 0.0)
        if decision.finish is not None or not decision.create:
            break
        for new in decision.create:
            _, gained = train((0, 0.0), float(new.params["lr"]), STEPS)
            score = observed(gained, noise)
            truth[new.name] = gained / STEPS
            done.append(
                TrialRecord(
                    new.name,
                    new.index,
                    new.params,
                    TrialState.SUCCEEDED,
                    (Report(STEPS, {"score": score}),),
                    score,
                )
            )
    best = max(done, key=lambda t: t.objective or -1.0)
    return {"final": truth[best.name], "lr": float(best.params["lr"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--out", default="benchmarks/baselines/issue-39-pbt-toy.json")
    args = parser.parse_args()
    started = time.time()
    rows: dict[str, list[dict[str, Any]]] = {"pbt": [], "bayesian": [], "random": []}
    for seed in range(args.seeds):
        rows["pbt"].append(run_pbt(seed))
        rows["bayesian"].append(run_fixed("bayesian", seed))
        rows["random"].append(run_fixed("random", seed))
    finals = {k: [r["final"] for r in v] for k, v in rows.items()}
    fixed_best = max(train((0, 0.0), 10**u, STEPS)[1] / STEPS for u in np.linspace(-4, 0, 4001))
    print(
        f"toy: best lr falls 1e-1 -> 1e-3 over {STEPS} steps; 800 steps per method; "
        f"{args.seeds} seeds; the best fixed rate scores {fixed_best:.3f} ('stuck': no better)"
    )
    print(f"{'method':<10} {'median':>8} {'min':>8} {'max':>8} {'stuck':>6} {'p vs pbt':>9}")
    for name, values in finals.items():
        p = "" if name == "pbt" else f"{mannwhitneyu(finals['pbt'], values).pvalue:.2g}"
        stuck = sum(v <= fixed_best for v in values)
        print(
            f"{name:<10} {statistics.median(values):8.3f} {min(values):8.3f} "
            f"{max(values):8.3f} {stuck:6d} {p:>9}"
        )
    result = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "seconds": round(time.time() - started, 1),
        "settings": {
            "steps": STEPS,
            "population": POPULATION,
            "interval": INTERVAL,
            "width": WIDTH,
            "noise": NOISE,
        },
        "best_fixed": fixed_best,
        "runs": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out} ({result['seconds']} s)")


if __name__ == "__main__":
    main()

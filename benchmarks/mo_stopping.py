"""Early stopping with two objectives (issue 22): epochs spent and the final front, with and
without a stopping rule, on a real learning curve.

The task: a small MLP on scikit-learn's digits, trained one epoch at a time (`partial_fit`)
for up to 27 epochs; each epoch reports two metrics, the validation error (minimise) and the
network's size in log10 weights (minimise), the trade-off being depth of learning against
model size. Hidden units (4 to 256, log), L2 penalty and learning rate (log) are searched.
Trials run 4 at a time, asynchronously as the operator runs them: every running trial
trains one more epoch per tick, `decide` is called after each tick, stops take effect at
once, and a trial that reaches 27 epochs succeeds. Each study has 60 trials.

Rules: none (always run, the baseline); `asha` from epoch 1 (rungs 1, 3, 9); `asha3` from
epoch 3 (rungs 3, 9); `median` from epoch 3. A rule can be given the epochs that no rule
spends (`--rules asha --trials 160 --baseline-trials 60`). Printed per sampler and rule: the
median over seeds of epochs spent and of the hypervolume of the succeeded trials' front
(reference: error 1.0, size 6.0), the worst seed's hypervolume, and a two-sided Mann-Whitney
U test of each rule's hypervolume against no rule. A curve is computed once per params and
cached, so the rules are compared on the very same training runs.

    python benchmarks/mo_stopping.py [--seeds 20] [--trials 60] [--rules asha,asha3,median]
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from functools import cache  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from scipy.stats import mannwhitneyu  # noqa: E402

from kubetune.api import StudySpec, load_study  # noqa: E402
from kubetune.engine import History, Report, TrialRecord, TrialState, decide  # noqa: E402
from kubetune.engine.pareto import hypervolume  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import in_pool, write_result  # noqa: E402

EPOCHS = 27
REFERENCE = np.array([1.0, 6.0])
RULES: dict[str, dict[str, Any]] = {
    "none": {"name": "none"},
    "asha": {
        "name": "asha",
        "settings": {"minBudget": 1, "maxBudget": EPOCHS, "reductionFactor": 3},
    },
    "asha3": {
        "name": "asha",
        "settings": {"minBudget": 3, "maxBudget": EPOCHS, "reductionFactor": 3},
    },
    "median": {"name": "median", "settings": {"startStep": 3, "minTrials": 5}},
}
PARAMETERS = [
    {"name": "hidden", "type": "int", "min": 4, "max": 256, "log": True},
    {"name": "alpha", "type": "float", "min": 1e-6, "max": 1e-1, "log": True},
    {"name": "lr", "type": "float", "min": 1e-4, "max": 1e-1, "log": True},
]


@cache
def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits  # noqa: PLC0415
    from sklearn.model_selection import train_test_split  # noqa: PLC0415

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    parts = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    return parts[0], parts[1], parts[2], parts[3]


@cache
def learning_curve(hidden: int, alpha: float, lr: float) -> tuple[tuple[float, float], ...]:
    """(error, log10 weights) after each epoch, deterministic for the params."""
    from sklearn.neural_network import MLPClassifier  # noqa: PLC0415

    x_train, x_test, y_train, y_test = _digits()
    model = MLPClassifier(
        hidden_layer_sizes=(hidden,), alpha=alpha, learning_rate_init=lr, random_state=0
    )
    size = math.log10(hidden * (64 + 1) + 10 * (hidden + 1))
    curve = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(EPOCHS):
            model.partial_fit(x_train, y_train, classes=np.arange(10))
            curve.append((1.0 - float(model.score(x_test, y_test)), size))
    return tuple(curve)


def build_spec(sampler: str, rule: str, seed: int, trials: int) -> StudySpec:
    manifest = {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "Study",
        "metadata": {"name": "bench-mlp"},
        "spec": {
            "objectives": [
                {"metric": "error", "goal": "minimize"},
                {"metric": "size", "goal": "minimize"},
            ],
            "parameters": PARAMETERS,
            "algorithm": {"name": sampler, "seed": seed},
            "earlyStopping": RULES[rule],
            "budget": {"maxTrials": trials, "parallelism": 4},
            "trialTemplate": {
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "t", "image": "none", "command": ["x"]}]}
                    }
                }
            },
        },
    }
    return load_study(manifest).spec


def _report(step: int, point: tuple[float, float]) -> Report:
    return Report(step, {"error": point[0], "size": point[1]})


def simulate(sampler: str, rule: str, seed: int, trials: int) -> dict[str, Any]:
    spec = build_spec(sampler, rule, seed, trials)
    records: dict[int, TrialRecord] = {}
    epochs = 0
    while True:
        decision = decide(spec, History("bench", tuple(records.values()), 0.0), 0.0)
        for stop in decision.stop:
            index = int(stop.trial.rsplit("-", 1)[1])
            records[index] = TrialRecord(
                **{**records[index].__dict__, "state": TrialState.EARLY_STOPPED, "stop": stop}
            )
        for new in decision.create:
            records[new.index] = TrialRecord(
                new.name, new.index, dict(new.params), TrialState.RUNNING
            )
        running = [r for r in records.values() if r.state == TrialState.RUNNING]
        if not running:
            break
        for record in running:  # one epoch each
            curve = learning_curve(
                int(record.params["hidden"]),
                float(record.params["alpha"]),
                float(record.params["lr"]),
            )
            step = len(record.reports) + 1
            reports = (*record.reports, _report(step, curve[step - 1]))
            epochs += 1
            state = TrialState.SUCCEEDED if step == EPOCHS else TrialState.RUNNING
            records[record.index] = TrialRecord(
                **{**record.__dict__, "reports": reports, "state": state}
            )
    done = [r for r in records.values() if r.state == TrialState.SUCCEEDED]
    finals = np.array(
        [[r.reports[-1].metrics["error"], r.reports[-1].metrics["size"]] for r in done]
    )
    return {
        "epochs": epochs,
        "hypervolume": hypervolume(finals, REFERENCE) if done else 0.0,
        "succeeded": len(done),
        "stopped": sum(1 for r in records.values() if r.state == TrialState.EARLY_STOPPED),
    }


def _job(args: tuple[str, str, int, int]) -> tuple[tuple[str, str, int], dict[str, Any]]:
    sampler, rule, seed, trials = args
    return (sampler, rule, seed), simulate(sampler, rule, seed, trials)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--samplers", default="bayesian,random")
    parser.add_argument("--rules", default="asha,asha3,median")
    parser.add_argument(
        "--baseline-trials",
        type=int,
        help="trials of the no-rule baseline (default --trials): a rule given more trials, "
        "as many epochs as the baseline spends",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="benchmarks/results/mo-stopping.json")
    args = parser.parse_args()
    samplers = args.samplers.split(",")
    rules = ["none", *(r for r in args.rules.split(",") if r != "none")]  # none: the baseline
    baseline = args.baseline_trials or args.trials
    jobs = [
        (s, r, seed, baseline if r == "none" else args.trials)
        for s in samplers
        for r in rules
        for seed in range(args.seeds)
    ]
    started = time.time()
    runs = dict(in_pool(_job, jobs, args.workers))
    table: dict[str, Any] = {}
    lines = [
        f"MLP on digits, 2 objectives (error, log10 weights), {args.trials} trials "
        f"({baseline} without a rule), 4 at a time, "
        f"{EPOCHS} epochs each at most; median over {args.seeds} seeds; hypervolume reference "
        f"{REFERENCE.tolist()}",
        f"  {'sampler':<10}{'rule':<8}{'epochs':>9}{'saved':>8}{'HV':>9}{'worst HV':>10}"
        f"{'p (HV vs none)':>16}{'stopped':>9}",
    ]
    for sampler in samplers:
        base = [runs[(sampler, "none", s)]["hypervolume"] for s in range(args.seeds)]
        full = statistics.median(runs[(sampler, "none", s)]["epochs"] for s in range(args.seeds))
        for rule in rules:
            rows = [runs[(sampler, rule, s)] for s in range(args.seeds)]
            volumes = [r["hypervolume"] for r in rows]
            epochs = statistics.median(r["epochs"] for r in rows)
            p = None if rule == "none" else float(mannwhitneyu(volumes, base).pvalue)
            row = {
                "epochs": epochs,
                "epochsSaved": 1 - epochs / full,
                "hypervolume": statistics.median(volumes),
                "worstHypervolume": min(volumes),
                "pValue": p,
                "stopped": statistics.median(r["stopped"] for r in rows),
            }
            table[f"{sampler}/{rule}"] = row
            lines.append(
                f"  {sampler:<10}{rule:<8}{epochs:>9.0f}{row['epochsSaved']:>8.0%}"
                f"{row['hypervolume']:>9.4f}{row['worstHypervolume']:>10.4f}"
                f"{'-' if p is None else format(p, '.2g'):>16}{row['stopped']:>9.0f}"
            )
    print("\n".join(lines))
    result = {
        "seeds": args.seeds,
        "trials": args.trials,
        "baselineTrials": baseline,
        "table": table,
        "runs": {"/".join(map(str, k)): v for k, v in runs.items()},
    }
    write_result(args.out, result, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())

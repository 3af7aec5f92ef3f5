"""Our `tpe` against Optuna's TPE alone: median simple regret after 40 trials and at the end
over seeds, two-sided Mann-Whitney U. Needs only Optuna (no torch, unlike `make bench`'s GP
peer), so it runs in a small environment: `pip install optuna==5.0.0 scikit-learn` beside
kubetune's own dependencies.

    python benchmarks/tpe_peer.py [--tasks hartmann6,branin] [--seeds 20] [--trials 60]

Both run one trial at a time through the same drivers as `benchmarks/run.py` (`decide` for
ours, Optuna's ask/tell for the peer). Prints a row per task and checkpoint; writes every
run's values as JSON.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import mannwhitneyu

sys.path.insert(0, str(Path(__file__).resolve().parent))
# benchmarks/ is a folder of scripts, not a package
from harness import in_pool, write_result
from peers import run_peer
from run import run_kubetune
from tasks import TASKS

SAMPLERS = ("tpe", "optuna-tpe")


def _job(args: tuple[str, str, int, int]) -> list[float]:
    task_name, sampler, seed, trials = args
    task = TASKS[task_name]
    if sampler == "tpe":
        run = run_kubetune(task, "tpe", seed, trials, "seq")
    else:
        run = run_peer("optuna-tpe", task, seed, trials, 1)
    return [float(value) for _, value in run]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="hartmann6,branin")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results/tpe-peer.json")
    args = parser.parse_args()
    started = time.time()
    jobs = [
        (task, sampler, seed, args.trials)
        for task in args.tasks.split(",")
        for sampler in SAMPLERS
        for seed in range(args.seeds)
    ]
    values = dict(zip(jobs, in_pool(_job, jobs, args.workers), strict=True))
    rows = []
    for task in args.tasks.split(","):
        for at in sorted({min(40, args.trials), args.trials}):
            regret = {
                s: [
                    min(values[(task, s, seed, args.trials)][:at]) - TASKS[task].minimum
                    for seed in range(args.seeds)
                ]
                for s in SAMPLERS
            }
            p = float(mannwhitneyu(regret["tpe"], regret["optuna-tpe"]).pvalue)
            row = {"task": task, "trials": at, "p": p}
            row.update({s: float(np.median(v)) for s, v in regret.items()})
            rows.append(row)
            print(
                f"{task:18s} {at:4d} trials  tpe {row['tpe']:.4g}  "
                f"optuna-tpe {row['optuna-tpe']:.4g}  p {p:.2g}"
            )
    runs = {"/".join(map(str, key)): run for key, run in values.items()}
    write_result(args.out, {"seeds": args.seeds, "rows": rows, "runs": runs}, started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

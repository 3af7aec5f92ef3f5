"""Warm starts (issue 22): does a study that learns from an earlier one reach that study's
best in fewer trials than one that starts cold?

For each seed: an earlier study (kubetune `bayesian`, seed s) runs 30 trials of a task and
its best value is the bar; then two new studies with another seed run up to 60 trials, one
cold and one with `warmStart.studies` (the earlier study's 30 trials as evidence, the way
both shells hand them over: `engine.warm_start.fit_prior`). Printed: the median over seeds of
the trials each new study needed to reach the bar (a study that never does counts as 61),
how many never did, and a two-sided Mann-Whitney U test between warm and cold. Tasks from
`tasks.py`: Hartmann-6 and the digits SVC.

    python benchmarks/warm_start.py [--seeds 20] [--tasks hartmann6,digits-svc]
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from scipy.stats import mannwhitneyu  # noqa: E402

from kubetune.engine import History, Report, TrialRecord, TrialState, decide  # noqa: E402
from kubetune.engine.warm_start import fit_prior  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import in_pool, write_result  # noqa: E402
from run import build_spec  # noqa: E402
from tasks import TASKS, Task  # noqa: E402

EARLIER = 30
LIMIT = 60


def run_study(
    task: Task, seed: int, trials: int, prior: tuple[TrialRecord, ...] = ()
) -> list[TrialRecord]:
    spec = build_spec(task, "bayesian", seed, trials, 1)
    records: list[TrialRecord] = []
    while True:
        history = History("bench", tuple(records), 0.0, prior=prior)
        decision = decide(spec, history, 0.0)
        if not decision.create:
            return records
        for new in decision.create:
            loss = task.objective(new.params)
            records.append(
                TrialRecord(
                    new.name,
                    new.index,
                    dict(new.params),
                    TrialState.SUCCEEDED,
                    (Report(None, {"loss": loss}),),
                    loss,
                )
            )


def trials_to_reach(records: list[TrialRecord], bar: float) -> int:
    for count, record in enumerate(records, start=1):
        if record.objective is not None and record.objective <= bar:
            return count
    return LIMIT + 1


def _job(args: tuple[str, int]) -> tuple[tuple[str, int], dict[str, Any]]:
    task_name, seed = args
    task = TASKS[task_name]
    earlier = run_study(task, seed, EARLIER)
    bar = min(r.objective for r in earlier if r.objective is not None)
    spec = build_spec(task, "bayesian", seed + 1000, LIMIT, 1)
    prior, _ = fit_prior(spec, "earlier", earlier)
    cold = run_study(task, seed + 1000, LIMIT)
    warm = run_study(task, seed + 1000, LIMIT, prior)
    return (task_name, seed), {
        "bar": bar,
        "cold": trials_to_reach(cold, bar),
        "warm": trials_to_reach(warm, bar),
        "coldBest": min(r.objective or 0.0 for r in cold),
        "warmBest": min(r.objective or 0.0 for r in warm),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--tasks", default="hartmann6,digits-svc")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="benchmarks/results/warm-start.json")
    args = parser.parse_args()
    tasks = args.tasks.split(",")
    jobs = [(t, s) for t in tasks for s in range(args.seeds)]
    started = time.time()
    runs = dict(in_pool(_job, jobs, args.workers))
    lines = [
        f"trials to reach the best of an earlier {EARLIER}-trial study (bayesian), median over "
        f"{args.seeds} seeds; {LIMIT + 1} = never within {LIMIT}",
        f"  {'task':<14}{'cold':>7}{'warm':>7}{'never (cold/warm)':>20}{'p':>9}",
    ]
    table: dict[str, Any] = {}
    for task in tasks:
        cold = [runs[(task, s)]["cold"] for s in range(args.seeds)]
        warm = [runs[(task, s)]["warm"] for s in range(args.seeds)]
        p = float(mannwhitneyu(cold, warm).pvalue)
        never = (sum(c > LIMIT for c in cold), sum(w > LIMIT for w in warm))
        table[task] = {
            "coldMedian": statistics.median(cold),
            "warmMedian": statistics.median(warm),
            "neverCold": never[0],
            "neverWarm": never[1],
            "pValue": p,
        }
        lines.append(
            f"  {task:<14}{statistics.median(cold):>7.1f}{statistics.median(warm):>7.1f}"
            f"{f'{never[0]}/{never[1]}':>20}{p:>9.2g}"
        )
    print("\n".join(lines))
    result = {
        "seeds": args.seeds,
        "table": table,
        "runs": {f"{t}/{s}": v for (t, s), v in runs.items()},
    }
    write_result(args.out, result, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())

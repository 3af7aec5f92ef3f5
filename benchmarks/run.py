"""`make bench`: random, sobol and bayesian on Branin, Hartmann-6 and a digits SVC.

Every run goes through `kubetune.engine.decide`, the same door the runner and the operator
use: sequentially (parallelism 1) and in batches (parallelism 4, four trials asked at once and
evaluated before the next ask). Prints one table per task (median over seeds of the simple
regret, or of the best accuracy, after 10, 20 and 40 trials), the time of one bayesian ask
after 50, 200 and 500 observations, and writes everything as JSON.

    python benchmarks/run.py [--seeds 10] [--trials 40] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from kubetune.api import StudySpec, load_study
from kubetune.engine import History, Report, TrialRecord, TrialState, decide

sys.path.insert(0, str(Path(__file__).resolve().parent))
# benchmarks/ is a folder of scripts, not a package
from tasks import TASKS, Task

SAMPLERS = ["random", "sobol", "bayesian"]
CHECKPOINTS = [10, 20, 40]


def build_spec(task: Task, sampler: str, seed: int, trials: int, parallelism: int) -> StudySpec:
    manifest = {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "Study",
        "metadata": {"name": f"bench-{task.name}"},
        "spec": {
            "objective": {"metric": "loss", "goal": "minimize"},
            "parameters": task.parameters,
            "algorithm": {"name": sampler, "seed": seed},
            "budget": {"maxTrials": trials, "parallelism": parallelism},
            "trialTemplate": {
                "spec": {"template": {"spec": {"containers": [{"name": "t", "image": "none"}]}}}
            },
        },
    }
    return load_study(manifest).spec


def run_study(
    task_name: str, sampler: str, seed: int, trials: int, parallelism: int
) -> list[float]:
    """The objective of every trial, in trial order."""
    task = TASKS[task_name]
    spec = build_spec(task, sampler, seed, trials, parallelism)
    records: list[TrialRecord] = []
    while True:
        decision = decide(spec, History("bench", tuple(records), 0.0), 0.0)
        if not decision.create:
            break
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
    return [r.objective for r in records if r.objective is not None]


def ask_latency(observations: int, repeats: int = 3) -> float:
    """Median seconds of one bayesian decision with `observations` finished Hartmann-6 trials."""
    task = TASKS["hartmann6"]
    spec = build_spec(task, "bayesian", 0, observations + 10, 1)
    rng = np.random.default_rng(0)
    records = []
    for i in range(observations):
        params = {f"x{d}": float(v) for d, v in enumerate(rng.random(6))}
        loss = task.objective(params)
        records.append(
            TrialRecord(
                f"t-{i}", i, params, TrialState.SUCCEEDED, (Report(None, {"loss": loss}),), loss
            )
        )
    history = History("bench", tuple(records), 0.0)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        decide(spec, history, 0.0)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _job(args: tuple[str, str, int, int, int]) -> tuple[tuple[str, str, int, int], list[float]]:
    task, sampler, seed, trials, parallelism = args
    return (task, sampler, parallelism, seed), run_study(task, sampler, seed, trials, parallelism)


def summarise(runs: dict[Any, list[float]], seeds: int, checkpoints: list[int]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for task_name, task in TASKS.items():
        for sampler in SAMPLERS:
            for parallelism in (1, 4):
                key = f"{task_name}/{sampler}/p{parallelism}"
                table[key] = {}
                for n in checkpoints:
                    best = [
                        min(runs[(task_name, sampler, parallelism, s)][:n]) for s in range(seeds)
                    ]
                    values = (
                        [1 - b for b in best] if task.accuracy else [b - task.minimum for b in best]
                    )
                    table[key][n] = statistics.median(values)
    return table


def render(table: dict[str, Any], latency: dict[int, float], checkpoints: list[int]) -> str:
    lines = []
    for task_name, task in TASKS.items():
        what = "best accuracy (median)" if task.accuracy else "simple regret (median)"
        lines.append(f"\n{task_name}: {what}")
        header = f"  {'sampler':<10}{'protocol':<12}" + "".join(
            f"{f'@{n}':>11}" for n in checkpoints
        )
        lines.append(header)
        for sampler in SAMPLERS:
            for parallelism in (1, 4):
                row = table[f"{task_name}/{sampler}/p{parallelism}"]
                protocol = "sequential" if parallelism == 1 else "batch of 4"
                cells = "".join(f"{row[n]:>11.4g}" for n in checkpoints)
                lines.append(f"  {sampler:<10}{protocol:<12}{cells}")
    lines.append("\nbayesian ask latency (median of 3, Hartmann-6):")
    lines += [f"  {n:>5} observations: {t:.3f} s" for n, t in latency.items()]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--latency", default="50,200,500")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="benchmarks/results/latest.json")
    args = parser.parse_args()
    checkpoints = [n for n in CHECKPOINTS if n <= args.trials]
    jobs = [
        (task, sampler, seed, args.trials, parallelism)
        for task in TASKS
        for sampler in SAMPLERS
        for parallelism in (1, 4)
        for seed in range(args.seeds)
    ]
    started = time.time()
    runs: dict[Any, list[float]] = {}
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for done, (key, values) in enumerate(pool.map(_job, jobs), start=1):
            runs[key] = values
            print(
                f"\r{done}/{len(jobs)} runs ({time.time() - started:.0f}s)", end="", file=sys.stderr
            )
    print(file=sys.stderr)
    latency = {int(n): ask_latency(int(n)) for n in args.latency.split(",")}
    table = summarise(runs, args.seeds, checkpoints)
    print(render(table, latency, checkpoints))
    result = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "seeds": args.seeds,
        "trials": args.trials,
        "seconds": round(time.time() - started, 1),
        "table": table,
        "askLatencySeconds": latency,
        "runs": {"/".join(map(str, k)): v for k, v in runs.items()},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {out} ({result['seconds']}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

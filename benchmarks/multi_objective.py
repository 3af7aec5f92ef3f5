"""`make bench-mo`: several objectives and constraints (issue 22), kubetune against Optuna.

Tasks (`mo_tasks.py`): ZDT1 and ZDT2 in 5 dimensions, DTLZ2 with 3 objectives in 6, the
constrained Gramacy problem (one objective, two constraints) and a real pair on digits (a
random forest's validation error against its size). Samplers: kubetune's `bayesian`, `tpe`
and `random` through `kubetune.engine.decide` (the door the runner and the operator use),
and Optuna 5.0's TPESampler, NSGAIISampler and GPSampler with several objectives through
ask/tell, each given `constraints_func` where the task has constraints. Protocols: one at a
time, and batches of 4 (ask 4, evaluate, tell all 4).

Prints, per task, the median over seeds of the hypervolume of the feasible points found after
40 and 80 trials (reference point stated per task; its gap to the true front's where that is
known) or, for the constrained single objective, the regret of the best feasible point, with
a two-sided Mann-Whitney U test of `bayesian` (same protocol) against every other row and
the worst seed (the stuck ones, which medians alone hide). Peers' runs are cached under
~/.cache/kubetune/bench-mo keyed by Optuna's version. Writes every run's metrics as JSON.

    python benchmarks/multi_objective.py [--seeds 20] [--trials 80] [--tasks ...]
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from scipy.stats import mannwhitneyu  # noqa: E402

from kubetune.api import StudySpec, load_study  # noqa: E402
from kubetune.engine import History, Report, TrialRecord, TrialState, decide  # noqa: E402
from kubetune.engine.pareto import hypervolume  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import in_pool, write_result  # noqa: E402
from mo_tasks import MO_TASKS, Metrics, MoTask, feasible, losses  # noqa: E402

OURS = ["bayesian", "tpe", "random"]
PEERS = ["optuna-tpe", "optuna-nsga2", "optuna-gp"]
PROTOCOLS = {"seq": 1, "batch4": 4}
CACHE = Path.home() / ".cache" / "kubetune" / "bench-mo"

Run = list[tuple[dict[str, Any], Metrics]]


def build_spec(
    task: MoTask,
    sampler: str,
    seed: int,
    trials: int,
    parallelism: int,
    stopping: dict[str, Any] | None = None,
) -> StudySpec:
    goals: dict[str, Any] = (
        {"objectives": task.objectives}
        if len(task.objectives) > 1
        else {"objective": task.objectives[0]}
    )
    manifest = {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "Study",
        "metadata": {"name": f"bench-{task.name}"},
        "spec": {
            **goals,
            "constraints": task.constraints,
            "parameters": task.parameters,
            "algorithm": {"name": sampler, "seed": seed},
            "earlyStopping": stopping or {"name": "none"},
            "budget": {"maxTrials": trials, "parallelism": parallelism},
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


def finished(name: str, index: int, params: Any, metrics: Metrics) -> TrialRecord:
    return TrialRecord(
        name,
        index,
        params,
        TrialState.SUCCEEDED,
        (Report(None, dict(metrics)),),
        values=dict(metrics),
    )


def run_kubetune(task: MoTask, sampler: str, seed: int, trials: int, parallelism: int) -> Run:
    """Drive `decide` a wave at a time: ask `parallelism`, evaluate all, tell all."""
    spec = build_spec(task, sampler, seed, trials, parallelism)
    records: list[TrialRecord] = []
    metrics: dict[int, Metrics] = {}
    while True:
        decision = decide(spec, History("bench", tuple(records), 0.0), 0.0)
        if not decision.create:
            break
        for new in decision.create:
            metrics[new.index] = task.evaluate(new.params)
            records.append(finished(new.name, new.index, dict(new.params), metrics[new.index]))
    records.sort(key=lambda r: r.index)
    return [(dict(r.params), metrics[r.index]) for r in records]


def _constraint_values(task: MoTask, metrics: Metrics) -> list[float]:
    """Optuna's form: one number per bound, feasible when <= 0."""
    values = []
    for constraint in task.constraints:
        value = metrics[constraint["metric"]]
        if "max" in constraint:
            values.append(value - constraint["max"])
        if "min" in constraint:
            values.append(constraint["min"] - value)
    return values


def run_optuna(task: MoTask, peer: str, seed: int, trials: int, parallelism: int) -> Run:
    import optuna  # noqa: PLC0415

    from peers import _define_by_run  # noqa: PLC0415

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    constraints = (lambda t: t.user_attrs["constraints"]) if task.constraints else None
    sampler: Any
    if peer == "optuna-gp":
        sampler = optuna.samplers.GPSampler(seed=seed, constraints_func=constraints)
    elif peer == "optuna-nsga2":
        sampler = optuna.samplers.NSGAIISampler(seed=seed, constraints_func=constraints)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed, constraints_func=constraints)
    study = optuna.create_study(sampler=sampler, directions=[o["goal"] for o in task.objectives])
    run: Run = []
    while len(run) < trials:
        asked = [study.ask() for _ in range(min(parallelism, trials - len(run)))]
        points = [(trial, _define_by_run(trial, task)) for trial in asked]  # type: ignore[arg-type]
        for trial, params in points:
            metrics = task.evaluate(params)
            if task.constraints:
                trial.set_user_attr("constraints", _constraint_values(task, metrics))
            values = [metrics[o["metric"]] for o in task.objectives]
            study.tell(trial, values if len(values) > 1 else values[0])
            run.append((params, metrics))
    return run


def peer_version() -> str:
    from importlib.metadata import version  # noqa: PLC0415

    return f"optuna-{version('optuna')}"


def _cache_path(sampler: str, task: str, seed: int, trials: int, parallelism: int) -> Path:
    tag = hashlib.sha256(json.dumps([sampler, peer_version(), 1]).encode()).hexdigest()[:12]
    return CACHE / f"{sampler}-{tag}" / f"{task}-s{seed}-n{trials}-p{parallelism}.json"


Key = tuple[str, str, str, int]


def _job(args: tuple[str, str, int, int, str]) -> tuple[Key, Run, float]:
    task_name, sampler, seed, trials, protocol = args
    task = MO_TASKS[task_name]
    parallelism = PROTOCOLS[protocol]
    started = time.perf_counter()
    if sampler in PEERS:
        path = _cache_path(sampler, task_name, seed, trials, parallelism)
        if path.exists():
            run = [(p, m) for p, m in json.loads(path.read_text())]
        else:
            run = run_optuna(task, sampler, seed, trials, parallelism)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(run))
    else:
        run = run_kubetune(task, sampler, seed, trials, parallelism)
    return (task_name, sampler, protocol, seed), run, time.perf_counter() - started


def score(task: MoTask, run: Run, n: int) -> float:
    """Hypervolume of the feasible points of the first n trials (higher is better); for one
    objective with constraints, the regret of the best feasible one (lower is better; no
    feasible point scores as the worst feasible value on the box, 2)."""
    kept = [m for _, m in run[:n] if feasible(task, m)]
    if task.minimum is not None:
        best = min((losses(task, m)[0] for m in kept), default=2.0)
        return float(best - task.minimum)
    if not kept:
        return 0.0
    return hypervolume(np.array([losses(task, m) for m in kept]), np.array(task.reference))


def higher_is_better(task: MoTask) -> bool:
    return task.minimum is None


def summarise(
    runs: dict[Key, Run], tasks: list[str], samplers: list[str], seeds: int, checks: list[int]
) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for task_name in tasks:
        task = MO_TASKS[task_name]
        for protocol in PROTOCOLS:
            for sampler in samplers:
                if (task_name, sampler, protocol, 0) not in runs:
                    continue
                row: dict[str, Any] = {"median": {}, "worst": {}, "pValue": {}}
                for n in checks:
                    values = [
                        score(task, runs[(task_name, sampler, protocol, s)], n)
                        for s in range(seeds)
                    ]
                    row["median"][n] = statistics.median(values)
                    row["worst"][n] = min(values) if higher_is_better(task) else max(values)
                    if sampler != "bayesian" and (task_name, "bayesian", protocol, 0) in runs:
                        ours = [
                            score(task, runs[(task_name, "bayesian", protocol, s)], n)
                            for s in range(seeds)
                        ]
                        row["pValue"][n] = float(
                            mannwhitneyu(ours, values, alternative="two-sided").pvalue
                        )
                table[f"{task_name}/{sampler}/{protocol}"] = row
    return table


def render(table: dict[str, Any], tasks: list[str], samplers: list[str], checks: list[int]) -> str:
    lines = []
    for task_name in tasks:
        task = MO_TASKS[task_name]
        if task.minimum is not None:
            what = f"regret of the best feasible point (optimum {task.minimum}), lower is better"
        else:
            ideal = f"; the true front's {task.ideal:.4f}" if task.ideal is not None else ""
            what = f"hypervolume, reference {task.reference}{ideal}; higher is better"
        lines.append(f"\n{task_name}: {what}; median over seeds")
        head = f"  {'sampler':<14}{'protocol':<10}"
        head += "".join(f"{f'@{n}':>11}" for n in checks)
        head += "".join(f"{f'p@{n}':>9}" for n in checks)
        head += "".join(f"{f'worst@{n}':>11}" for n in checks)
        lines.append(head)
        for protocol in PROTOCOLS:
            for sampler in samplers:
                row = table.get(f"{task_name}/{sampler}/{protocol}")
                if row is None:
                    continue
                cells = "".join(f"{row['median'][n]:>11.5g}" for n in checks)
                cells += "".join(
                    f"{format(row['pValue'][n], '.2g') if n in row['pValue'] else '-':>9}"
                    for n in checks
                )
                cells += "".join(f"{row['worst'][n]:>11.5g}" for n in checks)
                lines.append(f"  {sampler:<14}{protocol:<10}{cells}")
    lines.append(
        "\np@N: two-sided Mann-Whitney U, bayesian (same protocol) against that row, N trials."
        "\nworst@N: the worst seed (lowest hypervolume, highest regret)."
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--trials", type=int, default=80)
    parser.add_argument("--samplers", default=",".join(OURS + PEERS))
    parser.add_argument("--tasks", default=",".join(MO_TASKS))
    parser.add_argument("--protocols", default=",".join(PROTOCOLS))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="benchmarks/results/multi-objective.json")
    args = parser.parse_args()
    samplers, tasks = args.samplers.split(","), args.tasks.split(",")
    checks = [n for n in (40, 60) if n < args.trials] + [args.trials]
    slow = {"optuna-gp": 0, "bayesian": 1}
    jobs = sorted(
        (
            (task, sampler, seed, args.trials, protocol)
            for task in tasks
            for sampler in samplers
            for protocol in args.protocols.split(",")
            for seed in range(args.seeds)
        ),
        key=lambda j: slow.get(j[1], 2),
    )
    started = time.time()
    runs: dict[Key, Run] = {}
    seconds: dict[str, float] = {}
    for key, run, took in in_pool(_job, jobs, args.workers):
        runs[key] = run
        seconds[key[1]] = seconds.get(key[1], 0.0) + took
    table = summarise(runs, tasks, samplers, args.seeds, checks)
    print(render(table, tasks, samplers, checks))
    result = {
        "peerVersion": peer_version() if set(samplers) & set(PEERS) else None,
        "seeds": args.seeds,
        "trials": args.trials,
        "samplerSeconds": {k: round(v, 1) for k, v in seconds.items()},
        "table": table,
        "runs": {"/".join(map(str, k)): [m for _, m in run] for k, run in runs.items()},
    }
    write_result(args.out, result, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make bench`: kubetune's samplers against Optuna's GP and TPE and Katib's scikit-optimize.

Every kubetune run goes through `kubetune.engine.decide`, the same door the runner and the
operator use; peers run through their own ask/tell (`peers.py`). Three protocols: sequential
(one trial asked, evaluated, told), batches of 4 (four asked at once, all evaluated, then the
next four) and asynchronous 4 (four running; whenever the oldest finishes one more is asked
with three still running, which is how the operator runs a study with parallelism 4 whose
trials end one by one). Prints, per task, the median over seeds of the simple regret after
40 and 60 trials with a two-sided Mann-Whitney U test of kubetune's bayesian against every
other row; the spread of batches (median over batches of the smallest distance between two
points of one batch, unit cube, batches after trial 12 so every sampler is past its start-up
design); and
the time of one bayesian ask at 50, 200, 500 and 2,000 observations (Optuna's GP's beside it);
and kubetune's bayesian in batches and asynchronously against itself one at a time.
Writes everything, every trial's value included, as JSON.

Peers' runs are deterministic for a seed, so they are cached under
~/.cache/kubetune/bench/ keyed by the peer libraries' versions: re-running after a change to
kubetune recomputes only kubetune's rows.

    python benchmarks/run.py [--seeds 10] [--trials 60] [--samplers ...] [--tasks ...]
"""

from __future__ import annotations

import os

# One thread per worker process: the pool is the parallelism, and BLAS or torch threads
# fighting over the same cores would make every timing meaningless.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from itertools import combinations  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from scipy.stats import mannwhitneyu  # noqa: E402

from kubetune.api import StudySpec, load_study  # noqa: E402
from kubetune.engine import History, Report, TrialRecord, TrialState, decide  # noqa: E402
from kubetune.engine.encoding import build_space  # noqa: E402
from kubetune.engine.samplers.bayesian.sampler import GLOBAL_EVERY  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
# benchmarks/ is a folder of scripts, not a package
from peers import PEERS, peer_versions, run_peer  # noqa: E402
from tasks import TASKS, Task  # noqa: E402

OURS = ["bayesian", "tpe", "random"]
PROTOCOLS = {"seq": "seq", "batch4": "batch 4", "async4": "async 4"}  # key: label
SPREAD_FROM = 12  # batches that start at or after this trial are model-driven for every peer
CACHE = Path.home() / ".cache" / "kubetune" / "bench"

Run = list[tuple[dict[str, Any], float]]


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
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "t", "image": "none", "command": ["x"]}]}
                    }
                }
            },
        },
    }
    return load_study(manifest).spec


def parallelism_of(protocol: str) -> int:
    return 1 if protocol == "seq" else 4


def run_kubetune(task: Task, sampler: str, seed: int, trials: int, protocol: str) -> Run:
    """Drive `decide` as the operator would: a wave at a time (seq, batch4), or finishing the
    oldest running trial before each decision (async4)."""
    spec = build_spec(task, sampler, seed, trials, parallelism_of(protocol))
    records: list[TrialRecord] = []
    while True:
        decision = decide(spec, History("bench", tuple(records), 0.0), 0.0)
        for new in decision.create:
            records.append(TrialRecord(new.name, new.index, dict(new.params), TrialState.RUNNING))
        running = [i for i, r in enumerate(records) if r.state == TrialState.RUNNING]
        if not running:
            break
        for i in running[:1] if protocol == "async4" else running:
            done = records[i]
            loss = task.objective(done.params)
            records[i] = TrialRecord(
                done.name,
                done.index,
                done.params,
                TrialState.SUCCEEDED,
                (Report(None, {"loss": loss}),),
                loss,
            )
    records.sort(key=lambda r: r.index)
    return [(dict(r.params), float(r.objective or 0.0)) for r in records]


def _cache_path(sampler: str, task: str, seed: int, trials: int, protocol: str) -> Path:
    tag = hashlib.sha256(json.dumps([sampler, peer_versions()]).encode()).hexdigest()[:12]
    mode = "a4" if protocol == "async4" else f"p{parallelism_of(protocol)}"  # p1, p4: as before
    return CACHE / f"{sampler}-{tag}" / f"{task}-s{seed}-n{trials}-{mode}.json"


def _job(args: tuple[str, str, int, int, str]) -> tuple[tuple[str, str, str, int], Run, float]:
    task_name, sampler, seed, trials, protocol = args
    task = TASKS[task_name]
    parallelism = parallelism_of(protocol)
    started = time.perf_counter()
    if sampler in PEERS:
        path = _cache_path(sampler, task_name, seed, trials, protocol)
        if path.exists():
            run = [(p, v) for p, v in json.loads(path.read_text())]
        else:
            run = run_peer(sampler, task, seed, trials, parallelism, protocol == "async4")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(run))
    else:
        run = run_kubetune(task, sampler, seed, trials, protocol)
    return (task_name, sampler, protocol, seed), run, time.perf_counter() - started


def best_after(run: Run, n: int, task: Task) -> float:
    return min(v for _, v in run[:n]) - task.minimum


def stuck_after(run: Run, n: int, task: Task) -> bool:
    """Whether the best point of the first n trials lies outside the global optimum's basin."""
    assert task.in_global_basin is not None
    best = min(run[:n], key=lambda item: item[1])[0]
    return not task.in_global_basin(best)


def batch_spread(runs: list[Run], task: Task, width: int) -> float | None:
    """Median, over batches, of the smallest Euclidean distance inside one batch (unit cube)."""
    space = build_space(build_spec(task, "random", 0, 10, 1))
    gaps = []
    for run in runs:
        for start in range(SPREAD_FROM, len(run) - width + 1, width):
            units = [np.array(space.encode(p)) for p, _ in run[start : start + width]]
            gaps.append(min(float(np.linalg.norm(a - b)) for a, b in combinations(units, 2)))
    return statistics.median(gaps) if gaps else None


def regrets(
    runs: dict[tuple[str, str, str, int], Run], key: tuple[str, str, str], seeds: int, n: int
) -> list[float]:
    task_name, sampler, protocol = key
    return [
        best_after(runs[(task_name, sampler, protocol, s)], n, TASKS[task_name])
        for s in range(seeds)
    ]


def summarise(
    runs: dict[tuple[str, str, str, int], Run],
    tasks: list[str],
    samplers: list[str],
    seeds: int,
    checkpoints: list[int],
) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for task_name in tasks:
        task = TASKS[task_name]
        for protocol in PROTOCOLS:
            for sampler in samplers:
                if (task_name, sampler, protocol, 0) not in runs:
                    continue  # a protocol not asked for (--protocols)
                row: dict[str, Any] = {"median": {}, "pValue": {}}
                for n in checkpoints:
                    values = regrets(runs, (task_name, sampler, protocol), seeds, n)
                    row["median"][n] = statistics.median(values)
                    if task.in_global_basin is not None:
                        row.setdefault("stuck", {})[n] = sum(
                            stuck_after(runs[(task_name, sampler, protocol, s)], n, task)
                            for s in range(seeds)
                        )
                    for reference, field in (("bayesian", "pValue"), ("tpe", "pValueTpe")):
                        if sampler != reference and (task_name, reference, protocol, 0) in runs:
                            ours = regrets(runs, (task_name, reference, protocol), seeds, n)
                            row.setdefault(field, {})[n] = float(
                                mannwhitneyu(ours, values, alternative="two-sided").pvalue
                            )
                    if (
                        sampler == "bayesian"
                        and protocol != "seq"
                        and (task_name, sampler, "seq", 0) in runs
                    ):
                        # the bar: as good per trial as one at a time
                        alone = regrets(runs, (task_name, sampler, "seq"), seeds, n)
                        median = statistics.median(values)
                        row.setdefault("againstSeq", {})[n] = {
                            "median": median,
                            "seqMedian": statistics.median(alone),
                            "seqTrialsToMatch": seq_trials_to_match(runs, task_name, seeds, median),
                            "pValue": float(
                                mannwhitneyu(values, alone, alternative="two-sided").pvalue
                            ),
                        }
                if protocol == "batch4":
                    row["batchSpread"] = batch_spread(
                        [runs[(task_name, sampler, protocol, s)] for s in range(seeds)], task, 4
                    )
                table[f"{task_name}/{sampler}/{protocol}"] = row
    return table


def seq_trials_to_match(
    runs: dict[tuple[str, str, str, int], Run], task_name: str, seeds: int, target: float
) -> int | None:
    """How many trials one-at-a-time bayesian took to reach `target` (a median regret), or
    None if it never did: "4 at a time after 40 trials is where one at a time was after 34"
    says what a ratio of regrets does not, since regret falls by a factor per trial. Medians,
    not geometric means: those reward a few lucky seeds and hide the ones that got stuck."""
    length = min(len(runs[(task_name, "bayesian", "seq", s)]) for s in range(seeds))
    for n in range(1, length + 1):
        if statistics.median(regrets(runs, (task_name, "bayesian", "seq"), seeds, n)) <= target:
            return n
    return None


def _seq_at(trials: int | None) -> str:
    return "seq never" if trials is None else f"seq@{trials}"


def _fmt(value: float | None, spec: str = ".3g") -> str:
    return "-" if value is None else format(value, spec)


def render(
    table: dict[str, Any],
    tasks: list[str],
    samplers: list[str],
    checkpoints: list[int],
    latency: dict[str, dict[int, float]],
    memory: dict[str, dict[int, float]],
) -> str:
    lines = []
    for task_name in tasks:
        task = TASKS[task_name]
        lines.append(f"\n{task_name}: {task.measure}, median over seeds (lower is better)")
        head = f"  {'sampler':<13}{'protocol':<11}"
        head += "".join(f"{f'@{n}':>10}" for n in checkpoints)
        head += "".join(f"{f'p@{n}':>9}" for n in checkpoints)
        if "tpe" in samplers:
            head += "".join(f"{f'pT@{n}':>9}" for n in checkpoints)
        head += f"{'spread':>9}"
        if task.in_global_basin is not None:
            head += "".join(f"{f'stuck@{n}':>10}" for n in checkpoints)
        lines.append(head)
        for protocol, label in PROTOCOLS.items():
            for sampler in samplers:
                row = table.get(f"{task_name}/{sampler}/{protocol}")
                if row is None:
                    continue
                cells = "".join(f"{_fmt(row['median'][n], '.4g'):>10}" for n in checkpoints)
                cells += "".join(f"{_fmt(row['pValue'].get(n), '.2g'):>9}" for n in checkpoints)
                if "tpe" in samplers:
                    tpe = row.get("pValueTpe", {})
                    cells += "".join(f"{_fmt(tpe.get(n), '.2g'):>9}" for n in checkpoints)
                cells += f"{_fmt(row.get('batchSpread'), '.3f'):>9}"
                if "stuck" in row:
                    cells += "".join(f"{row['stuck'][n]:>10}" for n in checkpoints)
                lines.append(f"  {sampler:<13}{label:<11}{cells}")
    lines.append(
        "\np@N: two-sided Mann-Whitney U, bayesian (same protocol) against that row, N trials;"
        "\npT@N: the same for tpe against that row."
        "\nspread: median smallest distance between two points of one batch (unit cube)."
        "\nstuck@N: seeds whose best point after N trials is outside the global optimum's basin."
    )
    if any("againstSeq" in row for row in table.values()):
        lines.append(
            "\nbayesian 4 at a time against one at a time: median regret (seq beside it),"
            "\np, and seq@K: one at a time first reached that regret after K trials (or never)"
        )
        for task_name in tasks:
            for protocol in ("batch4", "async4"):
                row = table.get(f"{task_name}/bayesian/{protocol}", {})
                if "againstSeq" not in row:
                    continue
                cells = "".join(
                    f"  @{n} {c['median']:.3g} ({c['seqMedian']:.3g})"
                    f" p {c['pValue']:.2g} = {_seq_at(c['seqTrialsToMatch'])}"
                    for n, c in row["againstSeq"].items()
                )
                lines.append(f"  {task_name:<18}{PROTOCOLS[protocol]:<9}{cells}")
    for who, times in latency.items():
        lines.append(f"\n{who}: one ask (median of 3), Hartmann-6, random history:")
        peaks = memory.get(who, {})
        lines += [
            f"  {n:>5} observations: {t:.3f} s"
            + (f", {peaks[n]:.0f} MB allocated at the peak" if n in peaks else "")
            for n, t in times.items()
        ]
    return "\n".join(lines)


def _random_history(observations: int) -> list[tuple[dict[str, float], float]]:
    task = TASKS["hartmann6"]
    rng = np.random.default_rng(0)
    rows = []
    for _ in range(observations):
        params = {f"x{d}": float(v) for d, v in enumerate(rng.random(6))}
        rows.append((params, task.objective(params)))
    return rows


def ask_latency(sampler: str, observations: int, repeats: int = 3) -> tuple[float, float]:
    """Median seconds of one decision by `sampler` with `observations` finished trials, and
    the peak memory it allocated in MB (Python's and numpy's, traced in a run of its own).

    Failed trials (left out of the model) pad the history so the next trial is one that
    searches the whole space, bayesian's slower kind (see `GLOBAL_EVERY`)."""
    spec = build_spec(TASKS["hartmann6"], sampler, 0, observations + 10, 1)
    records = [
        TrialRecord(f"t-{i}", i, p, TrialState.SUCCEEDED, (Report(None, {"loss": v}),), v)
        for i, (p, v) in enumerate(_random_history(observations))
    ]
    for i in range(observations, observations + (-observations) % GLOBAL_EVERY):
        records.append(TrialRecord(f"t-{i}", i, records[0].params, TrialState.FAILED))
    history = History("bench", tuple(records), 0.0)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        decide(spec, history, 0.0)
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    decide(spec, history, 0.0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(times), peak / 1e6


def optuna_ask_latency(observations: int, repeats: int = 3) -> float:
    import optuna  # noqa: PLC0415

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=0))
    dist = optuna.distributions.FloatDistribution(0, 1)
    for params, value in _random_history(observations):
        study.add_trial(
            optuna.trial.create_trial(
                params=params, distributions={k: dist for k in params}, value=value
            )
        )
    times = []
    for _ in range(repeats):
        sampler = optuna.samplers.GPSampler(seed=0)  # a fresh sampler: no cached kernel
        study.sampler = sampler
        started = time.perf_counter()
        trial = study.ask()
        for name in params:
            trial.suggest_float(name, 0, 1)
        times.append(time.perf_counter() - started)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--samplers", default=",".join(OURS + PEERS))
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--protocols", default=",".join(PROTOCOLS))
    parser.add_argument("--latency", default="50,500,2000,10000")
    parser.add_argument("--peer-latency", default="50,200,500")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="benchmarks/results/latest.json")
    args = parser.parse_args()
    samplers = args.samplers.split(",")
    tasks = args.tasks.split(",")
    # 40 and 60 trials, and the end of a longer run (200 for the 20-parameter task)
    checkpoints = [n for n in (40, 60) if n < args.trials] + [args.trials]
    # Slowest first, so the pool does not end on one long run.
    order = {"skopt-katib": 0, "optuna-gp": 1}
    jobs = sorted(
        (
            (task, sampler, seed, args.trials, protocol)
            for task in tasks
            for sampler in samplers
            for protocol in args.protocols.split(",")
            for seed in range(args.seeds)
        ),
        key=lambda j: order.get(j[1], 2),
    )
    started = time.time()
    runs: dict[tuple[str, str, str, int], Run] = {}
    seconds: dict[str, float] = {}
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for done, (key, run, took) in enumerate(pool.map(_job, jobs), start=1):
            runs[key] = run
            seconds[key[1]] = seconds.get(key[1], 0.0) + took
            print(
                f"\r{done}/{len(jobs)} runs ({time.time() - started:.0f}s)", end="", file=sys.stderr
            )
    print(file=sys.stderr)
    latency: dict[str, dict[int, float]] = {}
    memory: dict[str, dict[int, float]] = {}
    for ours in ("bayesian", "tpe"):
        if ours in samplers and args.latency:
            sizes = [int(n) for n in args.latency.split(",")]
            measured = {n: ask_latency(ours, n) for n in sizes}
            latency[f"kubetune {ours}"] = {n: seconds for n, (seconds, _) in measured.items()}
            memory[f"kubetune {ours}"] = {n: mb for n, (_, mb) in measured.items()}
    if "optuna-gp" in samplers and args.peer_latency:
        latency["optuna GPSampler"] = {
            int(n): optuna_ask_latency(int(n)) for n in args.peer_latency.split(",")
        }
    table = summarise(runs, tasks, samplers, args.seeds, checkpoints)
    print(render(table, tasks, samplers, checkpoints, latency, memory))
    result = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "peerVersions": peer_versions() if set(samplers) & set(PEERS) else {},
        "seeds": args.seeds,
        "trials": args.trials,
        "seconds": round(time.time() - started, 1),
        "samplerSeconds": {k: round(v, 1) for k, v in seconds.items()},
        "table": table,
        "askLatencySeconds": latency,
        "askPeakMegabytes": memory,
        "runs": {"/".join(map(str, k)): [v for _, v in run] for k, run in runs.items()},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {out} ({result['seconds']}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

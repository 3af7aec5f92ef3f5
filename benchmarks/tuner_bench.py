"""What one more trial costs a long study: the ask/tell `Tuner` driven for N trials, and one
engine decision over N finished trials.

    .venv/bin/python benchmarks/tuner_bench.py --out benchmarks/results/tuner.json
    (make bench-tuner)

Per sampler: the seconds for all N asks and tells, and the median ask in windows of 100 asks
around trials 500, 2,000 and 10,000 (where the study is that long), so growth with the
study's length shows as a ratio rather than hiding in a total. Then the seconds of one
`decide` over N finished trials (6 parameters), as the operator's pass or `kubetune run` makes
it. The trials are instant (a quadratic), so what is measured is kubetune's own work.
Issue 36's targets: 10,000 random asks and tells under 5 s; tpe's ask at 10,000 trials at
most 0.3 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import write_result
from kubetune.engine import History, Report, TrialRecord, TrialState, decide
from kubetune.engine.ledger import TrialLedger
from kubetune.local.tuner import Tuner

WINDOWS = (500, 2000, 10000)
DIMS = 6


STOPPING = {
    "median": {},
    "asha": {"minBudget": 1, "maxBudget": 9, "reductionFactor": 3},
    "hyperband": {"minBudget": 1, "maxBudget": 9, "reductionFactor": 3},
}


def manifest(algorithm: str, trials: int, stopping: str = "") -> dict[str, Any]:
    settings = {"settings": {"gridPoints": 10}} if algorithm == "grid" else {}
    rule = {"earlyStopping": {"name": stopping, "settings": STOPPING[stopping]}} if stopping else {}
    return {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "Study",
        "metadata": {"name": f"bench-{algorithm}"},
        "spec": {
            "objective": {"metric": "loss", "goal": "minimize"},
            "algorithm": {"name": algorithm, "seed": 1, **settings},
            "parameters": [
                {"name": f"x{d}", "type": "float", "min": 0.0, "max": 1.0} for d in range(DIMS)
            ],
            "budget": {"maxTrials": trials, "parallelism": 1},
            **rule,
            "trialTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "t", "image": "t", "command": ["true"]}],
                        }
                    }
                }
            },
        },
    }


def loss(params: dict[str, Any]) -> float:
    return float(sum((float(v) - 0.3) ** 2 for v in params.values()))


def drive(algorithm: str, trials: int) -> dict[str, Any]:
    """N asks and tells of an in-memory Tuner; the total and the windows' median asks."""
    tuner = Tuner.from_manifest(manifest(algorithm, trials))
    asks: list[float] = []
    started = time.perf_counter()
    for done in range(trials):
        before = time.perf_counter()
        trial = tuner.ask()
        asks.append(time.perf_counter() - before)
        tuner.tell(trial.name, loss(dict(trial.params)))
        if done % 500 == 499:
            print(f"\r{algorithm}: {done + 1}/{trials}", end="", file=sys.stderr)
    total = time.perf_counter() - started
    print(file=sys.stderr)
    windows = {str(w): statistics.median(asks[w - 100 : w]) for w in WINDOWS if w <= len(asks)}
    return {"trials": trials, "seconds": total, "medianAsk": windows}


def one_decision(name: str, observations: int) -> dict[str, float]:
    """Seconds of one decision over `observations` finished trials: from a ledger (as the
    Tuner and `kubetune run` keep them; the second decision, once the ledger has read them)
    and from a history counted afresh. SAMPLER+RULE (random+median, ...): each finished
    trial reported 9 steps, and 50 running trials are judged by the stopping rule."""
    algorithm, _, stopping = name.partition("+")
    rng = np.random.default_rng(0)
    records = []
    for i in range(observations + (50 if stopping else 0)):
        params = {f"x{d}": float(v) for d, v in enumerate(rng.random(DIMS))}
        value = loss(params)
        if not stopping:
            reports: tuple[Report, ...] = (Report(None, {"loss": value}),)
        else:
            steps = 9 if i < observations else int(rng.integers(1, 9))
            reports = tuple(Report(s, {"loss": value * (1 + 9 / s)}) for s in range(1, steps + 1))
        state = TrialState.SUCCEEDED if i < observations else TrialState.RUNNING
        objective = value if i < observations else None
        records.append(TrialRecord(f"t-{i}", i, params, state, reports, objective))
    from kubetune.api import load_study  # noqa: PLC0415

    spec = load_study(manifest(algorithm, observations + 100, stopping)).spec
    ledger = TrialLedger(records)
    decide(spec, ledger.history("t", 0.0), 0.0)  # the first reads every trial once
    timed = {}
    for label, history in (
        ("ledger", lambda: ledger.history("t", 0.0)),
        ("counted", lambda: History("t", tuple(records), 0.0)),
    ):
        times = []
        for _ in range(3):
            given = history()
            before = time.perf_counter()
            decide(spec, given, 0.0)
            times.append(time.perf_counter() - before)
        timed[label] = statistics.median(times)
    return timed


def render(runs: dict[str, dict[str, Any]], decisions: dict[str, dict[str, Any]]) -> str:
    lines = ["Tuner: N asks and tells (instant trials)", ""]
    lines.append(
        f"{'sampler':<10}{'trials':>8}{'seconds':>10}"
        + "".join(f"{'ask@' + str(w):>12}" for w in WINDOWS)
    )
    for name, run in runs.items():
        cells = "".join(
            f"{run['medianAsk'][str(w)] * 1000:>10.2f}ms"
            if str(w) in run["medianAsk"]
            else f"{'-':>12}"
            for w in WINDOWS
        )
        lines.append(f"{name:<10}{run['trials']:>8}{run['seconds']:>10.2f}{cells}")
    lines += ["", "One decision over N finished trials (seconds: ledger / counted afresh)", ""]
    for name, sizes in decisions.items():
        cells = "  ".join(f"{n}: {t['ledger']:.4f} / {t['counted']:.4f}" for n, t in sizes.items())
        lines.append(f"{name:<18}{cells}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="benchmarks/results/tuner.json")
    parser.add_argument(
        "--runs",
        default="random:10000,sobol:10000,grid:10000,tpe:10000",
        help="SAMPLER:TRIALS,... driven through the Tuner",
    )
    parser.add_argument(
        "--decisions", default="random,tpe,bayesian,random+median,random+asha,random+hyperband"
    )
    parser.add_argument("--sizes", default="500,2000,10000")
    args = parser.parse_args()
    started = time.time()
    runs = {}
    for item in filter(None, args.runs.split(",")):
        name, count = item.split(":")
        runs[name] = drive(name, int(count))
    sizes = [int(n) for n in args.sizes.split(",") if n]
    decisions = {
        name: {str(n): one_decision(name, n) for n in sizes}
        for name in filter(None, args.decisions.split(","))
    }
    print(render(runs, decisions))
    write_result(args.out, {"tuner": runs, "decision": decisions}, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())

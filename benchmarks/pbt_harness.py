"""What the PBT benchmarks share: PBT's segments driven through `engine.pbt.next_segments`
(a checkpoint is whatever the task's training returns), and a fixed-hyperparameter search
driven through `decide`, with the same total steps.

A task gives `train(checkpoint | None, params, steps, seed) -> (checkpoint, score)` (None:
from scratch; the score is what the trial reports at the end of its steps, higher is better)
and `judge(checkpoint) -> float` (the final figure: the task's own held-out score).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu

from kubetune.api import load_study
from kubetune.engine import History, Report, TrialRecord, TrialState, decide
from kubetune.engine.encoding import build_space
from kubetune.engine.pbt import PbtSettings, next_segments

Train = Callable[[Any, dict[str, Any], int, int], tuple[Any, float]]
Judge = Callable[[Any], float]


def spec(parameters: Sequence[dict[str, Any]], algorithm: str, seed: int, trials: int) -> Any:
    return load_study(
        {
            "apiVersion": "kubetune.io/v1alpha1",
            "kind": "Study",
            "metadata": {"name": "bench"},
            "spec": {
                "objective": {"metric": "score", "goal": "maximize"},
                "parameters": list(parameters),
                "algorithm": {"name": algorithm, "seed": seed},
                "budget": {"maxTrials": trials, "parallelism": 1},
                "trialTemplate": {
                    "spec": {
                        "template": {
                            "spec": {
                                "containers": [
                                    {"name": "t", "image": "x", "command": ["python", "t.py"]}
                                ]
                            }
                        }
                    }
                },
            },
        }
    ).spec


def run_pbt(
    parameters: Sequence[dict[str, Any]],
    settings: PbtSettings,
    steps: int,
    train: Train,
    judge: Judge,
    seed: int,
) -> dict[str, Any]:
    """PBT with parallelism = population until every member trained `steps`: the best
    member's final checkpoint by the reported score, judged."""
    space = build_space(spec(parameters, "random", seed, 1))
    rng = np.random.default_rng(seed)
    total = settings.population * steps // settings.interval
    trials: list[TrialRecord] = []
    checkpoints: dict[str, tuple[int, Any]] = {}
    members: dict[str, int] = {}
    exploits = 0
    while len(trials) < total:
        history = History("bench", tuple(trials))
        wanted = min(settings.population, total - len(trials))
        for segment in next_segments(space, settings, history, wanted, True, rng):
            lineage = segment.lineage
            step, state = checkpoints[lineage.parent] if lineage.parent else (0, None)
            exploits += lineage.parent is not None and members[lineage.parent] != lineage.member
            state, score = train(state, dict(segment.params), segment.end_step - step, seed)
            name = f"bench-{len(trials)}"
            checkpoints[name], members[name] = (segment.end_step, state), lineage.member
            report = (Report(segment.end_step, {"score": score}),)
            trials.append(
                TrialRecord(
                    name,
                    len(trials),
                    segment.params,
                    TrialState.SUCCEEDED,
                    report,
                    score,
                    lineage=lineage,
                )
            )
    finished = [t for t in trials if checkpoints[t.name][0] == steps]
    best = max(finished, key=lambda t: t.objective or float("-inf"))
    return {"final": judge(checkpoints[best.name][1]), "exploits": exploits}


def run_fixed(
    parameters: Sequence[dict[str, Any]],
    algorithm: str,
    trials: int,
    steps: int,
    train: Train,
    judge: Judge,
    seed: int,
) -> dict[str, Any]:
    """`trials` trials of `steps` each, one at a time through `decide`: the best by the
    reported score, judged."""
    study = spec(parameters, algorithm, seed, trials)
    done: list[TrialRecord] = []
    models: dict[str, Any] = {}
    while True:
        decision = decide(study, History("bench", tuple(done), started_at=0.0), 0.0)
        if decision.finish is not None or not decision.create:
            break
        for new in decision.create:
            models[new.name], score = train(None, dict(new.params), steps, seed)
            report = (Report(steps, {"score": score}),)
            done.append(
                TrialRecord(new.name, new.index, new.params, TrialState.SUCCEEDED, report, score)
            )
    best = max(done, key=lambda t: t.objective or float("-inf"))
    return {"final": judge(models[best.name]), "params": dict(best.params)}


def table(finals: dict[str, list[float]], stuck_below: float) -> str:
    """Median, min, max, seeds no better than `stuck_below`, and Mann-Whitney U (two-sided)
    of PBT against each other row."""
    lines = [f"{'method':<10} {'median':>8} {'min':>8} {'max':>8} {'stuck':>6} {'p vs pbt':>9}"]
    for name, values in finals.items():
        p = "" if name == "pbt" else f"{mannwhitneyu(finals['pbt'], values).pvalue:.2g}"
        stuck = sum(v <= stuck_below for v in values)
        lines.append(
            f"{name:<10} {statistics.median(values):8.4f} {min(values):8.4f} "
            f"{max(values):8.4f} {stuck:6d} {p:>9}"
        )
    return "\n".join(lines)


def compare(
    parameters: Sequence[dict[str, Any]],
    settings: PbtSettings,
    steps: int,
    train: Train,
    judge_for: Callable[[int], Judge],
    seeds: int,
) -> dict[str, list[dict[str, Any]]]:
    """PBT, then `bayesian` and `random` with as many trials as members, seed by seed."""
    rows: dict[str, list[dict[str, Any]]] = {"pbt": [], "bayesian": [], "random": []}
    for seed in range(seeds):
        judge = judge_for(seed)
        rows["pbt"].append(run_pbt(parameters, settings, steps, train, judge, seed))
        for name in ("bayesian", "random"):
            trials = settings.population
            rows[name].append(run_fixed(parameters, name, trials, steps, train, judge, seed))
    return rows


def arguments(doc: str | None, out: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(doc or "").split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--out", default=out)
    return parser.parse_args()


def write(out: str, started: float, settings: dict[str, Any], **more: Any) -> None:
    result = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "seconds": round(time.time() - started, 1),
        "settings": settings,
        **more,
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=1))
    print(f"wrote {out} ({result['seconds']} s)")

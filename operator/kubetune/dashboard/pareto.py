"""The Pareto view of a study with several objectives (pure): every succeeded trial by its
first two objectives, the feasible ones apart from those that broke a constraint, and the
front (the non-dominated feasible trials over all objectives, from the Study's status when
the operator wrote one, else computed here) as a step line. With three or four objectives
the front is still judged on all of them; the plot shows the first two, and the table and
`kubetune best` hold the rest."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from kubetune.engine.pareto import nondominated_ranks

Obj = Mapping[str, Any]
#: Points drawn at most per group (the front always whole).
MAX_POINTS = 2000


def goals_of(spec: Obj) -> list[Obj]:
    """The objectives in order: `objectives`, or the one `objective`."""
    return list(spec.get("objectives") or [spec["objective"]])


def trial_values(trial: Obj, metrics: Sequence[str]) -> dict[str, float]:
    """A finished trial's value of each metric: what its status recorded, else its last
    report of it."""
    status = trial.get("status") or {}
    values = {k: float(v) for k, v in (status.get("values") or {}).items() if _finite(v)}
    for metric in metrics:
        if metric in values:
            continue
        for report in reversed(status.get("reports") or []):
            if _finite(report["metrics"].get(metric)):
                values[metric] = float(report["metrics"][metric])
                break
    return values


def feasible(spec: Obj, values: Mapping[str, float]) -> bool:
    for constraint in spec.get("constraints") or []:
        value = values.get(constraint["metric"])
        if value is None:
            return False
        if constraint.get("max") is not None and value > constraint["max"]:
            return False
        if constraint.get("min") is not None and value < constraint["min"]:
            return False
    return True


def trial_feasible(spec: Obj, trial: Obj) -> bool:
    """Whether a trial kept every constraint of the study (true when it has none)."""
    constraints = spec.get("constraints") or []
    if not constraints:
        return True
    return feasible(spec, trial_values(trial, [c["metric"] for c in constraints]))


def pareto_plot(study: Obj, trials: Sequence[Obj]) -> dict[str, Any] | None:
    spec = study["spec"]
    goals = goals_of(spec)
    if len(goals) < 2:
        return None
    metrics = [g["metric"] for g in goals]
    measured = metrics + [c["metric"] for c in spec.get("constraints") or []]
    signs = np.array([1.0 if g["goal"] == "minimize" else -1.0 for g in goals])
    groups: dict[str, dict[str, list[Any]]] = {
        name: {"x": [], "y": [], "trial": []} for name in ("feasible", "infeasible")
    }
    rows: list[tuple[str, dict[str, float]]] = []
    for trial in sorted(trials, key=lambda t: t["spec"]["index"]):
        if (trial.get("status") or {}).get("phase") != "Succeeded":
            continue
        values = trial_values(trial, measured)
        if any(m not in values for m in metrics):
            continue
        ok = feasible(spec, values)
        group = groups["feasible" if ok else "infeasible"]
        if len(group["x"]) < MAX_POINTS:
            group["x"].append(values[metrics[0]])
            group["y"].append(values[metrics[1]])
            group["trial"].append(trial["metadata"]["name"])
        if ok:
            rows.append((trial["metadata"]["name"], values))
    front = _front(study, rows, metrics, signs)
    front.sort(key=lambda m: signs[0] * m[1][metrics[0]])
    return {
        "x": {"metric": metrics[0], "goal": goals[0]["goal"]},
        "y": {"metric": metrics[1], "goal": goals[1]["goal"]},
        "objectives": len(metrics),
        "points": groups,
        "front": {
            "x": [v[metrics[0]] for _, v in front],
            "y": [v[metrics[1]] for _, v in front],
            "trial": [name for name, _ in front],
        },
    }


def _front(
    study: Obj, rows: list[tuple[str, dict[str, float]]], metrics: list[str], signs: np.ndarray
) -> list[tuple[str, dict[str, float]]]:
    stored = (study.get("status") or {}).get("paretoFront")
    if stored:
        return [(m["name"], dict(m["objectives"])) for m in stored]
    if not rows:
        return []
    losses = np.array([[v[m] for m in metrics] for _, v in rows]) * signs
    return [row for row, rank in zip(rows, nondominated_ranks(losses), strict=True) if rank == 0]


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)

"""What `kubetune status`, `trials`, `best` and `logs` show: pure renderings of a Study and
its Trials as the API server returns them (the CLI fetches them through kube.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubetune.api.algorithms import SAMPLERS
from kubetune.api.trial import TrialState
from kubetune.tables import render_table

Obj = Mapping[str, Any]


def _value(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def render_status(study: Obj) -> str:
    meta, spec, status = study["metadata"], study["spec"], study.get("status") or {}
    counts = status.get("trials") or {}
    condition = (status.get("conditions") or [{}])[0]
    lines = [
        f"Study {meta['namespace']}/{meta['name']}: {status.get('phase', 'Created')}"
        + (f" ({status['finishedBecause']})" if status.get("finishedBecause") else ""),
        "  objective  "
        + ", ".join(f"{o['goal']} {o['metric']}" for o in _goals(spec))
        + "".join(
            f"; {c['metric']}"
            + (f" >= {c['min']:g}" if c.get("min") is not None else "")
            + (f" <= {c['max']:g}" if c.get("max") is not None else "")
            for c in spec.get("constraints") or []
        ),
        f"  algorithm  {_algorithm(spec, status)}, "
        f"early stopping {(spec.get('earlyStopping') or {}).get('name', 'none')}",
        f"  progress   {status.get('progress', '-')}  "
        + ", ".join(f"{k} {v}" for k, v in counts.items() if k != "total" and v),
    ]
    for source in status.get("warmStart") or []:
        said = f"{source['study']}: {source['used']} trials learned from"
        if source.get("skipped"):
            said += f", {source['skipped']} skipped (first: {source.get('firstSkipped')})"
        lines.append(f"  warm start {said}")
    front = status.get("paretoFront") or []
    for member in front[:10]:
        said = ", ".join(f"{k} {_value(v)}" for k, v in member["objectives"].items())
        lines.append(f"  front      {member['name']}: {said}")
    if len(front) > 10:
        lines.append(f"  front      ... {len(front) - 10} more (kubetune best)")
    best = status.get("bestTrial")
    if best and not front:
        params = ", ".join(f"{k}={_value(v)}" for k, v in best["params"].items())
        lines.append(f"  best       {best['name']}: {_value(best['objective'])} ({params})")
    if condition.get("message"):
        lines.append(f"  condition  {condition.get('reason')}: {condition['message']}")
    for stop in (status.get("earlyStopped") or [])[-5:]:
        lines.append(f"  stopped    {stop['trial']} at step {stop['step']}: {stop['reason']}")
    return "\n".join(lines)


def _goals(spec: Obj) -> list[Obj]:
    return list(spec.get("objectives") or [spec["objective"]])


def render_trials(study: Obj, trials: Sequence[Obj]) -> str:
    """Trials sorted best first (front members first when there are several objectives, then
    by the first objective in its direction), infeasible after feasible, unfinished last."""
    goals = _goals(study["spec"])
    maximize = goals[0]["goal"] == "maximize"
    names = [p["name"] for p in study["spec"]["parameters"]]
    on_front = {m["name"] for m in (study.get("status") or {}).get("paretoFront") or []}
    several = len(goals) > 1

    def order(trial: Obj) -> tuple[int, int, float, int]:
        status = trial.get("status") or {}
        objective = status.get("objective")
        if objective is None:
            return (2, 0, 0.0, trial["spec"]["index"])
        infeasible = 1 if status.get("violations") else 0
        away = 0 if trial["metadata"]["name"] in on_front else 1
        return (infeasible, away, -objective if maximize else objective, trial["spec"]["index"])

    def shown(status: Obj, metric: str) -> str:
        value = (status.get("values") or {}).get(metric)
        if value is None and metric == goals[0]["metric"]:
            value = status.get("objective")
        return "-" if value is None else _value(value)

    # Preempted (Kueue): retried in place with the same params, so only its count says so
    # once it runs again; the column appears when any trial was.
    preempted = any((t.get("status") or {}).get("preemptions") for t in trials)
    # pbt: each segment's member and the trial whose checkpoint it continued.
    lines = any(t["spec"].get("lineage") for t in trials)
    rows = []
    for trial in sorted(trials, key=order):
        status = trial.get("status") or {}
        rows.append(
            [
                trial["metadata"]["name"],
                status.get("phase", TrialState.PENDING.value),
                *(shown(status, g["metric"]) for g in goals),
                *(["*" if trial["metadata"]["name"] in on_front else ""] if several else []),
                *(_value(trial["spec"]["params"].get(n, "-")) for n in names),
                *([str(status.get("preemptions") or "-")] if preempted else []),
                *(_lineage_cells(trial) if lines else []),
                (status.get("reason") or "")[:60],
            ]
        )
    metrics = [g["metric"].upper() for g in goals] + (["FRONT"] if several else [])
    extra = (["PREEMPTED"] if preempted else []) + (["MEMBER", "PARENT"] if lines else [])
    return render_table(["TRIAL", "PHASE", *metrics, *names, *extra, "REASON"], rows)


def _lineage_cells(trial: Obj) -> list[str]:
    lineage = trial["spec"].get("lineage") or {}
    if not lineage:
        return ["-", "-"]
    return [str(lineage["member"]), lineage.get("parent") or "-"]


def best_document(study: Obj) -> dict[str, Any] | None:
    """The best trial, or with several objectives the Pareto front."""
    status = study.get("status") or {}
    if study["spec"].get("objectives"):
        front = status.get("paretoFront") or []
        if not front:
            return None
        return {
            "study": study["metadata"]["name"],
            "namespace": study["metadata"]["namespace"],
            "pareto": [
                {"trial": m["name"], "params": m["params"], "objectives": m["objectives"]}
                for m in front
            ],
        }
    best = status.get("bestTrial")
    if not best:
        return None
    return {
        "study": study["metadata"]["name"],
        "namespace": study["metadata"]["namespace"],
        "trial": best["name"],
        "params": best["params"],
        "objective": best["objective"],
        "metric": study["spec"]["objective"]["metric"],
    }


def _algorithm(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    """The sampler in use, and why when `auto` picked it (from the status; before the first
    pass, the name the spec gives)."""
    used = status.get("algorithm") or {}
    if used.get("name"):
        reason = used.get("reason") or ""
        return str(used["name"]) + (f" ({reason})" if reason.startswith("auto") else "")
    return str((spec.get("algorithm") or {}).get("name", SAMPLERS.default))

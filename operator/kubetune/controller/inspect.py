"""What `kubetune status`, `trials`, `best` and `logs` show: pure renderings of a Study and
its Trials as the API server returns them (the CLI fetches them through kube.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
        f"  objective  {spec['objective']['goal']} {spec['objective']['metric']}",
        f"  algorithm  {(spec.get('algorithm') or {}).get('name', 'bayesian')}, "
        f"early stopping {(spec.get('earlyStopping') or {}).get('name', 'none')}",
        f"  progress   {status.get('progress', '-')}  "
        + ", ".join(f"{k} {v}" for k, v in counts.items() if k != "total" and v),
    ]
    best = status.get("bestTrial")
    if best:
        params = ", ".join(f"{k}={_value(v)}" for k, v in best["params"].items())
        lines.append(f"  best       {best['name']}: {_value(best['objective'])} ({params})")
    if condition.get("message"):
        lines.append(f"  condition  {condition.get('reason')}: {condition['message']}")
    for stop in (status.get("earlyStopped") or [])[-5:]:
        lines.append(f"  stopped    {stop['trial']} at step {stop['step']}: {stop['reason']}")
    return "\n".join(lines)


def render_trials(study: Obj, trials: Sequence[Obj]) -> str:
    """Trials sorted best first (by objective in the goal's direction), unfinished last."""
    maximize = study["spec"]["objective"]["goal"] == "maximize"
    names = [p["name"] for p in study["spec"]["parameters"]]

    def order(trial: Obj) -> tuple[int, float, int]:
        objective = (trial.get("status") or {}).get("objective")
        if objective is None:
            return (1, 0.0, trial["spec"]["index"])
        return (0, -objective if maximize else objective, trial["spec"]["index"])

    # Preempted (Kueue): retried in place with the same params, so only its count says so
    # once it runs again; the column appears when any trial was.
    preempted = any((t.get("status") or {}).get("preemptions") for t in trials)
    rows = []
    for trial in sorted(trials, key=order):
        status = trial.get("status") or {}
        objective = status.get("objective")
        rows.append(
            [
                trial["metadata"]["name"],
                status.get("phase", TrialState.PENDING.value),
                "-" if objective is None else _value(objective),
                *(_value(trial["spec"]["params"].get(n, "-")) for n in names),
                *([str(status.get("preemptions") or "-")] if preempted else []),
                (status.get("reason") or "")[:60],
            ]
        )
    metric = study["spec"]["objective"]["metric"].upper()
    extra = ["PREEMPTED"] if preempted else []
    return render_table(["TRIAL", "PHASE", metric, *names, *extra, "REASON"], rows)


def best_document(study: Obj) -> dict[str, Any] | None:
    best = (study.get("status") or {}).get("bestTrial")
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

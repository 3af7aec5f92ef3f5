"""The Pareto view of a study with several objectives (pure): every succeeded trial by its
first two objectives, the feasible ones apart from those that broke a constraint, and the
front (the non-dominated feasible trials over all objectives, from the Study's status when
the operator wrote one, else the engine's, as the operator would write it) as a step line.
With three or four objectives the front is still judged on all of them; the plot shows the
first two, and the table and `kubetune best` hold the rest. Which trials are feasible and
what each achieved is the engine's answer (`records.judged`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubetune.api.goals import Objective
from kubetune.records.judged import Judged, SpecGoals

Obj = Mapping[str, Any]
#: Points drawn at most per group (the front always whole).
MAX_POINTS = 2000


def goals_of(spec: Obj) -> list[Objective]:
    """The objectives in order, parsed: `objectives`, or the one `objective`."""
    return SpecGoals.of(spec).goals


def pareto_plot(study: Obj, trials: Sequence[Obj]) -> dict[str, Any] | None:
    spec = study["spec"]
    judged = Judged(spec)
    goals = judged.spec.goals
    if len(goals) < 2:
        return None
    metrics = [g.metric for g in goals]
    groups: dict[str, dict[str, list[Any]]] = {
        name: {"x": [], "y": [], "trial": []} for name in ("feasible", "infeasible")
    }
    succeeded = []
    for trial in sorted(trials, key=lambda t: t["spec"]["index"]):
        if (trial.get("status") or {}).get("phase") != "Succeeded":
            continue
        values = judged.values(trial)
        if values is None:
            continue
        succeeded.append(trial)
        group = groups["feasible" if judged.goals.feasible(values) else "infeasible"]
        if len(group["x"]) < MAX_POINTS:
            group["x"].append(values[metrics[0]])
            group["y"].append(values[metrics[1]])
            group["trial"].append(trial["metadata"]["name"])
    stored = (study.get("status") or {}).get("paretoFront")
    front = (
        [(m["name"], dict(m["objectives"])) for m in stored] if stored else judged.front(succeeded)
    )
    sign = 1.0 if goals[0].goal == "minimize" else -1.0
    front.sort(key=lambda m: sign * m[1][metrics[0]])
    return {
        "x": {"metric": metrics[0], "goal": goals[0].goal},
        "y": {"metric": metrics[1], "goal": goals[1].goal},
        "objectives": len(metrics),
        "points": groups,
        "front": {
            "x": [v[metrics[0]] for _, v in front],
            "y": [v[metrics[1]] for _, v in front],
            "trial": [name for name, _ in front],
        },
    }

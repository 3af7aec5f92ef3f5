"""The lineage view of a pbt study (pure): each member's line as the objective against the
line's steps, one trace per member, and the exploit jumps, where a member continued from
another member's checkpoint, marked (a dashed link from the checkpoint's last point to the
segment's first). A member's line is its segments in order; a failed segment draws what it
reported before failing, and the next one starts again from its parent's step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Obj = Mapping[str, Any]
#: Members drawn at most (the best ones by their latest value); the rest are counted.
MAX_MEMBERS = 40


def _series(trial: Obj, metric: str) -> list[tuple[int, float]]:
    points = []
    for position, report in enumerate((trial.get("status") or {}).get("reports") or ()):
        value = report.get("metrics", {}).get(metric)
        if isinstance(value, int | float):
            step = report.get("step")
            points.append((position + 1 if step is None else int(step), float(value)))
    return points


def lineage_plot(study: Obj, trials: Sequence[Obj], metric: str, maximize: bool) -> Obj | None:
    if ((study.get("spec") or {}).get("algorithm") or {}).get("name") != "pbt":
        return None
    by_name = {t["metadata"]["name"]: t for t in trials}
    lines: dict[int, list[Obj]] = {}
    for trial in sorted(trials, key=lambda t: t["spec"]["index"]):
        lineage = trial["spec"].get("lineage")
        if lineage:
            lines.setdefault(int(lineage["member"]), []).append(trial)
    members: list[dict[str, Any]] = []
    jumps: dict[str, list[Any]] = {k: [] for k in ("x", "y", "trial", "parent", "changes")}
    for number, segments in sorted(lines.items()):
        x: list[int | None] = []
        y: list[float | None] = []
        names: list[str | None] = []
        for trial in segments:
            name, lineage = trial["metadata"]["name"], trial["spec"]["lineage"]
            points = _series(trial, metric)
            parent = by_name.get(lineage.get("parent") or "")
            start = _series(parent, metric)[-1:] if parent is not None else []
            own = parent is not None and parent["spec"]["lineage"]["member"] == number
            if parent is not None and not own and start and points:
                # The exploit: a dashed link from the checkpoint's last point.
                jumps["x"] += [start[0][0], points[0][0], None]
                jumps["y"] += [start[0][1], points[0][1], None]
                jumps["trial"] += [name, name, None]
                jumps["parent"] += [parent["metadata"]["name"]] * 2 + [None]
                changes = lineage.get("changes") or {}
                said = ", ".join(f"{k} {v}" for k, v in sorted(changes.items()))
                jumps["changes"] += [said, said, None]
            if not own and x:  # a new line: break the member's trace
                x.append(None)
                y.append(None)
                names.append(None)
            for step, value in ([] if not own else start) + points:
                x.append(step)
                y.append(value)
                names.append(name)
        latest = next((v for v in reversed(y) if v is not None), None)
        members.append({"member": number, "x": x, "y": y, "trial": names, "latest": latest})
    scored = [m for m in members if m["latest"] is not None]
    scored.sort(key=lambda m: -m["latest"] if maximize else m["latest"])
    shown = sorted(scored[:MAX_MEMBERS], key=lambda m: m["member"])
    return {
        "metric": metric,
        "members": shown,
        "jumps": jumps,
        "population": len(lines),
        "segments": sum(len(s) for s in lines.values()),
    }

"""What the dashboard shows, computed from a Study and its Trials (pure: no I/O, no clock).

Everything a plot needs is aggregated here, on the server, so a page over 10,000 trials
receives a few thousand numbers per plot rather than every report, and the browser draws
plain SVG (no WebGL: a software renderer takes seconds to start one, and many machines that
open a report have no GPU). Past `MAX_MARKERS` trials the objective plot becomes a density
of every trial with the best ones drawn as points; learning curves are thinned (at most
`MAX_CURVES` curves of at most `MAX_POINTS` points, every early stop still marked); parallel
coordinates and slices draw the best trials and an even sample of the rest; the contour is a
grid of means. Y-ranges are robust: a few diverged trials would otherwise squash the region
where the good trials are. The trial table is sent whole (10,000 rows are ~2.7 MB of JSON)
and paged in the browser, where sorting and filtering it take milliseconds.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from kubetune.api.algorithms import SAMPLERS, STOPPING_RULES
from kubetune.dashboard.importance import importance, importance_method
from kubetune.dashboard.lineage import lineage_plot
from kubetune.dashboard.pareto import goals_of, pareto_plot
from kubetune.records.judged import Judged

Obj = Mapping[str, Any]

#: Curves drawn at most (the best ones, every stopped one up to this, then an even sample).
MAX_CURVES = 150
#: Points per drawn curve at most (first and last kept; the stop step always kept).
MAX_POINTS = 40
#: Contour grid cells per axis for numeric parameters.
GRID = 16
#: Trials drawn as points (objective plot) or lines (parallel coordinates) at most; past it,
#: the best third and an even sample of the rest (and the objective plot adds a density).
MAX_MARKERS = 1000
#: Points per slice plot, and trials over the contour, at most (the best and a sample, as above).
MAX_SLICE_POINTS = 500
#: Early stops marked at most (those of the drawn curves first).
MAX_STOPS = 300
#: Density cells of a large objective plot: trial-index bins by objective bins.
DENSITY = (80, 40)

FINISHED = ("Succeeded", "Failed", "EarlyStopped", "Killed")


def _time(value: str | None) -> float | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value).timestamp()  # RFC 3339, with or without fraction


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def study_key(study: Obj) -> str:
    """The study's id in URLs: NAMESPACE:NAME on the cluster, local:NAME for a results file."""
    meta = study["metadata"]
    namespace = str(meta.get("namespace") or "")
    if namespace.startswith("local:"):
        return f"local:{meta['name']}"
    return f"{namespace}:{meta['name']}"


def _goal(study: Obj) -> tuple[str, bool]:
    """The first objective (the only one, or the one single-number views show)."""
    objective = goals_of(study["spec"])[0]
    return objective.metric, objective.goal == "maximize"


# ----- the list of studies ------------------------------------------------------------------


def summary(study: Obj, now: float) -> dict[str, Any]:
    """One row of `GET /api/studies` (the fields the README documents)."""
    meta, spec, status = study["metadata"], study["spec"], study.get("status") or {}
    namespace = str(meta.get("namespace") or "")
    local = namespace.startswith("local:")
    best = status.get("bestTrial")
    counts = status.get("trials") or {}
    started = _time(status.get("startTime")) or _time(meta.get("creationTimestamp"))
    metric, maximize = _goal(study)
    condition = (status.get("conditions") or [{}])[0]
    return {
        "key": study_key(study),
        "name": meta["name"],
        "namespace": None if local else namespace,
        "source": namespace[len("local:") :] if local else "cluster",
        "phase": status.get("phase", "Created"),
        "trials": counts.get("total", 0),
        "counts": {k: v for k, v in counts.items() if k != "total"},
        "maxTrials": spec["budget"]["maxTrials"],
        "progress": status.get("progress"),
        "best": None
        if not best
        else {"trial": best["name"], "params": best["params"], "objective": best["objective"]},
        "metric": metric,
        "goal": "maximize" if maximize else "minimize",
        "objectives": [{"metric": g.metric, "goal": g.goal} for g in goals_of(spec)],
        "constraints": list(spec.get("constraints") or []),
        "front": [m["name"] for m in status.get("paretoFront") or []],
        "algorithm": (status.get("algorithm") or {}).get("name")
        or (spec.get("algorithm") or {}).get("name", SAMPLERS.default),
        "earlyStopping": (spec.get("earlyStopping") or {}).get("name", STOPPING_RULES.default),
        "finishedBecause": status.get("finishedBecause"),
        "message": condition.get("message"),
        "started": started,
        "age": None if started is None else max(0.0, now - started),
    }


# ----- one study ----------------------------------------------------------------------------


def trial_row(trial: Obj) -> dict[str, Any]:
    """One row of `GET /api/studies/{key}/trials` and of the exports."""
    spec, status = trial["spec"], trial.get("status") or {}
    reports = status.get("reports") or []
    steps = [r["step"] for r in reports if r.get("step") is not None]
    started, ended = _time(status.get("startTime")), _time(status.get("completionTime"))
    stop = status.get("stop")
    return {
        "name": trial["metadata"]["name"],
        "index": spec["index"],
        "state": status.get("phase", "Pending"),
        "objective": status.get("objective"),
        "params": dict(spec["params"]),
        "reason": status.get("reason") or (stop or {}).get("reason"),
        "reports": len(reports),
        "lastStep": max(steps) if steps else None,
        "started": started,
        "ended": ended,
        "seconds": None if started is None or ended is None else round(ended - started, 3),
    }


def _shown_value(trial: Obj, metric: str) -> float | None:
    """A trial's point on the objective plot: its objective, else (stopped or failed) the
    value it was stopped at or the last value it reported."""
    status = trial.get("status") or {}
    if _finite(status.get("objective")):
        return float(status["objective"])
    if status.get("stop") and _finite(status["stop"].get("value")):
        return float(status["stop"]["value"])
    for report in reversed(status.get("reports") or []):
        if _finite(report["metrics"].get(metric)):
            return float(report["metrics"][metric])
    return None


def robust_range(values: Sequence[float], keep: Sequence[float] = ()) -> list[float] | None:
    """A y-range for `values` that a few wild values cannot stretch: Tukey's far fences
    (3 IQR past the quartiles), clipped to the data, widened to hold `keep` (the best value),
    with 5 % padding. None for no values."""
    if not values:
        return None
    data = np.asarray(values, dtype=float)
    q1, q3 = np.percentile(data, [25, 75])
    spread = q3 - q1
    lo, hi = float(data.min()), float(data.max())
    if spread > 0:
        lo, hi = max(lo, q1 - 3 * spread), min(hi, q3 + 3 * spread)
    for value in keep:
        lo, hi = min(lo, value), max(hi, value)
    pad = (hi - lo) * 0.05 or abs(hi) * 0.05 or 1.0
    return [lo - pad, hi + pad]


def _onto(values: Sequence[float], yrange: list[float] | None) -> tuple[list[float], int]:
    """Values moved onto the edge of `yrange` where they lie outside it, and how many did:
    every trial is drawn, and the caption says how many sit on an edge."""
    if yrange is None:
        return list(values), 0
    low, high = yrange
    shown = [min(max(v, low), high) for v in values]
    return shown, sum(1 for v, w in zip(values, shown, strict=True) if v != w)


def objective_plot(
    trials: Sequence[Obj], metric: str, maximize: bool, spec: Obj | None = None
) -> dict[str, Any]:
    """Objective per trial by state, the best-so-far line, the best trial, a robust range;
    points outside it are drawn on its edge and flagged (their true value in the hover).
    With `spec` (its constraints), a trial that broke one is never the best."""
    points: list[dict[str, Any]] = []
    best_x: list[int] = []
    best_y: list[float] = []
    best: tuple[float, int, str] | None = None
    judged = Judged(spec) if spec is not None else None
    for trial in sorted(trials, key=lambda t: t["spec"]["index"]):
        value = _shown_value(trial, metric)
        if value is None:
            continue
        state = (trial.get("status") or {}).get("phase", "Pending")
        index, name = trial["spec"]["index"], trial["metadata"]["name"]
        points.append({"x": index, "y": value, "state": state, "trial": name})
        counts = judged is None or judged.feasible(trial)
        if (
            state == "Succeeded"
            and counts
            and _finite((trial.get("status") or {}).get("objective"))
        ):
            if best is None or (value > best[0] if maximize else value < best[0]):
                best = (value, index, name)
            best_x.append(index)
            best_y.append(best[0])
    values = [p["y"] for p in points]
    yrange = robust_range(values, [best[0]] if best else [])
    density = _density(points, yrange) if len(points) > MAX_MARKERS else None
    drawn = _best_and_sample(points, lambda p: -p["y"] if maximize else p["y"], MAX_MARKERS)
    by_state: dict[str, dict[str, list[Any]]] = {}
    _, clipped = _onto(values, yrange)
    shown_values, _ = _onto([p["y"] for p in drawn], yrange)
    for point, shown in zip(drawn, shown_values, strict=True):
        series = by_state.setdefault(point["state"], {"x": [], "y": [], "value": [], "trial": []})
        series["x"].append(point["x"])
        series["y"].append(shown)
        series["value"].append(point["y"])
        series["trial"].append(point["trial"])
    return {
        "metric": metric,
        "states": by_state,
        "bestSoFar": {"x": best_x, "y": best_y},
        "best": None if best is None else {"x": best[1], "y": best[0], "trial": best[2]},
        "yrange": yrange,
        "clipped": clipped,
        "points": len(points),
        "drawn": len(drawn),
        "density": density,
    }


def _best_and_sample(items: Sequence[Any], badness: Any, limit: int) -> list[Any]:
    """All items when few; else the best third by `badness` (lower is better) and an even
    sample of the rest, in their original order."""
    if len(items) <= limit:
        return list(items)
    order = sorted(range(len(items)), key=lambda i: badness(items[i]))
    keep = set(order[: limit // 3])
    rest = [i for i in range(len(items)) if i not in keep]
    stride = len(rest) / (limit - len(keep))
    keep.update(rest[int(k * stride)] for k in range(limit - len(keep)))
    return [items[i] for i in sorted(keep)]


def _density(points: Sequence[dict[str, Any]], yrange: list[float] | None) -> dict[str, Any]:
    """How many trials fall in each cell of trial index x objective (clipped to the range)."""
    xs = np.array([p["x"] for p in points], dtype=float)
    ys = np.array([p["y"] for p in points], dtype=float)
    low, high = yrange if yrange is not None else (float(ys.min()), float(ys.max()))
    ys = np.clip(ys, low, high)
    counts, x_edges, y_edges = np.histogram2d(
        xs, ys, bins=DENSITY, range=[[xs.min(), xs.max() + 1], [low, high]]
    )
    return {
        "x": [float(v) for v in (x_edges[:-1] + x_edges[1:]) / 2],
        "y": [float(v) for v in (y_edges[:-1] + y_edges[1:]) / 2],
        "z": [[int(c) or None for c in row] for row in counts.T],
    }


def _thin(points: list[tuple[int, float]], keep_step: int | None) -> list[tuple[int, float]]:
    if len(points) <= MAX_POINTS:
        return points
    stride = math.ceil(len(points) / (MAX_POINTS - 1))
    kept = points[::stride]
    if kept[-1] != points[-1]:
        kept.append(points[-1])
    if keep_step is not None and all(s != keep_step for s, _ in kept):
        kept.extend(p for p in points if p[0] == keep_step)
        kept.sort()
    return kept


def curves_plot(trials: Sequence[Obj], metric: str, maximize: bool) -> dict[str, Any]:
    """Learning curves by state (one trace per state, curves separated by nulls: a handful
    of traces however many trials), every early stop marked at its step with its threshold.
    A trial with one report is a curve of one point: a trial stopped at its first rung
    still shows."""
    # A curve's last point ranks it; only the curves drawn are read whole (10,000 trials
    # hold 130,000 reports, and 150 curves are drawn).
    curves: list[tuple[Obj, float]] = []
    for trial in trials:
        last = _last_value(trial, metric)
        if last is not None:
            curves.append((trial, last))
    total = len(curves)
    chosen = [(trial, _points(trial, metric)) for trial, _ in _choose_curves(curves, maximize)]
    states: dict[str, dict[str, list[Any]]] = {}
    values: list[float] = []
    for trial, points in chosen:
        status = trial.get("status") or {}
        stop = status.get("stop") or {}
        thinned = _thin(points, stop.get("step"))
        series = states.setdefault(status.get("phase", "Pending"), {"x": [], "y": [], "trial": []})
        name = trial["metadata"]["name"]
        for step, value in thinned:
            series["x"].append(step)
            series["y"].append(value)
            series["trial"].append(name)
            values.append(value)
        series["x"].append(None)
        series["y"].append(None)
        series["trial"].append(None)
    stops: dict[str, list[Any]] = {
        "x": [],
        "value": [],
        "threshold": [],
        "trial": [],
        "rule": [],
        "reason": [],
    }
    drawn = {id(trial) for trial, _ in chosen}
    stopped = [
        t
        for t in trials
        if (t.get("status") or {}).get("stop") and _finite(t["status"]["stop"].get("value"))
    ]
    marked = [t for t in stopped if id(t) in drawn][:MAX_STOPS]
    if len(marked) < MAX_STOPS:
        others = [t for t in stopped if id(t) not in drawn]
        room = min(len(others), MAX_STOPS - len(marked))
        marked += [others[int(k * len(others) / room)] for k in range(room)]
    for trial in sorted(marked, key=lambda t: t["spec"]["index"]):
        stop = trial["status"]["stop"]
        stops["x"].append(stop["step"])
        stops["value"].append(stop["value"])
        stops["threshold"].append(stop.get("threshold"))
        stops["trial"].append(trial["metadata"]["name"])
        stops["rule"].append(stop.get("rule"))
        stops["reason"].append(stop.get("reason"))
    thresholds = [t for t in stops["threshold"] if _finite(t)]
    return {
        "metric": metric,
        "states": states,
        "stops": stops,
        "yrange": robust_range(values + list(stops["value"]) + thresholds),
        "curves": total,
        "shown": len(chosen),
        "stopped": len(stopped),
    }


def _points(trial: Obj, metric: str) -> list[tuple[int, float]]:
    reports = (trial.get("status") or {}).get("reports") or ()
    return [
        (int(r["step"]), float(r["metrics"][metric]))
        for r in reports
        if r.get("step") is not None and _finite(r["metrics"].get(metric))
    ]


def _last_value(trial: Obj, metric: str) -> float | None:
    """The value of a trial's last point on its learning curve, if it has one."""
    for r in reversed((trial.get("status") or {}).get("reports") or ()):
        value = r["metrics"].get(metric)
        if r.get("step") is not None and _finite(value):
            return float(value)
    return None


def _choose_curves(curves: list[tuple[Obj, float]], maximize: bool) -> list[tuple[Obj, float]]:
    """All curves when few; else the best third (by the last value), the stopped ones, then
    an even sample."""
    if len(curves) <= MAX_CURVES:
        return curves
    sign = -1.0 if maximize else 1.0
    ranked = sorted(curves, key=lambda item: sign * item[1])
    chosen = {id(c[0]): c for c in ranked[: MAX_CURVES // 3]}
    for item in curves:
        if len(chosen) >= (2 * MAX_CURVES) // 3:
            break
        if (item[0].get("status") or {}).get("stop"):
            chosen.setdefault(id(item[0]), item)
    rest = [c for c in curves if id(c[0]) not in chosen]
    room = MAX_CURVES - len(chosen)
    if rest and room > 0:
        stride = max(1, math.ceil(len(rest) / room))
        for item in rest[::stride][:room]:
            chosen[id(item[0])] = item
    return sorted(chosen.values(), key=lambda c: c[0]["spec"]["index"])


def _parameters(study: Obj) -> list[dict[str, Any]]:
    return list(study["spec"]["parameters"])


def _axis(parameter: Mapping[str, Any]) -> dict[str, Any]:
    kind = parameter["type"]
    axis: dict[str, Any] = {"name": parameter["name"], "type": kind, "log": False}
    if kind == "categorical":
        axis["categories"] = [str(v) for v in parameter["values"]]
    else:
        axis["log"] = bool(parameter.get("log"))
    return axis


def _scored(trials: Sequence[Obj]) -> list[Obj]:
    """Trials with an objective (finished ones): what the param plots and importance use."""
    return [
        t
        for t in sorted(trials, key=lambda t: t["spec"]["index"])
        if _finite((t.get("status") or {}).get("objective"))
    ]


def slice_plots(study: Obj, scored: Sequence[Obj]) -> list[dict[str, Any]]:
    """One plot per parameter: objective against the value, coloured by trial order (where
    the sampler spends its trials as the study goes on); log axes where the space is log.
    The y-range is robust; trials outside it are drawn on its edge (`value` keeps the truth)."""
    sign = -1.0 if _goal(study)[1] else 1.0
    sample = _best_and_sample(
        scored, lambda t: sign * float(t["status"]["objective"]), MAX_SLICE_POINTS
    )
    values = [float(t["status"]["objective"]) for t in sample]
    yrange = robust_range(values)
    shown, _ = _onto(values, yrange)
    plots = []
    for parameter in _parameters(study):
        name = parameter["name"]
        having = [i for i, t in enumerate(sample) if name in t["spec"]["params"]]  # `when`
        xs = [sample[i]["spec"]["params"][name] for i in having]
        if parameter["type"] == "categorical":
            xs = [str(x) for x in xs]
        plots.append(
            {
                **_axis(parameter),
                "x": xs,
                "y": [shown[i] for i in having],
                "value": [values[i] for i in having],
                "order": [sample[i]["spec"]["index"] for i in having],
                "trial": [sample[i]["metadata"]["name"] for i in having],
                "yrange": yrange,
                "clipped": sum(1 for i in having if shown[i] != values[i]),
                "trials": sum(1 for t in scored if name in t["spec"]["params"]),
            }
        )
    return plots


def _lacking_below(dimension: dict[str, Any]) -> None:
    """A conditional parameter's axis gets a slot under its range, ticked "none", where the
    lines of trials that lack it cross (a gap would break their lines in two)."""
    low, high = dimension["range"]
    slot = low - 0.15 * (high - low)
    if "tickvals" not in dimension:
        ticks = [low + (high - low) * i / 4 for i in range(5)]
        dimension["tickvals"], dimension["ticktext"] = ticks, [f"{t:.3g}" for t in ticks]
    dimension["tickvals"] = [slot, *dimension["tickvals"]]
    dimension["ticktext"] = ["none", *dimension["ticktext"]]
    dimension["range"] = [slot, high]
    dimension["values"] = [slot if v is None else v for v in dimension["values"]]


def parallel_plot(study: Obj, scored: Sequence[Obj]) -> dict[str, Any]:
    """Dimensions of a parallel-coordinates plot: each parameter (log ones as log10, with
    ticks at the original values; categoricals as their index), then the objective."""
    sign = -1.0 if _goal(study)[1] else 1.0
    total = len(scored)
    scored = _best_and_sample(scored, lambda t: sign * float(t["status"]["objective"]), MAX_MARKERS)
    dimensions = []
    for parameter in _parameters(study):
        name = parameter["name"]
        raw = [t["spec"]["params"].get(name) for t in scored]
        dimension: dict[str, Any] = {"label": name}
        if parameter["type"] == "categorical":
            labels = [str(v) for v in parameter["values"]]
            dimension["values"] = [labels.index(str(v)) if str(v) in labels else None for v in raw]
            dimension["tickvals"] = list(range(len(labels)))
            dimension["ticktext"] = labels
            dimension["range"] = [0, max(len(labels) - 1, 1)]
        elif parameter.get("log"):
            dimension["values"] = [None if v is None else math.log10(float(v)) for v in raw]
            low, high = math.log10(parameter["min"]), math.log10(parameter["max"])
            ticks = np.arange(math.floor(low), math.ceil(high) + 1)
            dimension["tickvals"] = [float(t) for t in ticks if low - 1e-9 <= t <= high + 1e-9]
            dimension["ticktext"] = [f"1e{int(t)}" for t in dimension["tickvals"]]
            dimension["range"] = [low, high]
        else:
            dimension["values"] = [None if v is None else float(v) for v in raw]
            dimension["range"] = [parameter["min"], parameter["max"]]
        if parameter.get("when"):
            _lacking_below(dimension)
        dimensions.append(dimension)
    objective = [float(t["status"]["objective"]) for t in scored]
    metric, _ = _goal(study)
    yrange = robust_range(objective) or [0.0, 1.0]
    shown, clipped = _onto(objective, yrange)
    dimensions.append({"label": metric, "values": shown, "raw": objective, "range": yrange})
    return {
        "dimensions": dimensions,
        "lines": len(scored),
        "trials": total,
        "clipped": clipped,
        "trial": [t["metadata"]["name"] for t in scored],
    }


def contour_plot(study: Obj, scored: Sequence[Obj], pair: Sequence[str]) -> dict[str, Any] | None:
    """Mean objective on a grid of two parameters (empty cells null); numeric axes are cut in
    equal steps (of log10 for log parameters). Objectives outside the robust range count as
    its edge in the means, and the colour scale is that range: a few diverged trials would
    otherwise set every cell's colour."""
    if len(pair) < 2 or pair[0] == pair[1] or len(scored) < 4:
        return None
    space = {p["name"]: p for p in _parameters(study)}
    if not all(name in space for name in pair[:2]):
        return None
    scored = [t for t in scored if all(n in t["spec"]["params"] for n in pair[:2])]
    if len(scored) < 4:  # the two are conditional and rarely active together
        return None
    axes = []
    for name in pair[:2]:
        parameter = space[name]
        raw = [t["spec"]["params"].get(name) for t in scored]
        if parameter["type"] == "categorical":
            labels = [str(v) for v in parameter["values"]]
            cells = [labels.index(str(v)) if str(v) in labels else 0 for v in raw]
            axes.append({**_axis(parameter), "centers": labels, "cells": cells})
            continue
        log = bool(parameter.get("log"))
        low, high = float(parameter["min"]), float(parameter["max"])
        if log:
            low, high = math.log10(low), math.log10(high)
        width = (high - low) / GRID or 1.0
        coords = [math.log10(float(v)) if log else float(v) for v in raw]
        cells = [min(GRID - 1, max(0, int((c - low) / width))) for c in coords]
        centers = [low + (i + 0.5) * width for i in range(GRID)]
        axes.append({**_axis(parameter), "centers": [10**c if log else c for c in centers]})
        axes[-1]["cells"] = cells
    x, y = axes
    objective = [float(t["status"]["objective"]) for t in scored]
    zrange = robust_range(objective)
    shown, clipped = _onto(objective, zrange)
    sums = np.zeros((len(y["centers"]), len(x["centers"])))
    counts = np.zeros_like(sums)
    np.add.at(sums, (y["cells"], x["cells"]), shown)
    np.add.at(counts, (y["cells"], x["cells"]), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    grid = [[None if not math.isfinite(v) else float(v) for v in row] for row in means]
    sign = -1.0 if _goal(study)[1] else 1.0
    sample = _best_and_sample(
        scored, lambda t: sign * float(t["status"]["objective"]), MAX_SLICE_POINTS
    )
    return {
        "x": {k: v for k, v in x.items() if k != "cells"},
        "y": {k: v for k, v in y.items() if k != "cells"},
        "z": grid,
        "zrange": zrange,
        "clipped": clipped,
        "trials": len(scored),
        "points": {
            "x": [_plain(t["spec"]["params"].get(x["name"]), x) for t in sample],
            "y": [_plain(t["spec"]["params"].get(y["name"]), y) for t in sample],
            "trial": [t["metadata"]["name"] for t in sample],
        },
        "filled": int((counts > 0).sum()),
    }


def _plain(value: Any, axis: Mapping[str, Any]) -> Any:
    return str(value) if axis["type"] == "categorical" else value


def spending(trials: Sequence[Obj]) -> dict[str, Any]:
    """Where the study spent its budget: trials, reported steps and trial-seconds by state."""
    trials_by: Counter[str] = Counter()
    steps_by: Counter[str] = Counter()
    seconds_by: dict[str, float] = {}
    for trial in trials:
        status = trial.get("status") or {}
        state = status.get("phase", "Pending")
        trials_by[state] += 1
        steps = [r["step"] for r in status.get("reports") or () if r.get("step") is not None]
        steps_by[state] += max(steps, default=0)
        started, ended = _time(status.get("startTime")), _time(status.get("completionTime"))
        ran = 0.0 if started is None or ended is None else ended - started
        seconds_by[state] = seconds_by.get(state, 0.0) + ran
    states = sorted(trials_by)
    return {
        "states": states,
        "trials": [trials_by[s] for s in states],
        "steps": [steps_by[s] for s in states],
        "seconds": [round(seconds_by[s], 1) for s in states],
    }


def distribution(study: Obj, scored: Sequence[Obj]) -> dict[str, Any]:
    """The objective's empirical distribution, for comparing studies: for each value, the share
    of finished trials at least as good (at most `MAX_SLICE_POINTS` points, the ends kept)."""
    _, maximize = _goal(study)
    values = sorted((float(t["status"]["objective"]) for t in scored), reverse=maximize)
    count = len(values)
    keep = (
        sorted({round(i * (count - 1) / (MAX_SLICE_POINTS - 1)) for i in range(MAX_SLICE_POINTS)})
        if count > MAX_SLICE_POINTS
        else range(count)
    )
    return {
        "x": [values[i] for i in keep],
        "y": [(i + 1) / count for i in keep],
        "trials": count,
        "range": robust_range(values),
    }


def pair_contour(study: Obj, trials: Sequence[Obj], pair: Sequence[str]) -> dict[str, Any] | None:
    """The contour of a pair the user picked (`GET .../contour/X/Y`)."""
    return contour_plot(study, _scored(trials), pair)


def default_pair(study: Obj, ranked: Sequence[str]) -> list[str]:
    """The contour's two parameters until the user picks: the two most important, else the
    first two of the space."""
    names = [p["name"] for p in _parameters(study)]
    chosen = [*ranked[:2], *(n for n in names if n not in ranked[:2])]
    return chosen[:2]


def study_view(study: Obj, trials: Sequence[Obj], now: float) -> dict[str, Any]:
    """Everything the study page draws, but the trial table (fetched on its own)."""
    metric, maximize = _goal(study)
    scored = _scored(trials)
    names = [p["name"] for p in _parameters(study)]
    scores = importance(study, scored) if scored else {}
    ranked = sorted(scores, key=lambda n: -scores[n])
    counts = Counter((t.get("status") or {}).get("phase", "Pending") for t in trials)
    return {
        "summary": summary(study, now),
        "parameters": [_axis(p) for p in _parameters(study)],
        "objective": objective_plot(trials, metric, maximize, study["spec"]),
        "curves": curves_plot(trials, metric, maximize),
        "parallel": parallel_plot(study, scored),
        "slices": slice_plots(study, scored),
        "importance": {
            "method": importance_method(),
            "values": [{"param": n, "value": scores[n]} for n in ranked],
            "missing": [n for n in names if n not in scores],
            "trials": len(scored),
        },
        "contour": contour_plot(study, scored, default_pair(study, ranked)),
        "distribution": distribution(study, scored),
        "pareto": pareto_plot(study, trials),
        "lineage": lineage_plot(study, trials, metric, maximize),
        "spending": spending(trials),
        "states": dict(counts),
        "stops": len([t for t in trials if (t.get("status") or {}).get("stop")]),
    }


def trial_view(study: Obj, trial: Obj) -> dict[str, Any]:
    """One trial's page: its row, every metric's series, its stop record."""
    status = trial.get("status") or {}
    series: dict[str, dict[str, list[Any]]] = {}
    for position, report in enumerate(status.get("reports") or []):
        step = report.get("step")
        for name, value in report["metrics"].items():
            line = series.setdefault(name, {"x": [], "y": []})
            line["x"].append(position if step is None else step)
            line["y"].append(value)
    metric, _ = _goal(study)
    return {
        **trial_row(trial),
        "metric": metric,
        "series": series,
        "stop": status.get("stop"),
        "message": status.get("message"),
        "pod": status.get("pod"),
        "budget": trial["spec"].get("budget"),
    }

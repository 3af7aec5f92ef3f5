"""The pictures `kubetune run` leaves next to its results: objective per trial, learning curves.

They draw what the dashboard draws (the CLI hands them `kubetune.dashboard.views`): the best
trial is marked, the y-range is robust (a few diverged trials do not squash the good region; the
ones outside it sit on its edge as open triangles), stopped trials are drawn apart from
finished ones, and a trial stopped at its first report still shows as a point. matplotlib's
Agg backend writes PNGs with no display; imported lazily by the CLI so that a study still
runs (and says so) on a machine where matplotlib cannot load.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

_COLOURS = {
    "Succeeded": "tab:blue",
    "EarlyStopped": "tab:orange",
    "Failed": "tab:red",
    "Killed": "tab:gray",
}
_MARKERS = {"Succeeded": "o", "EarlyStopped": "D", "Failed": "x", "Killed": "s"}


def _hollow(state: str) -> dict[str, Any]:
    colour = _COLOURS.get(state, "black")
    if state == "Succeeded" or _MARKERS.get(state) == "x":
        return {"color": colour}
    return {"facecolors": "none", "edgecolors": colour}


def write_objective_plot(view: Mapping[str, Any], maximize: bool, path: Path) -> None:
    """`view` is `views.objective_plot`: points by state, best so far, best, y-range."""
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    yrange = view["yrange"]
    for state, series in view["states"].items():
        points = list(zip(series["x"], series["y"], series["value"], strict=True))
        inside = [(x, y) for x, y, v in points if y == v]
        outside = [(x, y) for x, y, v in points if y != v]
        if inside:
            xs, ys = zip(*inside, strict=True)
            ax.scatter(
                xs,
                ys,
                s=24,
                zorder=3,
                marker=_MARKERS.get(state, "o"),
                label=state,
                **_hollow(state),
            )
        if outside:
            xs, ys = zip(*outside, strict=True)
            ax.scatter(
                xs, ys, s=40, zorder=3, marker="^" if ys[0] >= yrange[1] else "v", **_hollow(state)
            )
    best = view["bestSoFar"]
    if best["x"]:
        ax.step(best["x"], best["y"], where="post", color="tab:green", label="best so far")
    if view["best"]:
        mark = view["best"]
        ax.scatter(
            [mark["x"]],
            [mark["y"]],
            marker="*",
            s=260,
            color="gold",
            edgecolors="black",
            zorder=4,
            label=f"best: {mark['trial']}",
        )
    if yrange:
        ax.set_ylim(*yrange)
    metric = view["metric"]
    clipped = f"; {view['clipped']} off the range, on its edge" if view["clipped"] else ""
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per trial ({'max' if maximize else 'min'}imize){clipped}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_curves_plot(view: Mapping[str, Any], path: Path) -> bool:
    """`view` is `views.curves_plot`; returns False (and writes nothing) when no trial
    reported by step. Every early stop is an x at its step, its threshold a dash."""
    if not view["curves"]:
        return False
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for state, series in view["states"].items():
        xs = [float("nan") if x is None else x for x in series["x"]]
        ys = [float("nan") if y is None else y for y in series["y"]]
        style = ":" if state == "EarlyStopped" else "-"
        ax.plot(
            xs,
            ys,
            style,
            marker=".",
            markersize=3,
            color=_COLOURS.get(state, "black"),
            alpha=0.7,
            lw=1,
            label=state,
        )
    stops = view["stops"]
    marks = (
        ("value", "x", "tab:orange", 30, "stopped here"),
        ("threshold", "_", "tab:red", 60, "threshold it failed"),
    )
    for key, marker, colour, size, label in marks if stops["x"] else ():
        ax.scatter(
            stops["x"], stops[key], marker=marker, color=colour, s=size, zorder=4, label=label
        )
    if view["yrange"]:
        ax.set_ylim(*view["yrange"])
    shown = view["shown"]
    ax.set_xlabel("step")
    ax.set_ylabel(view["metric"])
    ax.set_title(f"learning curves ({shown} trials, {len(stops['x'])} stopped early)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def write_pareto_plot(view: Mapping[str, Any], path: Path) -> None:
    """`view` is `dashboard.pareto.pareto_plot`: trials by the first two objectives, the
    front as a staircase of stars, infeasible trials as red crosses."""
    fig, ax = plt.subplots(figsize=(7, 5), dpi=110)
    feasible, infeasible = view["points"]["feasible"], view["points"]["infeasible"]
    if feasible["x"]:
        ax.scatter(
            feasible["x"], feasible["y"], s=18, color="tab:blue", alpha=0.5, label="feasible"
        )
    if infeasible["x"]:
        ax.scatter(
            infeasible["x"], infeasible["y"], s=22, marker="x", color="tab:red", label="infeasible"
        )
    front = view["front"]
    if front["x"]:
        ax.step(front["x"], front["y"], where="post", color="tab:green", lw=1.2)
        ax.scatter(
            front["x"],
            front["y"],
            marker="*",
            s=120,
            color="gold",
            edgecolors="black",
            zorder=4,
            label=f"Pareto front ({len(front['x'])})",
        )
    x, y = view["x"], view["y"]
    ax.set_xlabel(f"{x['metric']} ({x['goal']})")
    ax.set_ylabel(f"{y['metric']} ({y['goal']})")
    more = f"; front judged on all {view['objectives']}" if view["objectives"] > 2 else ""
    ax.set_title(f"Pareto front: {x['metric']} x {y['metric']}{more}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

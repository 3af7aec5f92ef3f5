"""The pictures `kubetune run` leaves next to its results: objective per trial, learning curves.

matplotlib's Agg backend writes PNGs with no display. Imported lazily by the CLI so that a
study still runs (and says so) on a machine where matplotlib cannot load.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from kubetune.engine import TrialState
from kubetune.local.results import TrialRow

_COLOURS = {
    TrialState.SUCCEEDED: "tab:blue",
    TrialState.EARLY_STOPPED: "tab:orange",
    TrialState.FAILED: "tab:red",
    TrialState.KILLED: "tab:gray",
}


def write_objective_plot(rows: Sequence[TrialRow], metric: str, maximize: bool, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    best: float | None = None
    best_x: list[int] = []
    best_y: list[float] = []
    for row in rows:
        value = (
            row.objective if row.objective is not None else (row.stop.value if row.stop else None)
        )
        if value is None:
            continue
        ax.scatter(row.index, value, color=_COLOURS.get(row.state, "black"), s=22, zorder=3)
        if row.state == TrialState.SUCCEEDED and row.objective is not None:
            if best is None or (row.objective > best if maximize else row.objective < best):
                best = row.objective
            best_x.append(row.index)
            best_y.append(best)
    if best_x:
        ax.step(best_x, best_y, where="post", color="tab:green", label="best so far")
    present = {row.state for row in rows}
    for state, colour in _COLOURS.items():
        if state in present:
            ax.scatter([], [], color=colour, label=state.value, s=22)
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} per trial ({'max' if maximize else 'min'}imize)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_curves_plot(rows: Sequence[TrialRow], metric: str, path: Path) -> bool:
    """Learning curves; returns False (and writes nothing) when no trial reported by step."""
    curves = [
        (
            r,
            [
                (rep.step, rep.metrics[metric])
                for rep in r.reports
                if rep.step is not None and metric in rep.metrics
            ],
        )
        for r in rows
    ]
    curves = [(r, c) for r, c in curves if len(c) > 1]
    if not curves:
        return False
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    for row, points in curves:
        steps, values = zip(*points, strict=True)
        style = "--" if row.state == TrialState.EARLY_STOPPED else "-"
        ax.plot(steps, values, style, color=_COLOURS.get(row.state, "black"), alpha=0.7, lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel(metric)
    ax.set_title(f"learning curves (dashed: stopped early), {len(curves)} trials")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True

"""What `kubetune run` shows while it works and when it ends.

On a terminal, one status line is redrawn in place; otherwise (CI logs, pipes) one line per
finished trial. Everything goes to stderr so that `--output json` keeps stdout clean.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from kubetune.engine import Best, Decision, TrialState
from kubetune.local.results import TrialRow
from kubetune.tables import render_table


def render_params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_short(v)}" for k, v in params.items())


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def best_rows(rows: Sequence[TrialRow], maximize: bool, limit: int) -> list[TrialRow]:
    done = [r for r in rows if r.state == TrialState.SUCCEEDED and r.objective is not None]
    done.sort(key=lambda r: (-r.objective if maximize else r.objective, r.index))  # type: ignore[operator]
    return done[:limit]


class Progress:
    def __init__(
        self,
        metric: str,
        max_trials: int,
        maximize: bool,
        stream: TextIO | None = None,
        quiet: bool = False,
    ) -> None:
        self.metric = metric
        self.max_trials = max_trials
        self.maximize = maximize
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.live = self.stream.isatty() and not quiet
        self._drawn = False

    def _summary(self, rows: Sequence[TrialRow], best: Best | None) -> str:
        counts = Counter(r.state for r in rows)
        done = sum(counts[s] for s in TrialState if not s.active)
        text = (
            f"[{done}/{self.max_trials}] running {counts[TrialState.RUNNING]}"
            f" · failed {counts[TrialState.FAILED]}"
            f" · stopped {counts[TrialState.EARLY_STOPPED]}"
        )
        if best is not None:
            text += f" · best {self.metric}={best.objective:.6g} ({best.trial})"
        return text

    def _print(self, text: str) -> None:
        if self.quiet:
            return
        if self._drawn:
            self.stream.write("\r\033[K")
            self._drawn = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def update(self, rows: Sequence[TrialRow], best: Best | None) -> None:
        if self.live:
            self.stream.write("\r\033[K" + self._summary(rows, best))
            self.stream.flush()
            self._drawn = True

    def trial_done(self, row: TrialRow) -> None:
        value = f" {self.metric}={row.objective:.6g}" if row.objective is not None else ""
        why = f": {row.reason}" if row.reason else ""
        line = f"{row.name} {row.state.value}{value} [{render_params(row.params)}]"
        place = f" {row.lineage.describe()}" if row.lineage is not None else ""
        self._print(f"{line}{place}{why}")

    def retried(self, row: TrialRow, why: str) -> None:
        self._print(f"{row.name} failed, starting attempt {row.attempt}: {why}")

    def finished(self, rows: Sequence[TrialRow], decision: Decision) -> None:
        assert decision.finish is not None
        self._print(self._summary(rows, decision.best))
        self._print(f"study finished: {decision.finish.reason}: {decision.finish.message}")


def render_best_table(rows: Sequence[TrialRow], metric: str, maximize: bool, limit: int = 5) -> str:
    best = best_rows(rows, maximize, limit)
    if not best:
        return "no trial succeeded"
    names = list(dict.fromkeys(n for r in best for n in r.params))  # conditional ones may lack
    table = [
        [str(i + 1), r.name, f"{r.objective:.6g}", *(_short(r.params.get(n, "-")) for n in names)]
        for i, r in enumerate(best)
    ]
    return render_table(["#", "trial", metric, *names], table)


def render_front_table(front: Sequence[Mapping[str, Any]], metrics: Sequence[str]) -> str:
    """The Pareto front of a study with several objectives, in trial order."""
    if not front:
        return "no feasible trial succeeded"
    names = list(dict.fromkeys(n for m in front for n in m["params"]))
    table = [
        [
            m["trial"],
            *(f"{m['objectives'][k]:.6g}" for k in metrics),
            *(_short(m["params"].get(n, "-")) for n in names),
        ]
        for m in front
    ]
    return f"Pareto front ({len(front)} trials):\n" + render_table(
        ["trial", *metrics, *names], table
    )

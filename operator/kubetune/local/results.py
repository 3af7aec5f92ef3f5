"""The results file of a local study: JSON lines, appended and flushed as things happen.

Why JSON lines: one event per line is append-only, human-readable with `jq`, and survives a
crash or Ctrl-C at any moment (a torn last line is ignored on load). Events:

  study     the manifest, once per run session (the first one fixes the spec)
  created   trial name, index, params, budget
  started   trial name (a restart after --resume discards the reports of an interrupted run)
  report    trial name, step, metrics
  finished  trial name, state, objective, reason, stop decision
  study_finished   reason, succeeded, message
  interrupted      Ctrl-C or a signal: running trials restart on --resume

`ResultsFile` folds the events into trial records as it writes them, so `history()` is the
same whether the study ran in one go or was resumed from the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from kubetune.engine import History, Report, StopDecision, TrialRecord, TrialState


@dataclass
class TrialRow:
    name: str
    index: int
    params: dict[str, Any]
    budget: float | None
    state: TrialState = TrialState.PENDING
    reports: list[Report] = field(default_factory=list)
    objective: float | None = None
    reason: str | None = None
    stop: StopDecision | None = None
    started: float | None = None
    ended: float | None = None

    def record(self) -> TrialRecord:
        return TrialRecord(
            name=self.name,
            index=self.index,
            params=dict(self.params),
            state=self.state,
            reports=tuple(self.reports),
            objective=self.objective,
            reason=self.reason,
            stop=self.stop,
            budget=self.budget,
        )


class ResultsFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.manifest: dict[str, Any] | None = None
        self.trials: dict[str, TrialRow] = {}
        self.finished: dict[str, Any] | None = None
        self.elapsed_before = 0.0  # seconds the study ran in earlier sessions
        self._session_start: float | None = None
        self._last_time: float | None = None
        self._out: TextIO | None = None

    # ----- loading -------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> ResultsFile:
        results = cls(path)
        if path.exists():
            for line in path.read_text().splitlines(keepends=True):
                if not line.endswith("\n"):
                    break  # torn write from a hard kill: everything before it is intact
                results._apply(json.loads(line))
        if results._session_start is not None and results._last_time is not None:
            results.elapsed_before += results._last_time - results._session_start
        results._session_start = None
        return results

    def _apply(self, event: dict[str, Any]) -> None:
        kind, now = event["event"], event.get("time")
        if kind == "study":
            if self._session_start is not None and self._last_time is not None:
                self.elapsed_before += self._last_time - self._session_start
            self._session_start = now
            self.manifest = event["manifest"]
            self.finished = None
        elif kind == "created":
            self.trials[event["trial"]] = TrialRow(
                event["trial"], event["index"], event["params"], event.get("budget")
            )
        elif kind == "started":
            row = self.trials[event["trial"]]
            row.state, row.reports, row.started = TrialState.RUNNING, [], now
        elif kind == "report":
            self.trials[event["trial"]].reports.append(Report(event["step"], event["metrics"]))
        elif kind == "finished":
            row = self.trials[event["trial"]]
            row.state = TrialState(event["state"])
            row.objective, row.reason, row.ended = event["objective"], event["reason"], now
            row.stop = StopDecision(**event["stop"]) if event.get("stop") else None
        elif kind == "interrupted":
            for row in self.trials.values():
                if row.state.active:
                    row.state, row.reports = TrialState.PENDING, []
        elif kind == "study_finished":
            self.finished = event
        self._last_time = now if now is not None else self._last_time

    # ----- writing -------------------------------------------------------------------------

    def write(self, kind: str, now: float, **fields: Any) -> None:
        event = {"event": kind, "time": round(now, 3), **fields}
        if self._out is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._out = self.path.open("a", encoding="utf-8")
        self._out.write(json.dumps(event, sort_keys=True, default=float) + "\n")
        self._out.flush()
        os.fsync(self._out.fileno())
        self._apply(event)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    # ----- reading -------------------------------------------------------------------------

    def history(self, study: str, now: float) -> History:
        rows = sorted(self.trials.values(), key=lambda r: r.index)
        session = self._session_start if self._session_start is not None else now
        return History(
            study=study,
            trials=tuple(r.record() for r in rows),
            started_at=session - self.elapsed_before,
        )

    def rows(self) -> list[TrialRow]:
        return sorted(self.trials.values(), key=lambda r: r.index)

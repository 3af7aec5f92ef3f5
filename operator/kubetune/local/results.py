"""The results file of a local study: JSON lines, appended and flushed as things happen.

Why JSON lines: one event per line is append-only, human-readable with `jq`, and survives a
crash or Ctrl-C at any moment. Events:

  study     the manifest, once per run session (the first one fixes the spec)
  created   trial name, index, params, budget; a pbt segment also its lineage: `parent` (the
            trial whose checkpoint it continues, null in the first generation), `member`,
            `generation` and `changes` (each parameter sampled, copied, perturbed or resampled)
  started   trial name (a restart after --resume discards the reports of an interrupted run)
  report    trial name, step, metrics
  finished  trial name, state, objective, reason, stop decision
  study_finished   reason, succeeded, message
  interrupted      Ctrl-C or a signal: running trials restart on --resume
  retried   trial name, attempt, reason: the trial failed and starts again (`backoffLimit`)

A runner that dies without a word (SIGKILL, power loss) leaves two traces, both repaired on
load: trials still `started` (a new `study` session restarts them, as `interrupted` would)
and a torn last line, or a tail of lines the disk never finished. Lines that do not parse
at the end of the file are that tail: the next write cuts them off (they are kept beside the
file). A bad line with good lines after it is not a crash's trace: loading refuses it with
its line number instead of guessing.

`ResultsFile` folds the events into trial records as it writes them, so `history()` is the
same whether the study ran in one go or was resumed from the file. The records are kept in a
`TrialLedger`, each put again when an event changes its trial, so a decision does not rebuild
every trial's record (the 10,000th ask of a Tuner costs what the 10th does).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from kubetune.api.parameters import active_names
from kubetune.api.study import StudySpec
from kubetune.engine import (
    History,
    Lineage,
    NewTrial,
    Report,
    StopDecision,
    TrialRecord,
    TrialState,
)
from kubetune.engine.ledger import TrialLedger


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
    values: dict[str, float] = field(default_factory=dict)
    started: float | None = None
    ended: float | None = None
    attempt: int = 1
    lineage: Lineage | None = None

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
            values=dict(self.values),
            lineage=self.lineage,
        )


class ResultsError(ValueError):
    """A results file that cannot be continued; the message names the line and the fix."""


class _BadEventError(ValueError):
    pass


def _field(event: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = event.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise _BadEventError(f"{name!r} missing or not a {getattr(kind, '__name__', kind)}")
    return value


def _number(event: dict[str, Any], name: str) -> float | None:
    value = event.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _BadEventError(f"{name!r} is not a number")
    return value


def _values(raw: Any) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in raw.values()
    ):
        raise _BadEventError("'values' is not a mapping of metric names to numbers")
    return {str(k): float(v) for k, v in raw.items()}


def _lineage(event: dict[str, Any]) -> Lineage | None:
    if "member" not in event:
        return None
    parent = event.get("parent")
    changes = _field(event, "changes", dict)
    if (parent is not None and not isinstance(parent, str)) or not all(
        isinstance(v, str) for v in changes.values()
    ):
        raise _BadEventError("'parent' or 'changes' of a pbt segment is not text")
    return Lineage(
        _field(event, "member", int), parent, _field(event, "generation", int), dict(changes)
    )


def set_aside(path: Path) -> None:
    """Keep a study's results file, its trials' logs and pbt checkpoints beside the new
    run's, stamped with the time: a fresh run reuses the trial names, whose logs and
    checkpoint folders must start empty."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path.rename(path.with_name(f"results.{stamp}.jsonl"))
    for folder in ("trials", "checkpoints"):
        if (path.parent / folder).is_dir():
            (path.parent / folder).rename(path.parent / f"{folder}.{stamp}")


class ResultsFile:
    def __init__(self, path: Path | None) -> None:
        #: None: events are folded in memory only (a Tuner in a notebook given no file).
        self.path = path
        self.manifest: dict[str, Any] | None = None
        self.trials: dict[str, TrialRow] = {}
        #: Every trial's record as the events so far leave it.
        self.ledger = TrialLedger()
        self._sorted: list[TrialRow] | None = []
        self.finished: dict[str, Any] | None = None
        self.elapsed_before = 0.0  # seconds the study ran in earlier sessions
        self._session_start: float | None = None
        self._last_time: float | None = None
        self._out: BinaryIO | None = None
        #: Bytes from the start that hold whole, valid events; a crash's tail lies after them.
        self.intact_bytes: int | None = None
        #: Where the next write put a crash's tail it cut off (for the CLI to say so).
        self.torn_tail: Path | None = None
        #: When the study's first session began: with the path, who this study is across
        #: sessions (a tracking sink finds its runs again by it).
        self.opened_at: float | None = None

    # ----- loading -------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> ResultsFile:
        """Fold a results file; a crash's tail is skipped, anything else wrong is refused."""
        results = cls(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return results
        except OSError as error:
            raise ResultsError(f"cannot read {path}: {error.strerror}") from None
        offset, bad = 0, None
        lines = data.split(b"\n")
        for number, raw in enumerate(lines[:-1], start=1):  # the last piece has no newline
            if bad is None:
                try:
                    results._apply(_decode(raw))
                    offset += len(raw) + 1
                    continue
                except _BadEventError as error:
                    bad = (number, str(error))
            elif raw.strip(b"\0 \t\r"):  # a good-looking line after a bad one: not a tail
                try:
                    _decode(raw)
                except _BadEventError:
                    continue
                raise ResultsError(
                    f"{path}: line {bad[0]} is not a results event ({bad[1]}) but line "
                    f"{number} after it is, so this is not a crash's torn tail; fix or delete "
                    f"line {bad[0]}, or start over with --fresh"
                )
        results.intact_bytes = offset
        if results._session_start is not None and results._last_time is not None:
            results.elapsed_before += results._last_time - results._session_start
        results._session_start = None
        return results

    def refresh(self) -> bool:
        """Fold the events appended since the last load or refresh; True if any were.

        For a reader following a study that another process is running (the dashboard): a
        line still being written waits for its newline, and the first line that does not
        parse stops the read there (it is either a tail still being written or a crash's,
        which the writer cuts off). A file replaced under the same name (`--fresh`) is the
        caller's to notice: this only reads forward.
        """
        if self.path is None:
            return False
        offset = self.intact_bytes or 0
        try:
            with self.path.open("rb") as file:
                file.seek(offset)
                data = file.read()
        except OSError:
            return False
        changed = False
        for raw in data.split(b"\n")[:-1]:
            try:
                self._apply(_decode(raw))
            except _BadEventError:
                break
            offset += len(raw) + 1
            changed = True
        self.intact_bytes = offset
        return changed

    def _apply(self, event: dict[str, Any]) -> None:
        self._fold(event)
        trial = event.get("trial")
        row = self.trials.get(trial) if isinstance(trial, str) else None
        if row is not None:
            self.ledger.put(row.record())

    def _fold(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        now = _number(event, "time")
        if kind == "study":
            self._open_session(_field(event, "manifest", dict), now)
        elif kind == "created":
            name = _field(event, "trial", str)
            if name in self.trials:
                raise _BadEventError(f"trial {name} created twice")
            self.trials[name] = TrialRow(
                name,
                _field(event, "index", int),
                _field(event, "params", dict),
                _number(event, "budget"),
                lineage=_lineage(event),
            )
            self._sorted = None
        elif kind in ("started", "retried"):
            row = self._row(event)
            attempt = _field(event, "attempt", int) if "attempt" in event else row.attempt
            state = TrialState.RUNNING if kind == "started" else TrialState.PENDING
            row.state, row.reports, row.attempt = state, [], attempt
            row.started = now if kind == "started" else row.started
        elif kind == "report":
            row = self._row(event)
            metrics = _field(event, "metrics", dict)
            if not all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in metrics.values()
            ):
                raise _BadEventError("a metric is not a finite number")
            step = event.get("step")
            if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
                raise _BadEventError("'step' is not an integer")
            row.reports.append(Report(step, metrics))
        elif kind == "finished":
            row = self._row(event)
            try:
                state = TrialState(str(event.get("state")))
                stop = _stop(event["stop"]) if event.get("stop") else None
            except (ValueError, TypeError) as error:
                raise _BadEventError(f"bad state or stop record: {error}") from None
            objective, reason = _number(event, "objective"), event.get("reason")
            row.state, row.stop, row.objective, row.ended = state, stop, objective, now
            row.values = _values(event.get("values"))
            row.reason = reason if isinstance(reason, str) else None
        elif kind == "interrupted":
            self._back_to_pending()
        elif kind == "study_finished":
            self.finished = event
        else:
            raise _BadEventError(f"unknown event {kind!r}")
        self._last_time = now if now is not None else self._last_time

    def _open_session(self, manifest: dict[str, Any], now: float | None) -> None:
        if self._session_start is not None and self._last_time is not None:
            self.elapsed_before += self._last_time - self._session_start
        self._session_start = now
        if self.opened_at is None:
            self.opened_at = now
        self.manifest = manifest
        self.finished = None
        self._back_to_pending()  # the last session died with these running

    def _back_to_pending(self) -> None:
        """Trials that were running start again when the study is next continued."""
        for record in self.ledger.history("").active:
            row = self.trials[record.name]
            row.state, row.reports = TrialState.PENDING, []
            self.ledger.put(row.record())

    def _row(self, event: dict[str, Any]) -> TrialRow:
        name = _field(event, "trial", str)
        row = self.trials.get(name)
        if row is None:
            raise _BadEventError(f"trial {name} was never created")
        return row

    def check_against(self, spec: StudySpec) -> None:
        """Refuse trials whose params this study could not have drawn (a file edited by hand,
        or corrupted in a way that still parses): the engine would fail on them later."""
        space = {p.name: p for p in spec.parameters}
        for row in self.rows():
            expected = active_names(spec.parameters, row.params)
            if set(row.params) != set(expected):
                raise ResultsError(
                    f"{self.path}: trial {row.name} has parameters {sorted(row.params)}, the "
                    f"study gives it {sorted(expected)}; fix the file or start over with --fresh"
                )
            for name, value in row.params.items():
                if not space[name].holds(value):
                    raise ResultsError(
                        f"{self.path}: trial {row.name} has {name}={value!r}, outside "
                        "spec.parameters; fix the file or start over with --fresh"
                    )

    # ----- writing -------------------------------------------------------------------------

    def write(self, kind: str, now: float, **fields: Any) -> None:
        event = {"event": kind, "time": round(now, 3), **fields}
        line = (json.dumps(event, sort_keys=True, default=float) + "\n").encode()
        self._apply(event)  # before the write: what cannot be folded back is never written
        if self.path is None:
            return
        out = self._open()
        out.write(line)
        out.flush()
        os.fsync(out.fileno())

    def created(self, now: float, new: NewTrial) -> None:
        lineage = new.lineage
        self.write(
            "created",
            now,
            trial=new.name,
            index=new.index,
            params=dict(new.params),
            budget=new.budget,
            **(
                {
                    "parent": lineage.parent,
                    "member": lineage.member,
                    "generation": lineage.generation,
                    "changes": dict(lineage.changes),
                }
                if lineage is not None
                else {}
            ),
        )

    def finished_trial(
        self,
        now: float,
        trial: str,
        state: TrialState,
        reason: str | None,
        objective: float | None = None,
        stop: StopDecision | None = None,
        values: dict[str, float] | None = None,
    ) -> None:
        self.write(
            "finished",
            now,
            trial=trial,
            state=state.value,
            objective=objective,
            reason=reason,
            stop=stop.__dict__ if stop else None,
            **({"values": values} if values else {}),
        )

    def _open(self) -> BinaryIO:
        assert self.path is not None
        if self._out is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._cut_torn_tail()
            self._out = self.path.open("ab")
        return self._out

    def _cut_torn_tail(self) -> None:
        """Appending after a crash's tail would glue the next event onto a fragment."""
        if self.intact_bytes is None or self.path is None or not self.path.exists():
            return
        size = self.path.stat().st_size
        if size <= self.intact_bytes:
            return
        with self.path.open("r+b") as file:
            file.seek(self.intact_bytes)
            tail = file.read()
            kept = self.path.with_name(f"{self.path.name}.torn-{time.strftime('%Y%m%dT%H%M%S')}")
            kept.write_bytes(tail)
            file.truncate(self.intact_bytes)
            file.flush()
            os.fsync(file.fileno())
        self.torn_tail = kept

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    # ----- reading -------------------------------------------------------------------------

    def history(self, study: str, now: float) -> History:
        session = self._session_start if self._session_start is not None else now
        return self.ledger.history(study, started_at=session - self.elapsed_before)

    def rows(self) -> list[TrialRow]:
        """Every trial's row, in index order."""
        if self._sorted is None:
            self._sorted = sorted(self.trials.values(), key=lambda r: r.index)
        return list(self._sorted)


def _decode(raw: bytes) -> dict[str, Any]:
    try:
        event = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise _BadEventError(f"not JSON: {error}") from None
    if not isinstance(event, dict):
        raise _BadEventError("not a JSON object")
    return event


def _stop(fields: Any) -> StopDecision:
    stop = StopDecision(**fields)
    numbers_ok = all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in (stop.value, stop.threshold)
    )
    if not (numbers_ok and isinstance(stop.step, int) and isinstance(stop.reason, str)):
        raise TypeError("a stop record's step, value, threshold or reason has the wrong type")
    return stop

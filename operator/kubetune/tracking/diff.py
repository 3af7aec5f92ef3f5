"""`StudyTrack`: what of a study has been queued for tracking, so that each look at it queues
only what is new. Pure bookkeeping: the shells call `observe` with what they already have
after a decision (the history, the finish, the best), and records go to `emit`.

A trial is opened once it has left Pending (it runs, or it ended without running), each of its
reports is queued once, and it is closed once it has ended. Reports are found by position,
checked against the last one queued: a list that shrank or moved (a retried attempt's reports
replace the last one's; the operator keeps a bounded tail) is looked through for it, and
whatever comes after is new; a sink that comes back to a run it wrote before skips points it
already has, so a restart of the shell duplicates nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from kubetune.engine import Best, Finish, History, Report, TrialRecord, TrialState
from kubetune.tracking.records import (
    Record,
    Reported,
    StudyClosed,
    StudyOpened,
    TrialClosed,
    TrialOpened,
)

_ENDED = (TrialState.SUCCEEDED, TrialState.FAILED, TrialState.EARLY_STOPPED, TrialState.KILLED)
_WAITING = (TrialState.PENDING, TrialState.QUEUED)
#: A trial's state in its run when the shell stopped before it ended.
INTERRUPTED = "Interrupted"


@dataclass
class _Sent:
    count: int = 0
    last: tuple[int | None, tuple[tuple[str, float], ...]] | None = None
    closed: bool = False


def _identity(report: Report) -> tuple[int | None, tuple[tuple[str, float], ...]]:
    return report.step, tuple(sorted(report.metrics.items()))


@dataclass
class StudyTrack:
    opened: StudyOpened
    emit: Callable[[Record], None]
    trials: dict[str, _Sent] = field(default_factory=dict)
    announced: bool = False
    closed: bool = False

    def observe(
        self,
        history: History,
        now: float,
        finish: Finish | None = None,
        best: Best | None = None,
        front_size: int = 0,
    ) -> None:
        key = self.opened.key
        if not self.announced:
            self.emit(replace(self.opened, time=now))
            self.announced = True
        for trial in history.trials:
            self._trial(trial, now)
        if finish is not None and not self.closed:
            self.closed = True
            self.emit(
                StudyClosed(
                    key,
                    now,
                    finish.reason,
                    best.trial if best else None,
                    best.objective if best else None,
                    dict(best.params) if best else {},
                    front_size,
                )
            )

    def interrupted(self, now: float) -> None:
        """The shell stops before the study is over (it will resume): the runs of the study
        and of its open trials end as killed, to be reopened by the next session."""
        if not self.announced or self.closed:
            return
        for trial, sent in self.trials.items():
            if not sent.closed:
                reason = "interrupted; runs again when the study resumes"
                self.emit(TrialClosed(self.opened.key, trial, INTERRUPTED, reason, None, now))
        self.emit(StudyClosed(self.opened.key, now, None))

    def _trial(self, trial: TrialRecord, now: float) -> None:
        key = self.opened.key
        sent = self.trials.get(trial.name)
        if sent is None:
            if trial.state in _WAITING:
                return
            sent = self.trials[trial.name] = _Sent()
            self.emit(TrialOpened(key, trial.name, dict(trial.params), now))
        start = _new_from(trial.reports, sent)
        for position in range(start, len(trial.reports)):
            report = trial.reports[position]
            step = report.step if report.step is not None else position + 1
            self.emit(Reported(key, trial.name, step, dict(report.metrics), now))
        if trial.reports:
            sent.count, sent.last = len(trial.reports), _identity(trial.reports[-1])
        if trial.state in _ENDED and not sent.closed:
            sent.closed = True
            self.emit(
                TrialClosed(key, trial.name, trial.state.value, trial.reason, trial.objective, now)
            )


def _new_from(reports: tuple[Report, ...], sent: _Sent) -> int:
    """The position of the first report not queued yet."""
    if sent.last is None:
        return 0
    at = sent.count - 1
    if 0 <= at < len(reports) and _identity(reports[at]) == sent.last:
        return sent.count
    for position in range(len(reports) - 1, -1, -1):
        if _identity(reports[position]) == sent.last:
            return position + 1
    return 0  # replaced (a new attempt): all of it, the sink skips what it has


def flatten_settings(spec: Mapping[str, object], prefix: str = "") -> dict[str, str]:
    """A manifest's spec as `a.b.c: value` strings, for a study run's params; each parameter
    as `space.NAME` (its type and range); the trial template is left out (a workload)."""
    out: dict[str, str] = {}
    for name, value in spec.items():
        path = f"{prefix}{name}"
        if not prefix and name == "trialTemplate":
            continue
        if not prefix and name == "parameters" and isinstance(value, list):
            for parameter in value:
                if isinstance(parameter, Mapping):
                    described = {k: v for k, v in parameter.items() if k != "name"}
                    out[f"space.{parameter.get('name')}"] = str(described)
        elif isinstance(value, Mapping):
            out.update(flatten_settings(value, path + "."))
        else:
            out[path] = str(value)
    return out

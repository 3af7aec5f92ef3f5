"""`kubetune run`: the local shell. Observe processes, ask the engine, act, record.

The loop: rebuild the history from the results file -> `decide` -> stop, kill, create ->
start pending trials that have a GPU slot -> wait for the next output line or exit. Every
decision is the engine's; this module only turns them into processes and results events.

Stopping: SIGINT, SIGTERM and SIGHUP all end a run the same way (every trial's process group
ended, an `interrupted` event written), and a second signal while that happens only makes it
hurry (SIGKILL at once), never skips the record. The signal never lands mid-write: the
handler raises only while the loop waits, and otherwise leaves a flag the loop reads before
each step. A runner killed outright leaves its trials to the guard process.

Per-trial limits come from the Job template, read as the Job controller reads them:
`activeDeadlineSeconds` counts from a trial's first start and fails it (no retry);
`backoffLimit` reruns a trial whose trainer failed, same name and params, as a new attempt
whose reports replace the last one's.
"""

from __future__ import annotations

import os
import queue
import shutil
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kubetune.api.study import Study
from kubetune.api.trainer_env import Places
from kubetune.engine import (
    Decision,
    Finish,
    History,
    Lineage,
    Report,
    StopDecision,
    TrialRecord,
    TrialState,
    decide,
)
from kubetune.engine.outcome import trial_outcome
from kubetune.local import checkpoints
from kubetune.local.gpus import GpuPool
from kubetune.local.processes import (
    GRACE_SECONDS,
    NO_PLACES,
    Event,
    Exit,
    Found,
    Guard,
    TrialProcess,
    build_command,
    fresh_trial_dir,
    local_places,
    start_trial,
)
from kubetune.local.progress import Progress
from kubetune.local.results import ResultsFile
from kubetune.metrics.follow import Follower
from kubetune.metrics.lines import MALFORMED, BadValue, LineParser, build_parser
from kubetune.metrics.sources import build_follower
from kubetune.tracking.diff import StudyTrack

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

#: The Job controller's words for a Job past its deadline, so both shells say the same.
DEADLINE_REASON = "Job failed: DeadlineExceeded: Job was active longer than specified deadline"


class Stopped(KeyboardInterrupt):
    """The run was asked to stop by a signal; `signum` says which (exit status 128+signum)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class RunOptions:
    out_dir: Path
    workdir: Path
    gpus: list[str]
    #: Earlier studies' trials to learn from (`spec.warmStart.studies`, `local.warm_start`).
    prior: tuple[TrialRecord, ...] = ()
    #: Where the study is logged besides the results file (MLflow), when it is: made once
    #: the results file knows who the study is (its first session's start).
    tracking: Callable[[ResultsFile], StudyTrack] | None = None


class LocalRunner:
    def __init__(
        self,
        study: Study,
        results: ResultsFile,
        options: RunOptions,
        progress: Progress,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.study = study
        self.spec = study.spec
        self.results = results
        self.options = options
        self.progress = progress
        self.clock = clock
        self.events: queue.Queue[Event] = queue.Queue()
        self.processes: dict[str, TrialProcess] = {}
        self.gpus = GpuPool(options.gpus)
        self.metric = self.spec.primary.metric
        self.known = set(self.spec.tracked_metrics)
        #: The trainer's output is parsed when it is the source; a metrics file or event
        #: files are followed instead (`follower_for`).
        self.parse: LineParser | None = (
            build_parser(self.spec.metrics, self.known)
            if self.spec.metrics.kind == "output"
            else None
        )
        needed = self.spec.resources.gpus
        if needed > len(options.gpus):
            raise ValueError(
                f"spec.resources.gpus: each trial asks for {needed} GPU(s) but this machine has "
                f"{len(options.gpus)}; pass --gpus 0,1,... or set resources.gpus to 0 to run on CPU"
            )
        _check_command(study, options.workdir)
        job = self.spec.trial_template.trainer_job  # a JobSet: its first replicated Job
        self.deadline_seconds = job.active_deadline_seconds
        self.retries = job.backoff_limit or 0
        #: When each trial's first attempt of this session started (the deadline counts from it).
        self.first_start: dict[str, float] = {}
        self.guard: Guard | None = None
        self.track: StudyTrack | None = None
        self._signal: int | None = None  # a stop asked for, not yet acted on
        #: pbt checkpoints already deleted this session.
        self.dropped: set[str] = set()
        self._waiting = False  # True only while the loop blocks: the one place to raise

    def history(self) -> History:
        found = self.results.history(self.study.name, self.clock())
        return replace(found, prior=self.options.prior) if self.options.prior else found

    def run(self) -> Finish:
        """Run to the study's end; a stop signal raises `Stopped` once everything is recorded."""
        previous = self._catch_signals()
        self.guard = Guard()
        try:
            self.results.write(
                "study",
                self.clock(),
                manifest=self.study.model_dump(mode="json", by_alias=True, exclude_none=True),
            )
            if self.options.tracking is not None:
                self.track = self.options.tracking(self.results)
            return self._loop()
        except KeyboardInterrupt as stop:
            self._interrupt(stop)
            raise stop if isinstance(stop, Stopped) else Stopped(signal.SIGINT) from None
        finally:
            self.results.close()
            self.guard.close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _catch_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}  # only the main thread may; a runner in a thread is stopped by its owner
        previous: dict[int, Any] = {}
        for signum in STOP_SIGNALS:
            previous[signum] = signal.signal(signum, self._on_signal)
        return previous

    def _on_signal(self, signum: int, frame: object) -> None:
        if self._signal is None:
            self._signal = signum
        if self._waiting:
            self._waiting = False
            raise Stopped(signum)

    def _loop(self) -> Finish:
        while True:
            if self._signal is not None:
                raise Stopped(self._signal)
            history = self.history()
            decision = decide(self.spec, history, self.clock())
            self._track(history, decision)
            acted = self._act(decision)
            if decision.finish is not None and not self.processes:
                self._track(self.history(), decision, finished=True)
                self.results.write(
                    "study_finished",
                    self.clock(),
                    reason=decision.finish.reason,
                    succeeded=decision.finish.succeeded,
                    message=decision.finish.message,
                )
                self.progress.finished(self.results.rows(), decision)
                return decision.finish
            self._start_pending()
            self.progress.update(self.results.rows(), decision.best)
            if not acted:
                self._wait()

    def _track(self, history: History, decision: Decision, finished: bool = False) -> None:
        track = self.track
        if track is not None:
            finish = decision.finish if finished else None
            track.observe(history, self.clock(), finish, decision.best, len(decision.front))

    def _act(self, decision: Decision) -> bool:
        now = self.clock()
        for stop in decision.stop:
            self._end(stop.trial, TrialState.EARLY_STOPPED, stop.reason, stop=stop)
        for name in decision.kill:
            assert decision.finish is not None
            self._end(name, TrialState.KILLED, f"study finished: {decision.finish.reason}")
        for new in decision.create:
            self.results.created(now, new)
        # The engine names every unreachable checkpoint each time: only new ones are looked at.
        dropping = [n for n in decision.drop_checkpoints if n not in self.dropped]
        checkpoints.drop(self.options.out_dir, tuple(dropping))
        self.dropped.update(dropping)
        return bool(decision.stop or decision.kill or decision.create)

    def _start_pending(self) -> None:
        for row in self.results.rows():
            if row.state != TrialState.PENDING or row.name in self.processes:
                continue
            missing = checkpoints.missing_parent(self.options.out_dir, row.lineage)
            if missing is not None:
                self._end(row.name, TrialState.FAILED, missing)
                continue
            devices = self.gpus.acquire(row.name, self.spec.resources.gpus)
            if devices is None:
                return  # trials start in index order; the next waits for a GPU to free up
            places, follower = self._places(row.name)
            if self.spec.algorithm.segmented:
                places = self._checkpoint_places(places, row.name, row.lineage)
            argv, env, workdir = build_command(self.study, row.name, row.params, row.budget, places)
            if self.spec.resources.gpus:
                env["CUDA_VISIBLE_DEVICES"] = ",".join(devices)
            env["KUBETUNE_ATTEMPT"] = str(row.attempt)
            cwd = Path(workdir) if workdir and Path(workdir).is_dir() else self.options.workdir
            log = self.options.out_dir / "trials" / f"{row.name}.log"
            now = self.clock()
            self.first_start.setdefault(row.name, now)
            self.results.write("started", now, trial=row.name, gpus=devices, attempt=row.attempt)
            assert self.guard is not None
            self.processes[row.name] = start_trial(
                row.name, argv, env, cwd, log, self.events, self.guard, follower
            )

    def _places(self, trial: str) -> tuple[Places, Follower | None]:
        """Where this start of `trial` writes its metrics file or event files (a fresh folder
        of its own), and the follower that reads them; none when its output is the source."""
        source = self.spec.metrics
        if source.kind not in ("file", "tensorboard"):
            return NO_PLACES, None
        # Absolute: the trainer runs in its working directory, not beside the results.
        trials = (self.options.out_dir / "trials").resolve()
        places = local_places(self.study, fresh_trial_dir(trials, trial))
        Path(places.tensorboard_dir).mkdir(exist_ok=True)
        place = places.metrics_file if source.file is not None else places.tensorboard_dir
        return places, build_follower(source, self.known, Path(place))

    def _checkpoint_places(self, places: Places, trial: str, lineage: Lineage | None) -> Places:
        """A pbt segment's own checkpoint folder (emptied) and its parent's, if it has one."""
        out = self.options.out_dir
        parent = lineage.parent if lineage is not None else None
        return replace(
            places,
            checkpoint_dir=str(checkpoints.fresh_checkpoint_dir(out, trial)),
            restore_dir=str(checkpoints.trial_checkpoints(out, parent)) if parent else "",
        )

    def _enforce_deadlines(self) -> None:
        if self.deadline_seconds is None:
            return
        now = self.clock()
        for name in list(self.processes):
            row = self.results.trials[name]
            began = self.first_start.get(name)
            overdue = began is not None and now - began >= self.deadline_seconds
            if row.state == TrialState.RUNNING and overdue:
                reason = f"{DEADLINE_REASON} (activeDeadlineSeconds: {self.deadline_seconds})"
                self._end(name, TrialState.FAILED, reason)

    def _wait(self) -> None:
        """Block until something happens: an output line, an exit, or a deadline."""
        timeout = self._next_deadline()
        self._waiting = True
        try:
            if self._signal is not None:
                raise Stopped(self._signal)
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            self._enforce_grace()
            self._enforce_deadlines()
            return
        finally:
            self._waiting = False
        self._handle(event)
        while True:  # drain what else arrived, then decide once
            try:
                self._handle(self.events.get_nowait())
            except queue.Empty:
                break
        self._enforce_grace()
        self._enforce_deadlines()

    def _next_deadline(self) -> float:
        now = self.clock()
        deadlines = [p.kill_at for p in self.processes.values() if p.kill_at is not None]
        if self.deadline_seconds is not None:
            deadlines += [
                self.first_start[name] + self.deadline_seconds
                for name, process in self.processes.items()
                if name in self.first_start and process.kill_at is None
            ]
        timeout = self.spec.budget.timeout_seconds
        started = self.history().started_at
        if timeout is not None and started is not None:
            deadlines.append(started + timeout)
        if not deadlines:
            return 1.0
        return min(1.0, max(0.01, min(deadlines) - now))

    def _enforce_grace(self) -> None:
        now = self.clock()
        for process in self.processes.values():
            process.enforce(now)

    def _handle(self, event: Event) -> None:
        row = self.results.trials.get(event.trial)
        if isinstance(event, Exit):
            process = self.processes.pop(event.trial, None)
            if process is not None and process.popen is not None and self.guard is not None:
                self.guard.forget(process.popen.pid)
            self.gpus.release(event.trial)
            if row is not None and row.state == TrialState.RUNNING:
                self._finish_exited(event)
            return
        if row is None or row.state != TrialState.RUNNING:
            return  # output after a stop or kill: the trial's verdict is already recorded
        if isinstance(event, Found):
            self._record(event.trial, event.polled.reports)
            if event.polled.error is not None:
                self._end(event.trial, TrialState.FAILED, event.polled.error)
            return
        if self.parse is None:
            return  # a log line: reports come from the metrics file or event files
        parsed = self.parse(event.text)
        if isinstance(parsed, BadValue):
            if parsed.metric == MALFORMED:
                self._end(event.trial, TrialState.FAILED, str(parsed))
            elif parsed.metric in self.known:
                self._end(event.trial, TrialState.FAILED, f"bad value: {parsed}")
            return
        if parsed is not None:
            self._record(event.trial, [parsed])

    def _record(self, trial: str, reports: Sequence[Report]) -> None:
        for report in reports:
            metrics = {k: v for k, v in report.metrics.items() if k in self.known}
            if metrics:
                self.results.write(
                    "report", self.clock(), trial=trial, step=report.step, metrics=metrics
                )

    def _finish_exited(self, event: Exit) -> None:
        row = self.results.trials[event.trial]
        failure = None
        if event.error is not None:
            failure = event.error
        elif event.code != 0:
            last = " | ".join(line for line in event.tail[-3:] if line.strip())
            failure = f"trainer exited with code {event.code}: {last}"
        if failure is not None and self.retries:
            failure += f" (attempt {row.attempt} of {self.retries + 1})"
            if row.attempt <= self.retries:
                # A new attempt: same name and params, its reports start again (as a new pod's).
                self.results.write(
                    "retried", self.clock(), trial=row.name, attempt=row.attempt + 1, reason=failure
                )
                self.progress.retried(row, failure)
                return
        outcome = trial_outcome(self.spec, row.reports, failure)
        self._end(
            event.trial,
            outcome.state,
            outcome.reason,
            objective=outcome.objective,
            values=outcome.values,
        )

    def _end(
        self,
        trial: str,
        state: TrialState,
        reason: str | None,
        objective: float | None = None,
        stop: StopDecision | None = None,
        values: dict[str, float] | None = None,
    ) -> None:
        process = self.processes.get(trial)
        if process is not None:
            process.terminate(self.clock())
        self.results.finished_trial(
            self.clock(), trial, state, reason, objective, stop, values=values
        )
        self.progress.trial_done(self.results.trials[trial])

    def _interrupt(self, stop: KeyboardInterrupt) -> None:
        """End every trial's process group, then record the interruption. Another signal
        meanwhile only hurries it (SIGKILL now): the record is always written."""
        hurry: list[int] = []
        for signum in STOP_SIGNALS:
            if threading.current_thread() is threading.main_thread():
                signal.signal(signum, lambda number, frame: hurry.append(number))
        now = self.clock()
        for process in self.processes.values():
            process.terminate(now)
        deadline = time.monotonic() + GRACE_SECONDS
        give_up = deadline + GRACE_SECONDS  # a process stuck in the kernel: the guard's then
        while any(p.running for p in self.processes.values()) and time.monotonic() < give_up:
            if hurry or time.monotonic() >= deadline:
                for process in self.processes.values():
                    process.signal(signal.SIGKILL)
            time.sleep(0.02)
        for process in self.processes.values():
            if process.popen is not None and self.guard is not None:
                self.guard.forget(process.popen.pid)
        name = signal.Signals(stop.signum).name if isinstance(stop, Stopped) else "SIGINT"
        self.results.write("interrupted", self.clock(), signal=name)
        if self.track is not None:
            self.track.observe(self.history(), self.clock())
            self.track.interrupted(self.clock())


def _check_command(study: Study, workdir: Path) -> None:
    """Refuse a trainer that cannot start before any trial is recorded as started."""
    container = study.spec.trial_template.trainer
    argv = (container.command or []) + (container.args or [])
    if not argv or "${" in argv[0] or argv[0] in ("python", "python3"):
        return  # build_command refuses an empty one; a placeholder is known per trial only
    given = container.working_dir
    where = Path(given) if given and Path(given).is_dir() else workdir  # as _start_pending
    program = argv[0]
    if "/" in program:
        path = where / program  # an absolute program stays itself
        found = path.is_file() and os.access(path, os.X_OK)
    else:
        found = shutil.which(program) is not None
    if not found:
        raise ValueError(
            "spec.trialTemplate.spec.template.spec.containers[0].command[0]: "
            f"{program!r} is not an executable file "
            + ("on PATH" if "/" not in program else f"(looked for {where / program})")
            + "; give the trainer's path or install it"
        )

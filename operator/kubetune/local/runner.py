"""`kubetune run`: the local shell. Observe processes, ask the engine, act, record.

The loop: rebuild the history from the results file -> `decide` -> stop, kill, create ->
start pending trials that have a GPU slot -> wait for the next output line or exit. Every
decision is the engine's; this module only turns them into processes and results events.
"""

from __future__ import annotations

import queue
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kubetune.api.study import Study
from kubetune.engine import Decision, Finish, History, StopDecision, TrialState, decide
from kubetune.engine.outcome import trial_outcome
from kubetune.local.gpus import GpuPool
from kubetune.local.processes import Event, Exit, TrialProcess, build_command, start_trial
from kubetune.local.progress import Progress
from kubetune.local.results import ResultsFile
from kubetune.metrics.lines import BadValue, LineParser, build_parser


@dataclass
class RunOptions:
    out_dir: Path
    workdir: Path
    gpus: list[str]


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
        objective = self.spec.objective
        self.metric = objective.metric
        self.known = {objective.metric, *objective.additional_metrics}
        self.parse: LineParser = build_parser(self.spec.metrics, self.known)
        needed = self.spec.resources.gpus
        if needed > len(options.gpus):
            raise ValueError(
                f"spec.resources.gpus: each trial asks for {needed} GPU(s) but this machine has "
                f"{len(options.gpus)}; pass --gpus 0,1,... or set resources.gpus to 0 to run on CPU"
            )

    def history(self) -> History:
        return self.results.history(self.study.name, self.clock())

    def run(self) -> Finish:
        self.results.write(
            "study",
            self.clock(),
            manifest=self.study.model_dump(mode="json", by_alias=True, exclude_none=True),
        )
        try:
            return self._loop()
        except KeyboardInterrupt:
            self._interrupt()
            raise
        finally:
            self.results.close()

    def _loop(self) -> Finish:
        while True:
            decision = decide(self.spec, self.history(), self.clock())
            acted = self._act(decision)
            if decision.finish is not None and not self.processes:
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

    def _act(self, decision: Decision) -> bool:
        now = self.clock()
        for stop in decision.stop:
            self._end(stop.trial, TrialState.EARLY_STOPPED, stop.reason, stop=stop)
        for name in decision.kill:
            assert decision.finish is not None
            self._end(name, TrialState.KILLED, f"study finished: {decision.finish.reason}")
        for new in decision.create:
            self.results.write(
                "created",
                now,
                trial=new.name,
                index=new.index,
                params=dict(new.params),
                budget=new.budget,
            )
        return bool(decision.stop or decision.kill or decision.create)

    def _start_pending(self) -> None:
        for row in self.results.rows():
            if row.state != TrialState.PENDING or row.name in self.processes:
                continue
            devices = self.gpus.acquire(row.name, self.spec.resources.gpus)
            if devices is None:
                return  # trials start in index order; the next waits for a GPU to free up
            argv, env, workdir = build_command(self.study, row.name, row.params, row.budget)
            if self.spec.resources.gpus:
                env["CUDA_VISIBLE_DEVICES"] = ",".join(devices)
            cwd = Path(workdir) if workdir and Path(workdir).is_dir() else self.options.workdir
            log = self.options.out_dir / "trials" / f"{row.name}.log"
            self.results.write("started", self.clock(), trial=row.name, gpus=devices)
            self.processes[row.name] = start_trial(row.name, argv, env, cwd, log, self.events)

    def _wait(self) -> None:
        """Block until something happens: an output line, an exit, or a deadline."""
        timeout = self._next_deadline()
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            self._enforce_grace()
            return
        self._handle(event)
        while True:  # drain what else arrived, then decide once
            try:
                self._handle(self.events.get_nowait())
            except queue.Empty:
                break
        self._enforce_grace()

    def _next_deadline(self) -> float:
        now = self.clock()
        deadlines = [p.kill_at for p in self.processes.values() if p.kill_at is not None]
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
            self.processes.pop(event.trial, None)
            self.gpus.release(event.trial)
            if row is not None and row.state == TrialState.RUNNING:
                self._finish_exited(event)
            return
        if row is None or row.state != TrialState.RUNNING:
            return  # output after a stop or kill: the trial's verdict is already recorded
        parsed = self.parse(event.text)
        if isinstance(parsed, BadValue):
            if parsed.metric in self.known or parsed.metric == "?":
                self._end(event.trial, TrialState.FAILED, f"bad value: {parsed}")
            return
        if parsed is not None:
            metrics = {k: v for k, v in parsed.metrics.items() if k in self.known}
            if metrics:
                self.results.write(
                    "report", self.clock(), trial=event.trial, step=parsed.step, metrics=metrics
                )

    def _finish_exited(self, event: Exit) -> None:
        row = self.results.trials[event.trial]
        failure = None
        if event.code != 0:
            last = " | ".join(line for line in event.tail[-3:] if line.strip())
            failure = f"exit code {event.code}: {last}"
        outcome = trial_outcome(self.spec, row.reports, failure)
        self._end(event.trial, outcome.state, outcome.reason, objective=outcome.objective)

    def _end(
        self,
        trial: str,
        state: TrialState,
        reason: str | None,
        objective: float | None = None,
        stop: StopDecision | None = None,
    ) -> None:
        process = self.processes.get(trial)
        if process is not None:
            process.terminate(self.clock())
        self.results.write(
            "finished",
            self.clock(),
            trial=trial,
            state=state.value,
            objective=objective,
            reason=reason,
            stop=stop.__dict__ if stop else None,
        )
        self.progress.trial_done(self.results.trials[trial])

    def _interrupt(self) -> None:
        """Ctrl-C: end every trial process, record the interruption, keep the file consistent."""
        now = self.clock()
        for process in self.processes.values():
            process.terminate(now)
        deadline = now + 5.0
        for process in self.processes.values():
            try:
                process.popen.wait(timeout=max(0.0, deadline - self.clock()))
            except subprocess.TimeoutExpired:  # a stuck child must not block the interrupt
                process.enforce(float("inf"))
        self.results.write("interrupted", self.clock())

"""Trial processes: start one from the trial template, stream its output, stop it for real.

Each trial runs in its own session (process group) so that stopping it ends its children
too: SIGTERM first, SIGKILL after a grace period. A reader thread per trial copies every
output line to the trial's log file and onto the runner's event queue, followed by the exit
code; the runner's loop is the only consumer, so no state is shared between threads. The
`Guard` ends the groups if the runner dies without doing so itself (see `guard.py`).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from kubetune.api.study import Study
from kubetune.api.template import placeholder_values, substitute
from kubetune.api.trainer_env import Places, place_values, render_trainer_env
from kubetune.metrics.follow import POLL_SECONDS, Follower, Polled

GRACE_SECONDS = 5.0
#: For a study whose trainers write neither a metrics file nor event files.
NO_PLACES = Places("", "")


@dataclass(frozen=True)
class Line:
    trial: str
    text: str


@dataclass(frozen=True)
class Found:
    """What a trial's follower read from its metrics file or event files."""

    trial: str
    polled: Polled


@dataclass(frozen=True)
class Exit:
    trial: str
    code: int
    tail: tuple[str, ...]
    #: Set when the process could not be started at all (no such file, not executable).
    error: str | None = None


Event = Line | Found | Exit


def build_command(
    study: Study,
    trial: str,
    params: Mapping[str, Any],
    budget: float | None,
    places: Places = NO_PLACES,
) -> tuple[list[str], dict[str, str], str | None]:
    """The trainer container's command, env and working dir with placeholders substituted;
    `places`: where this trial's metrics file and event files go (`local_places`)."""
    container = study.spec.trial_template.trainer
    names = [p.name for p in study.spec.parameters]
    source = study.spec.metrics
    values = placeholder_values(
        study.name, trial, params, budget, names, place_values(source, places)
    )
    argv: list[str] = substitute((container.command or []) + (container.args or []), values)
    if not argv:
        raise ValueError(
            "spec.trialTemplate.spec.template.spec.containers[0].command: kubetune run needs a "
            "command (the image's entrypoint is not known locally)"
        )
    if argv[0] in ("python", "python3"):
        argv[0] = sys.executable  # the interpreter kubetune runs in, so trials see its packages
    env_vars = substitute(
        [{"name": e.name, "value": e.value or ""} for e in container.env or []], values
    )
    env = {e["name"]: e["value"] for e in env_vars}
    env.update(render_trainer_env(source, study.name, trial, places))
    return argv, env, container.working_dir


def local_places(study: Study, trial_dir: Path) -> Places:
    """A local trial's own metrics file and event-file folder, inside its folder."""
    source = study.spec.metrics
    name = PurePosixPath(source.file.path).name if source.file is not None else "metrics.log"
    return Places(str(trial_dir / "tensorboard"), str(trial_dir / name))


def fresh_trial_dir(trials_dir: Path, trial: str) -> Path:
    """The trial's folder, empty for this start: what an earlier attempt (or a run that was
    interrupted) left there moves to `TRIAL.1`, `TRIAL.2`, ..., so that its event files
    are not read again as this attempt's reports, and nothing is deleted."""
    folder = trials_dir / trial
    if folder.exists() and any(folder.iterdir()):
        earlier = 1
        while (trials_dir / f"{trial}.{earlier}").exists():
            earlier += 1
        folder.rename(trials_dir / f"{trial}.{earlier}")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Guard:
    """The runner's side of the guard process: which trial process groups are live."""

    def __init__(self, grace: float = GRACE_SECONDS) -> None:
        script = Path(__file__).with_name("guard.py")
        self.popen = subprocess.Popen(
            [sys.executable, "-I", str(script), str(grace)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )

    def _tell(self, line: str) -> None:
        assert self.popen.stdin is not None
        with contextlib.suppress(OSError):  # a guard gone (killed by hand): trials still run
            self.popen.stdin.write(line + "\n")
            self.popen.stdin.flush()

    def watch(self, group: int) -> None:
        self._tell(f"+ {group}")

    def forget(self, group: int) -> None:
        self._tell(f"- {group}")

    def close(self) -> None:
        """The runner is done; the guard ends whatever is still listed, then exits."""
        assert self.popen.stdin is not None
        with contextlib.suppress(OSError):
            self.popen.stdin.close()


class TrialProcess:
    def __init__(self, trial: str, popen: subprocess.Popen[str] | None) -> None:
        self.trial = trial
        self.popen = popen
        self.kill_at: float | None = None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def terminate(self, now: float) -> None:
        if self.kill_at is None and self.running:
            self.signal(signal.SIGTERM)
            self.kill_at = now + GRACE_SECONDS

    def enforce(self, now: float) -> None:
        """SIGKILL a trial that ignored SIGTERM for the grace period."""
        if self.kill_at is not None and now >= self.kill_at and self.running:
            self.signal(signal.SIGKILL)

    def signal(self, sig: signal.Signals) -> None:
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError):  # it ended on its own meanwhile
                os.killpg(self.popen.pid, sig)


def start_trial(
    trial: str,
    argv: list[str],
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    events: queue.Queue[Event],
    guard: Guard,
    follower: Follower | None = None,
) -> TrialProcess:
    """Start one attempt of a trial. A command that cannot start at all is an `Exit` with the
    error on the queue, as if it had failed at once: it fails (or retries) that trial alone.
    `follower`: the reader of its metrics file or event files, polled while it runs and once
    more after it ended, before its `Exit` is queued."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
        )
    except OSError as error:
        why = f"cannot start {argv[0]!r}: {error.strerror or error}"
        with log_path.open("a", encoding="utf-8") as log:
            log.write(f"# {time.strftime('%Y-%m-%dT%H:%M:%S')} {why}\n")
        events.put(Exit(trial, 127, (), error=why))
        return TrialProcess(trial, None)
    guard.watch(popen.pid)  # the group's id is the leader's pid (a new session)
    thread = threading.Thread(
        target=_pump,
        args=(trial, popen, log_path, events, follower),
        name=f"trial-{trial}",
        daemon=True,
    )
    thread.start()
    return TrialProcess(trial, popen)


def _follow(
    trial: str, follower: Follower, events: queue.Queue[Event], done: threading.Event
) -> None:
    while not done.wait(POLL_SECONDS):
        polled = follower.poll()
        if polled.reports or polled.error:
            events.put(Found(trial, polled))


def _pump(
    trial: str,
    popen: subprocess.Popen[str],
    log_path: Path,
    events: queue.Queue[Event],
    follower: Follower | None,
) -> None:
    done = threading.Event()
    poller = None
    if follower is not None:
        poller = threading.Thread(
            target=_follow,
            args=(trial, follower, events, done),
            name=f"follow-{trial}",
            daemon=True,
        )
        poller.start()
    tail: list[str] = []
    assert popen.stdout is not None
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"# {time.strftime('%Y-%m-%dT%H:%M:%S')} started: {' '.join(popen.args)}\n")  # type: ignore[arg-type]
        for text in popen.stdout:
            log.write(text)
            log.flush()
            line = text.rstrip("\n")
            tail = [*tail[-9:], line]
            events.put(Line(trial, line))
    code = popen.wait()
    if follower is not None and poller is not None:
        done.set()
        poller.join()  # one poll at a time: the last one below reads what is left
        polled = follower.poll(final=True)
        if polled.reports or polled.error:
            events.put(Found(trial, polled))
    events.put(Exit(trial, code, tuple(tail)))

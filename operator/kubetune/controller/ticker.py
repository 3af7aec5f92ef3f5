"""What has no watch event of its own: study timeouts, Prometheus pulls, a slow heal pass.

kopf timers would do this, but they make kopf put a finalizer on every Study, and a Study
with a finalizer cannot be deleted while the operator is down or uninstalled (kopf #1074).
So a Study watch handler (no finalizer) keeps `Ticker`'s table of running studies, and one
thread wakes each study when its next deadline comes. The table is rebuilt from the watch
after a restart: kopf replays every existing Study as an event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubetune.api.study import FINISHED_STUDY_PHASES
from kubetune.controller.kube import API_ERRORS, describe

log = logging.getLogger("kubetune.operator")
PROMETHEUS_INTERVAL = 2.0  # how often a running Prometheus-backed study's trials are read
TIMEOUT_INTERVAL = 5.0  # how late a study's budget.timeout may be noticed, at most


@dataclass
class _Watched:
    prometheus: bool
    timeout: bool
    next_pull: float
    next_wake: float
    next_heal: float


class Ticker:
    def __init__(
        self,
        wake: Callable[[str, str, bool], None],
        pull: Callable[[str, str], None],
        heal_seconds: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        said: Callable[[BaseException], bool] = lambda error: False,
    ) -> None:
        """`wake(namespace, name, heal)` requests a pass of the study (`heal`: one that also
        looks for lost workloads); `pull(namespace, name)` reads its running trials from
        Prometheus."""
        self.wake = wake
        self.said = said
        self.pull = pull
        self.heal_seconds = heal_seconds
        self.clock = clock
        self.studies: dict[tuple[str, str], _Watched] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def track(self, body: Mapping[str, Any], deleted: bool = False) -> None:
        meta, spec = body["metadata"], body.get("spec") or {}
        key = (meta["namespace"], meta["name"])
        phase = (body.get("status") or {}).get("phase")
        with self.lock:
            if deleted or phase in FINISHED_STUDY_PHASES:
                self.studies.pop(key, None)
                return
            known = self.studies.get(key)
            prometheus = bool((spec.get("metrics") or {}).get("prometheus"))
            timeout = bool((spec.get("budget") or {}).get("timeout"))
            if known is None:
                now = self.clock()
                self.studies[key] = _Watched(
                    prometheus, timeout, now, now + TIMEOUT_INTERVAL, now + self.heal_seconds
                )
            else:
                known.prometheus, known.timeout = prometheus, timeout

    def due(self) -> list[tuple[str, tuple[str, str]]]:
        """(what, study) pairs whose time has come, with their next deadlines moved on:
        what is "pull", "wake" (a pass, for a timeout) or "heal" (a pass that heals)."""
        now = self.clock()
        work: list[tuple[str, tuple[str, str]]] = []
        with self.lock:
            for key, watched in self.studies.items():
                if watched.prometheus and now >= watched.next_pull:
                    watched.next_pull = now + PROMETHEUS_INTERVAL
                    work.append(("pull", key))
                if now >= watched.next_heal:
                    watched.next_heal = now + self.heal_seconds
                    watched.next_wake = now + TIMEOUT_INTERVAL
                    work.append(("heal", key))
                elif watched.timeout and now >= watched.next_wake:
                    watched.next_wake = now + TIMEOUT_INTERVAL
                    work.append(("wake", key))
        return work

    def run(self) -> None:
        while not self.stop.wait(0.5):
            for what, (namespace, name) in self.due():
                try:
                    if what == "pull":
                        self.pull(namespace, name)
                    else:
                        self.wake(namespace, name, what == "heal")
                except API_ERRORS as error:  # one study's trouble must not stop the others'
                    if not self.said(error):
                        log.warning(
                            "%s of %s/%s failed: %s", what, namespace, name, describe(error)
                        )
                except Exception:
                    log.exception("%s of %s/%s failed", what, namespace, name)

    def start(self) -> None:
        threading.Thread(target=self.run, name="ticker", daemon=True).start()

"""Saying what fails, once: one line when a kind of failure starts, with how it is retried,
and one line when it is over.

While the API server was down for 38 s, every call that failed used to log on its own: urllib3
for each retry, kopf for each watch's attempt, the collector a traceback for every post it
could not record, about 9,000 lines in all, with the line that mattered lost among them. Now
the API client reports each call's fate here (`kube.ApiHealth`), the callers stay quiet about
an outage (they retry as before), and a traceback is written only for what is not an outage
or a refusal: a bug (`kube.is_outage` tells them apart).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("kubetune.operator")

#: What the operator does while the API server cannot be reached, said in the outage's line.
API_RETRIES = (
    "study passes back off from 0.5 s to 30 s, report posts are answered 503 for the "
    "sidecars to post again, watches reconnect after kopf's backoff (1 s growing to 21 s)"
)
API_SERVER = "the Kubernetes API server"


@dataclass
class _Down:
    since: float
    failures: int
    cause: str


class Faults:
    """Kinds of failure going on now; thread-safe (the collector, the study loop's workers,
    kopf's threads and the ticker all report)."""

    def __init__(
        self, logger: logging.Logger = log, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._log = logger
        self._clock = clock
        self._lock = threading.Lock()
        self._down: dict[str, _Down] = {}

    def failed(self, kind: str, cause: str, retries: str) -> None:
        with self._lock:
            down = self._down.get(kind)
            if down is not None:
                down.failures += 1
                return
            self._down[kind] = _Down(self._clock(), 1, cause)
        self._log.warning(
            "%s failing: %s; retrying: %s (said once; a line follows when it works again)",
            kind,
            cause,
            retries,
        )

    def worked(self, kind: str) -> None:
        if kind not in self._down:  # the common case, without the lock
            return
        with self._lock:
            down = self._down.pop(kind, None)
        if down is not None:
            self._log.warning(
                "%s back after %.0f s (%d failed calls meanwhile; the first: %s)",
                kind,
                self._clock() - down.since,
                down.failures,
                down.cause,
            )

    def failing(self, kind: str) -> bool:
        return kind in self._down


class KopfRetries(logging.Filter):
    """kopf logs every failed attempt of every watch at ERROR ("Request attempt #3/9 failed;
    will retry: ..."): seven watches, one line each per attempt. Those become the outage's
    one line; kopf's other records pass."""

    def __init__(self, faults: Faults) -> None:
        super().__init__()
        self.faults = faults

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith("Request attempt") or "will retry" not in message:
            return True
        cause = message.rpartition(" -> ")[2] or message
        self.faults.failed(API_SERVER, _kopf_cause(cause), API_RETRIES)
        return False


#: What kopf's attempt lines carry (reprs of aiohttp's errors, 300 characters) -> a phrase.
_CAUSES = (
    ("connect call failed", "connection refused"),
    ("connection refused", "connection refused"),
    ("connection reset", "connection reset"),
    ("(re)initializing", "the API server is starting (HTTP 429)"),
    ("timeout", "timed out"),
    ("server disconnected", "server disconnected"),
)


def _kopf_cause(text: str) -> str:
    lowered = text.lower()
    for phrase, said in _CAUSES:
        if phrase in lowered:
            return said
    errors = re.findall(r"(\w+(?:Error|Exception))\(", text)
    return errors[-1] if errors else text[:120]

"""A work queue of keys served by a few threads, in the manner of client-go's workqueue.

Why the study loop needs one: a watch handler that decided for its study itself held one of
kopf's handler threads for a whole decision (several API calls), so at a few hundred
running trials the pod events that end trials waited behind decisions, seconds each. Handlers
now only `add` the study's key and return.

The guarantees: a key is never worked on by two threads at once; a key added while it is being
worked on is worked on once more afterwards (no event is lost, bursts coalesce into one
pass); a pass that raises is retried after a growing delay (0.5 s doubling to 30 s), so a
Study the operator cannot act on yet (the API server down, a quota) is retried without a
busy loop; keys added only by a retry never jump ahead of fresh ones.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable

from kubetune.controller.kube import API_ERRORS, describe

log = logging.getLogger("kubetune.operator")
RETRY_FIRST = 0.5
RETRY_MAX = 30.0


class WorkQueue:
    def __init__(
        self,
        work: Callable[[Hashable], None],
        workers: int,
        name: str = "work",
        clock: Callable[[], float] = time.monotonic,
        on_wait: Callable[[float], None] | None = None,
        said: Callable[[BaseException], bool] = lambda error: False,
    ) -> None:
        """`on_wait(seconds)` is told how long each pass waited from its first request;
        `said(error)`: the failure is one already reported (an outage of the API server),
        retried without a line per try."""
        self._said = said
        self._work = work
        self._clock = clock
        self._on_wait = on_wait
        self._since: dict[Hashable, float] = {}
        self._ready: deque[Hashable] = deque()
        self._queued: set[Hashable] = set()
        self._running: set[Hashable] = set()
        self._dirty: set[Hashable] = set()
        self._later: list[tuple[float, int, Hashable]] = []
        self._failures: dict[Hashable, int] = {}
        self._count = 0
        self._cond = threading.Condition()
        self._stopped = False
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def add(self, key: Hashable) -> None:
        with self._cond:
            self._since.setdefault(key, self._clock())
            if key in self._running:
                self._dirty.add(key)
            elif key not in self._queued:
                self._queued.add(key)
                self._ready.append(key)
                self._cond.notify()

    def add_after(self, key: Hashable, seconds: float) -> None:
        with self._cond:
            self._count += 1
            heapq.heappush(self._later, (self._clock() + seconds, self._count, key))
            self._cond.notify()

    def forget(self, key: Hashable) -> None:
        """Drop what the queue remembers of a key (its failures) once its object is gone."""
        with self._cond:
            self._failures.pop(key, None)

    def depth(self) -> int:
        with self._cond:
            return len(self._ready)

    def _next(self) -> Hashable | None:
        with self._cond:
            while not self._stopped:
                now = self._clock()
                while self._later and self._later[0][0] <= now:
                    _, _, key = heapq.heappop(self._later)
                    if key not in self._queued and key not in self._running:
                        self._queued.add(key)
                        self._ready.append(key)
                    elif key in self._running:
                        self._dirty.add(key)
                if self._ready:
                    key = self._ready.popleft()
                    self._queued.discard(key)
                    self._running.add(key)
                    since = self._since.pop(key, None)
                    if since is not None and self._on_wait is not None:
                        self._on_wait(now - since)
                    return key
                wait = self._later[0][0] - now if self._later else None
                self._cond.wait(wait)
            return None

    def _done(self, key: Hashable, failed: bool) -> None:
        with self._cond:
            self._running.discard(key)
            if failed:
                tries = self._failures.get(key, 0) + 1
                self._failures[key] = tries
                delay = min(RETRY_MAX, RETRY_FIRST * 2 ** (tries - 1))
                self._count += 1
                heapq.heappush(self._later, (self._clock() + delay, self._count, key))
            else:
                self._failures.pop(key, None)
            if key in self._dirty:
                self._dirty.discard(key)
                if key not in self._queued:
                    self._queued.add(key)
                    self._ready.append(key)
            self._cond.notify()

    def _serve(self) -> None:
        while (key := self._next()) is not None:
            failed = False
            try:
                self._work(key)
            except Exception as error:
                failed = True
                if isinstance(error, API_ERRORS):
                    if not self._said(error):
                        log.warning("work on %s failed: %s; retrying", key, describe(error))
                else:  # a bug: the traceback is what finds it
                    log.exception("work on %s failed; retrying later", key)
            self._done(key, failed)

"""`BackgroundSink`: records written by a thread of their own, so that a tracking server that
is slow, down or refusing never slows or stops a study.

`put` never blocks: records wait in a bounded queue (the oldest is dropped, and counted, when
it is full). The thread writes them in order through a `Writer`; a write that fails for a
reason that may pass (the server unreachable, a 5xx) is retried after a backoff that doubles
up to `MAX_BACKOFF`; one the server refuses for good (a bad value) is dropped and counted.
`close(deadline)` cuts a backoff short for one more try at once, gives the queue up to
`deadline` to drain while the server takes what it is sent (a server that fails that try is
not waited for), then counts what is left as lost: `Summary` says how many records were
written and lost, and the first reason.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from kubetune.tracking.records import Record

MAX_QUEUED = 50_000
#: Records handed to the writer at once (it batches each run's metrics into one request).
BATCH = 500
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0


class PermanentError(Exception):
    """A record the tracking server will never take (retrying cannot help)."""


class Writer(Protocol):
    def write(self, records: Sequence[Record]) -> None:
        """Write these records, in order, all or raise: PermanentError when the server
        refuses one for good, anything else to have them retried. A retry sends the same
        records again, so a write must be idempotent (what was written is skipped)."""
        ...


@dataclass(frozen=True)
class Summary:
    written: int
    lost: int
    #: Why the first lost record was lost (and, while it failed, why writing did).
    reason: str | None


class BackgroundSink:
    def __init__(
        self,
        writer: Writer,
        name: str = "tracking",
        max_queued: int = MAX_QUEUED,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.writer = writer
        self.queue: deque[Record] = deque()
        self.max_queued = max_queued
        self.written = 0
        self.lost = 0
        self.reason: str | None = None
        #: Lost records by their study's key, and the first reason for each.
        self.lost_by_key: dict[str, tuple[int, str]] = {}
        #: Set while writes fail: the latest reason (a Warning event, a status line).
        self.failing: str | None = None
        self._wake = threading.Condition()
        self._closing = False
        self._stop = threading.Event()
        self._hurry = threading.Event()
        self._failed_since_close = 0
        #: The records the thread has in hand (taken off the queue), until written or lost.
        self._writing: list[Record] = []
        self._sleep = sleep
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def put(self, record: Record) -> None:
        with self._wake:
            if self._closing:
                self._lose(f"{type(record).__name__} after the sink was closed", record)
                return
            if len(self.queue) >= self.max_queued:
                dropped = self.queue.popleft()
                self._lose(f"more than {self.max_queued} records waiting for the server", dropped)
            self.queue.append(record)
            self._wake.notify()

    def close(
        self, deadline: float = 10.0, waiting: Callable[[int], None] | None = None
    ) -> Summary:
        """Let the queue drain for up to `deadline` seconds while the server takes what it
        is sent; a server that is failing is not waited for. What is left is lost.
        `waiting` is told how many records are left, every few seconds of waiting."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        self._hurry.set()  # a retry waiting out its backoff goes now
        began = time.monotonic()
        told = began
        while self.thread.is_alive() and time.monotonic() < began + max(0.0, deadline):
            if self.failing is not None and self._failed_since_close:
                break  # it failed again once asked to hurry: the server is down
            self.thread.join(timeout=0.05)
            if waiting is not None and time.monotonic() - told >= 3:
                told = time.monotonic()
                with self._wake:
                    count = len(self.queue) + len(self._writing)
                waiting(count)
        self._stop.set()
        with self._wake:
            left = self._writing + list(self.queue)
            self.queue.clear()
            self._writing = []
            why = f"{len(left)} records still waiting when the study ended" + (
                f" ({self.failing})" if self.failing else ""
            )
            for record in left:
                self._lose(why, record)
        return Summary(self.written, self.lost, self.reason)

    def summary(self) -> Summary:
        with self._wake:
            return Summary(self.written, self.lost, self.reason)

    def lost_for(self, key: str) -> tuple[int, str | None]:
        """How many records of the study `key` were lost, and why the first was."""
        with self._wake:
            count, why = self.lost_by_key.get(key, (0, ""))
            return count, why or None

    def _lose(self, why: str, record: Record) -> None:
        self.lost += 1
        if self.reason is None:
            self.reason = why
        count, first = self.lost_by_key.get(record.key, (0, why))
        self.lost_by_key[record.key] = (count + 1, first)

    def _next(self) -> list[Record]:
        with self._wake:
            while not self.queue:
                if self._closing:
                    return []
                self._wake.wait()
            count = min(BATCH, len(self.queue))
            self._writing = [self.queue.popleft() for _ in range(count)]
            return list(self._writing)

    def _run(self) -> None:
        backoff = FIRST_BACKOFF
        batch = self._next()
        while batch:
            try:
                self._write(batch)
            except Exception as error:  # any failure of the server is retried
                self.failing = f"{type(error).__name__}: {error}"[:300]
                if self._hurry.is_set():
                    self._failed_since_close += 1
                if self._pause(FIRST_BACKOFF if self._hurry.is_set() else backoff):
                    return  # stopped: close() counts the records in hand as lost
                backoff = min(MAX_BACKOFF, backoff * 2)
                continue
            backoff = FIRST_BACKOFF
            if self._stop.is_set():
                return
            batch = self._next()

    def _write(self, batch: list[Record]) -> None:
        """The batch at once; when the server refuses one of it for good, record by record,
        so that only that one is dropped."""
        try:
            self.writer.write(batch)
        except PermanentError:
            for record in batch:
                try:
                    self.writer.write([record])
                except PermanentError as refused:
                    self._done([record], str(refused))
                else:
                    self._done([record], None)
        else:
            self._done(batch, None)

    def _done(self, records: list[Record], refused: str | None) -> None:
        with self._wake:
            gone = {id(r) for r in records}
            self._writing = [r for r in self._writing if id(r) not in gone]
            if refused is None:
                self.written += len(records)
                self.failing = None
            else:
                for record in records:
                    self._lose(
                        f"the server refused a {type(record).__name__}: {refused}"[:300], record
                    )

    def _pause(self, seconds: float) -> bool:
        """Wait before a retry; True when the sink is being stopped meanwhile."""
        if self._sleep is not None:
            self._sleep(seconds)
            return self._stop.is_set()
        deadline = time.monotonic() + seconds
        hurried = self._hurry.is_set()
        while time.monotonic() < deadline:
            if self._stop.wait(min(0.1, deadline - time.monotonic())):
                return True
            if self._hurry.is_set() and not hurried:
                return False  # closing: one more try at once
        return False

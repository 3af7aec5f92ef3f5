"""The tracking bookkeeping (what is new since the last look) and the background sink (never
blocks, retries what may pass, drops what cannot, bounds its queue, says what it lost)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from kubetune.engine import Best, Finish, History, Report, TrialRecord, TrialState
from kubetune.tracking.diff import StudyTrack
from kubetune.tracking.records import (
    Record,
    Reported,
    StudyClosed,
    StudyOpened,
    TrialClosed,
    TrialOpened,
)
from kubetune.tracking.sink import BackgroundSink, PermanentError

from waiting import wait_for


def trial(
    name: str, state: TrialState, reports: list[Report], objective: float | None = None
) -> TrialRecord:
    return TrialRecord(name, int(name[-1]), {"x": 0.5}, state, tuple(reports), objective)


def track() -> tuple[StudyTrack, list[Record]]:
    emitted: list[Record] = []
    return StudyTrack(StudyOpened("k", "s", "s", 0.0), emitted.append), emitted


def test_each_thing_is_queued_once_as_it_happens() -> None:
    study, emitted = track()
    one = [Report(1, {"a": 0.1})]
    study.observe(History("s", (trial("s-0", TrialState.PENDING, []),)), 1.0)
    assert [type(r) for r in emitted] == [StudyOpened]  # a waiting trial is not opened
    study.observe(History("s", (trial("s-0", TrialState.RUNNING, one),)), 2.0)
    study.observe(History("s", (trial("s-0", TrialState.RUNNING, one),)), 3.0)  # nothing new
    two = [*one, Report(2, {"a": 0.2})]
    study.observe(History("s", (trial("s-0", TrialState.SUCCEEDED, two, 0.2),)), 4.0)
    finish = Finish("MaxTrialsReached", True, "done")
    best = Best("s-0", {"x": 0.5}, 0.2)
    history = History("s", (trial("s-0", TrialState.SUCCEEDED, two, 0.2),))
    study.observe(history, 5.0, finish, best, 0)
    study.observe(history, 6.0, finish, best, 0)
    assert [type(r) for r in emitted] == [
        StudyOpened,
        TrialOpened,
        Reported,
        Reported,
        TrialClosed,
        StudyClosed,
    ]
    assert [(r.step, r.metrics) for r in emitted if isinstance(r, Reported)] == [
        (1, {"a": 0.1}),
        (2, {"a": 0.2}),
    ]
    closed = emitted[-1]
    assert (
        isinstance(closed, StudyClosed)
        and closed.best == "s-0"
        and closed.reason == "MaxTrialsReached"
    )


def test_a_bounded_tail_that_moved_and_a_retried_attempt_are_read_right() -> None:
    study, emitted = track()
    reports = [Report(s, {"a": s / 10}) for s in range(1, 6)]
    study.observe(History("s", (trial("s-0", TrialState.RUNNING, reports[:3]),)), 1.0)
    # the shell kept the last 3 of 5: steps 3, 4, 5; only 4 and 5 are new
    study.observe(History("s", (trial("s-0", TrialState.RUNNING, reports[2:]),)), 2.0)
    # a new attempt: its reports replace the last one's, all of it is new (the sink skips
    # the points a run has)
    study.observe(History("s", (trial("s-0", TrialState.RUNNING, [Report(1, {"a": 9.0})]),)), 3.0)
    steps = [r.step for r in emitted if isinstance(r, Reported)]
    assert steps == [1, 2, 3, 4, 5, 1]


def test_an_interrupted_study_closes_its_open_trials_as_interrupted() -> None:
    study, emitted = track()
    study.observe(
        History(
            "s", (trial("s-0", TrialState.RUNNING, []), trial("s-1", TrialState.SUCCEEDED, [], 1.0))
        ),
        1.0,
    )
    study.interrupted(2.0)
    closed = [r for r in emitted if isinstance(r, TrialClosed)]
    assert [(c.trial, c.state) for c in closed] == [("s-1", "Succeeded"), ("s-0", "Interrupted")]
    assert isinstance(emitted[-1], StudyClosed) and emitted[-1].reason is None


class Writer:
    def __init__(self, failures: int = 0, refuse: type | None = None) -> None:
        self.failures = failures
        self.refuse = refuse
        self.written: list[Record] = []
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()

    def write(self, records: Sequence[Record]) -> None:
        self.entered.set()
        self.release.wait(30)
        if self.refuse is not None and any(isinstance(r, self.refuse) for r in records):
            raise PermanentError("no")
        if self.failures:
            self.failures -= 1
            raise ConnectionError("down")
        self.written.extend(records)


def opened(key: str = "k") -> StudyOpened:
    return StudyOpened(key, "s", "s", 0.0)


def test_failures_are_retried_in_order_after_a_backoff() -> None:
    pauses: list[float] = []
    writer = Writer(failures=3)
    sink = BackgroundSink(writer, sleep=pauses.append)
    records: list[Any] = [opened(), TrialOpened("k", "s-0", {}, 1.0)]
    for record in records:
        sink.put(record)
    wait_for(lambda: len(writer.written) == 2, 10, "both written")
    assert writer.written == records and pauses == [0.5, 1.0, 2.0]
    assert sink.close().lost == 0


def test_a_refused_record_is_dropped_counted_and_the_rest_go_on() -> None:
    writer = Writer(refuse=TrialOpened)
    sink = BackgroundSink(writer)
    sink.put(opened())
    sink.put(TrialOpened("k", "s-0", {}, 1.0))
    sink.put(TrialClosed("k", "s-0", "Succeeded", None, 1.0, 2.0))
    summary = sink.close()
    assert [type(r) for r in writer.written] == [StudyOpened, TrialClosed]
    assert summary.lost == 1 and summary.written == 2
    assert summary.reason is not None and "refused a TrialOpened" in summary.reason
    assert sink.lost_for("k")[0] == 1 and sink.lost_for("other")[0] == 0


def test_the_queue_is_bounded_and_put_never_blocks() -> None:
    writer = Writer()
    writer.release.clear()  # the server hangs
    sink = BackgroundSink(writer, max_queued=10)
    sink.put(Reported("k", "s-0", 0, {"a": 1.0}, 1.0))
    wait_for(writer.entered.is_set, 10, "the first record in the writer's hands")
    for index in range(1, 25):
        sink.put(Reported("k", "s-0", index, {"a": 1.0}, 1.0))  # returns at once
    assert sink.summary().lost == 14  # 24 put while it hangs, 10 kept
    writer.release.set()
    summary = sink.close()
    assert summary.written == 11 and summary.lost == 14


def test_close_does_not_wait_for_a_server_that_is_down() -> None:
    import time  # noqa: PLC0415

    writer = Writer(failures=10**6)
    sink = BackgroundSink(writer)
    for index in range(5):
        sink.put(Reported("k", "s-0", index, {"a": 1.0}, 1.0))
    wait_for(lambda: sink.failing is not None, 10, "the first failure")
    began = time.monotonic()
    summary = sink.close(deadline=60)
    assert time.monotonic() - began < 30  # it tried once more, then gave up (not 60 s)
    assert summary.lost == 5 and summary.reason is not None and "down" in summary.reason

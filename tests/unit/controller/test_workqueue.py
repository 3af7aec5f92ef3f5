"""The study loop's work queue: one pass per key at a time, no event lost, failures retried."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable

from kubetune.controller.workqueue import WorkQueue

from waiting import wait_for


def test_a_key_added_during_its_pass_gets_exactly_one_more_pass_never_a_concurrent_one() -> None:
    entered, release = threading.Event(), threading.Event()
    passes: list[Hashable] = []
    running = {"now": 0, "most": 0}
    lock = threading.Lock()

    def work(key: Hashable) -> None:
        with lock:
            running["now"] += 1
            running["most"] = max(running["most"], running["now"])
        passes.append(key)
        if len(passes) == 1:
            entered.set()
            release.wait(10)
        with lock:
            running["now"] -= 1

    queue = WorkQueue(work, workers=4)
    queue.start()
    queue.add("a")
    assert entered.wait(10)
    for _ in range(5):  # a burst while the first pass runs
        queue.add("a")
    release.set()
    wait_for(lambda: len(passes) == 2, 10, "the second pass")
    queue.add("b")
    wait_for(lambda: len(passes) == 3, 10, "b's pass")
    queue.stop()
    assert passes == ["a", "a", "b"] and running["most"] == 1


def test_a_failing_pass_is_retried_after_a_growing_delay_until_it_succeeds() -> None:
    tries: list[float] = []

    def work(key: Hashable) -> None:
        tries.append(time.monotonic())
        if len(tries) < 3:
            raise RuntimeError("the API server said no")

    queue = WorkQueue(work, workers=1)
    queue.start()
    queue.add("s")
    wait_for(lambda: len(tries) == 3, 10, "two retries")
    queue.stop()
    assert tries[1] - tries[0] >= 0.5 and tries[2] - tries[1] >= 1.0

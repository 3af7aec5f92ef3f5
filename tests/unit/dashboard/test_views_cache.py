"""The server's cache of study pages: computed once per revision, even when asked twice at
once, and computed before anyone asks."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from test_local_source import add_trial, start

from kubetune.dashboard.server import Dashboard, _Views
from kubetune.dashboard.sources import LocalSource, Snapshot, Sources


class _Spied(threading.Event):
    """The in-progress marker, telling when a second asker has started to wait on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()
        return super().wait(timeout)


def test_a_view_asked_for_twice_at_once_is_built_once() -> None:
    views = _Views()
    snapshot = Snapshot("local:demo", {}, [], "r1")
    key = ("local:demo", "r1", "study")
    builds: list[int] = []
    entered, release = threading.Event(), threading.Event()

    def build() -> dict[str, int]:
        builds.append(1)
        entered.set()
        assert release.wait(10)
        return {"n": len(builds)}

    answers: list[bytes] = []

    def ask() -> None:
        answers.append(views.get(snapshot, "study", build))

    first = threading.Thread(target=ask)
    first.start()
    assert entered.wait(10)
    spy = views._building[key] = _Spied()
    second = threading.Thread(target=ask)
    second.start()
    assert spy.waiting.wait(10)  # the second asker waits on the first's build
    release.set()
    first.join(10)
    second.join(10)
    assert builds == [1] and answers == [b'{"n": 1}', b'{"n": 1}']
    changed = Snapshot("local:demo", {}, [], "r2")  # a new revision is built anew
    assert views.get(changed, "study", build) == b'{"n": 2}'


def test_a_failed_build_leaves_nothing_behind_and_the_next_ask_builds_again() -> None:
    views = _Views()
    snapshot = Snapshot("local:demo", {}, [], "r1")

    def broken() -> dict[str, int]:
        raise RuntimeError("boom")

    for _ in range(2):
        with pytest.raises(RuntimeError):
            views.get(snapshot, "study", broken)
    assert views.get(snapshot, "study", lambda: [1]) == b"[1]"


def test_warm_computes_the_study_page_and_table_before_anyone_asks(tmp_path: Path) -> None:
    results = start(tmp_path / "demo" / "results.jsonl")
    for index in range(3):
        add_trial(results, index, 0.5 + index / 10)
    dashboard = Dashboard(Sources([LocalSource([tmp_path])]))
    dashboard.warm()
    kept = {(key, kind) for key, _, kind in dashboard.views._cache}
    assert kept == {("local:demo", "study"), ("local:demo", "trials")}
    snapshot = dashboard.sources.snapshot("local:demo")
    assert snapshot is not None
    assert (
        dashboard.study_body(snapshot)
        == dashboard.views._cache[("local:demo", snapshot.revision, "study")]
    )

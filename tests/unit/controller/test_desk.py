"""The study desk, built before any room: requests made before the study loop serves them are
kept, a heal is asked once, and a trial's own write starts no second pass."""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any

import pytest

from kubetune.api import InvalidStudyError
from kubetune.controller.cache import StudyCache
from kubetune.controller.desk import StudyDesk
from kubetune.controller.settings import OperatorSettings
from kubetune.controller.telemetry import Telemetry

from factories import manifest

Obj = dict[str, Any]


class FakeKube:
    """The two things the desk asks of the client: a Study read and whether an error was
    already said."""

    def fetch_study(self, namespace: str, name: str) -> Obj | None:
        return None

    def said(self, error: BaseException) -> bool:
        return False


def desk() -> StudyDesk:
    kube: Any = FakeKube()
    return StudyDesk(kube, OperatorSettings(secret=b"k", study_workers=1), Telemetry())


def trial(phase: str, reports: int = 0) -> Obj:
    return {
        "metadata": {"name": "s-1", "namespace": "ns", "uid": "u-1"},
        "spec": {"study": "s", "index": 1},
        "status": {"phase": phase, "reports": [{"metrics": {}}] * reports},
    }


def test_requests_made_before_the_loop_serves_are_served_once_it_does() -> None:
    board = desk()
    board.request("ns", "a")
    board.request("ns", "b", heal=True)
    board.request("ns", "a")  # coalesced with the first
    served: list[Hashable] = []
    done = threading.Event()

    def work(key: Hashable) -> None:
        served.append(key)
        if len(served) == 2:
            done.set()

    board.start(work)
    assert done.wait(10)
    board.queue.stop()
    assert sorted(served) == [("ns", "a"), ("ns", "b")]  # type: ignore[type-var]
    assert board.take_heal("ns", "b") and not board.take_heal("ns", "b")  # asked once
    assert not board.take_heal("ns", "a")


def test_a_trial_event_asks_for_a_pass_only_when_a_decision_could_change() -> None:
    board = desk()
    board.seen(trial("Pending"))  # the operator's own write
    board.trial_changed(trial("Running"))  # Pending -> Running: both active, no news
    board.trial_changed(trial("Succeeded"))  # the end of a trial: a decision
    board.trial_changed(trial("Succeeded"))  # the same again: nothing
    assert board.queue.depth() == 1


def test_a_study_seen_first_asks_a_heal_and_a_new_generation_a_pass() -> None:
    board = desk()
    study = {"metadata": {"name": "s", "namespace": "ns", "uid": "u", "generation": 1}}
    board.study_seen(study)
    board.study_seen(study)  # a status write: same generation
    assert board.take_heal("ns", "s") and board.queue.depth() == 1
    board.study_seen({"metadata": {**study["metadata"], "generation": 2}})
    assert not board.take_heal("ns", "s")  # a new spec is no resume


def test_forgetting_a_study_drops_its_heal_and_spec() -> None:
    cache = StudyCache(lambda namespace, name: None)
    kube: Any = FakeKube()
    board = StudyDesk(kube, OperatorSettings(secret=b"k"), Telemetry(), cache)
    board.request("ns", "s", heal=True)
    cache.seen({"metadata": {"name": "s", "namespace": "ns", "uid": "u", "resourceVersion": "1"}})
    board.forget("ns", "s")
    assert not board.take_heal("ns", "s")  # a pass still queued finds the Study gone
    assert board.study_of("ns", "s") is None


def test_a_study_is_parsed_once_per_generation() -> None:
    board = desk()
    obj = {**manifest(), "status": {"phase": "Running"}}
    obj["metadata"] = {**obj["metadata"], "namespace": "ns", "uid": "u", "generation": 1}
    first = board.parse(obj)
    assert board.parse({**obj, "status": {"phase": "Succeeded"}}) is first  # a status write
    changed = {**obj, "metadata": {**obj["metadata"], "generation": 2}}
    changed["spec"] = {**obj["spec"], "budget": {**obj["spec"]["budget"], "maxTrials": 99}}
    assert board.parse(changed).spec.budget.max_trials == 99
    broken = {**changed, "metadata": {**changed["metadata"], "generation": 3}}
    broken["spec"] = {**changed["spec"], "budget": {"maxTrials": 0}}
    with pytest.raises(InvalidStudyError):
        board.parse(broken)

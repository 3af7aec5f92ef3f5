"""The watch-fed Trial cache: a miss reads through, a stale copy never replaces a newer one, a
resync drops what the list lacks (a missed deletion) but keeps what was written after it, and
a pass reads its history without a request."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from kubetune.api.trial import TrialState
from kubetune.controller.cache import StudyCache, TrialCache

Obj = dict[str, Any]
STUDY_UID = "study-uid"


def trial(index: int, version: int, phase: str = "Running", **status: Any) -> Obj:
    return {
        "metadata": {
            "name": f"demo-{index}",
            "namespace": "ns",
            "uid": f"uid-{index}",
            "resourceVersion": str(version),
            "ownerReferences": [{"uid": STUDY_UID}],
            "labels": {"kubetune.io/study": "demo"},
        },
        "spec": {"study": "demo", "index": index, "params": {"x": index / 10}},
        "status": {"phase": phase, **status},
    }


def study(version: int = 1) -> Obj:
    return {
        "metadata": {"name": "demo", "namespace": "ns", "uid": STUDY_UID},
        "status": {"startTime": "2026-12-07T00:00:00Z", "resourceVersion": str(version)},
    }


class FakeApi:
    """The API server's side: what a list or a get would answer now, and how often asked."""

    def __init__(self, *trials: Obj) -> None:
        self.trials = {t["metadata"]["name"]: t for t in trials}
        self.version = 100
        self.calls: list[str] = []

    def list_trial_pages(self, namespace: str, study: str) -> Iterator[tuple[list[Obj], int]]:
        """One list, two Trials a page (as of the first page's version)."""
        self.calls.append("list")
        listed = [copy.deepcopy(t) for t in self.trials.values()]
        version = self.version
        for start in range(0, max(len(listed), 1), 2):
            yield listed[start : start + 2], version

    def list_trial_versions(
        self, namespace: str, study: str
    ) -> tuple[dict[str, tuple[str, int]], int]:
        self.calls.append("list versions")
        return {
            name: (t["metadata"]["uid"], int(t["metadata"]["resourceVersion"]))
            for name, t in self.trials.items()
        }, self.version

    def fetch_trial(self, namespace: str, name: str) -> Obj | None:
        self.calls.append(f"get {name}")
        found = self.trials.get(name)
        return copy.deepcopy(found) if found else None


def test_a_study_is_listed_once_then_read_from_memory_as_the_watch_keeps_it() -> None:
    api = FakeApi(trial(0, 10, "Succeeded", objective=0.5), trial(1, 11))
    cache = TrialCache(api)  # type: ignore[arg-type]
    assert cache.prime(study()) is True
    assert cache.prime(study()) is False
    cache.seen(trial(1, 12, "Succeeded", objective=0.7))  # a watch event
    cache.seen(trial(2, 13))  # a new Trial's ADDED event
    history = cache.history(study(), now=0.0)
    assert api.calls == ["list"]
    assert [(t.name, t.state) for t in history.trials] == [
        ("demo-0", TrialState.SUCCEEDED),
        ("demo-1", TrialState.SUCCEEDED),
        ("demo-2", TrialState.RUNNING),
    ]
    assert history.tally is not None and history.tally.count(TrialState.SUCCEEDED) == 2
    assert [t["metadata"]["name"] for t in cache.active("ns", "demo")] == ["demo-2"]


def test_a_late_event_never_replaces_a_newer_write() -> None:
    cache = TrialCache(FakeApi())  # type: ignore[arg-type]
    cache.prime(study())
    cache.seen(trial(0, 20, "Succeeded", objective=0.9))  # our write's answer
    kept = cache.seen(trial(0, 18, "Running"))  # the watch delivers an older version late
    assert kept["metadata"]["resourceVersion"] == "20" and kept["status"]["phase"] == "Succeeded"
    assert cache.history(study(), 0.0).trials[0].state == TrialState.SUCCEEDED


def test_a_miss_reads_through_and_a_stale_copy_is_read_fresh_when_asked() -> None:
    api = FakeApi(trial(0, 30, "Running"))
    cache = TrialCache(api)  # type: ignore[arg-type]
    assert cache.get("ns", "demo-0") is not None and api.calls == ["get demo-0"]
    assert cache.get("ns", "demo-0") is not None and api.calls == ["get demo-0"]  # kept
    api.trials["demo-0"] = trial(0, 31, "Running", reports=[{"step": 1, "metrics": {"x": 1}}])
    stale = cache.get("ns", "demo-0")
    assert stale is not None and stale["metadata"]["resourceVersion"] == "30"
    fresh = cache.get("ns", "demo-0", fresh=True)  # after a write's conflict
    assert fresh is not None and fresh["metadata"]["resourceVersion"] == "31"
    del api.trials["demo-0"]
    assert cache.get("ns", "demo-0", fresh=True) is None
    assert cache.get("ns", "demo-missing") is None


def test_a_resync_drops_a_missed_deletion_reads_a_missed_change_and_keeps_later_writes() -> None:
    api = FakeApi(trial(0, 10, "Succeeded", objective=0.5), trial(1, 11), trial(3, 12))
    cache = TrialCache(api)  # type: ignore[arg-type]
    cache.prime(study())
    del api.trials["demo-0"]  # deleted; its DELETED event never came
    api.trials["demo-1"] = trial(1, 40, "Succeeded", objective=0.8)  # its event never came
    api.version = 50
    cache.seen(trial(2, 60))  # created after the list below is taken: the list lacks it
    api.calls.clear()
    cache.resync(study())
    history = cache.history(study(), 0.0)
    assert [(t.name, t.state) for t in history.trials] == [
        ("demo-1", TrialState.SUCCEEDED),
        ("demo-2", TrialState.RUNNING),
        ("demo-3", TrialState.RUNNING),
    ]
    assert api.calls == ["list versions", "get demo-1"]  # only the one behind is read


def test_a_finished_trial_keeps_its_record_but_not_its_object() -> None:
    cache = TrialCache(FakeApi())  # type: ignore[arg-type]
    cache.prime(study())
    reports = [{"step": s, "metrics": {"loss": 1 / s}} for s in range(1, 50)]
    cache.seen(trial(0, 5, "Succeeded", objective=0.02, reports=reports))
    kept = cache.get("ns", "demo-0")
    assert kept is not None and kept["status"] == {"phase": "Succeeded", "jobName": None}
    record = cache.history(study(), 0.0).trials[0]
    assert len(record.reports) == 49 and record.objective == 0.02


def test_trials_of_an_earlier_study_of_the_same_name_are_not_this_ones() -> None:
    old = trial(0, 5, "Succeeded", objective=0.1)
    old["metadata"]["ownerReferences"] = [{"uid": "an-earlier-study"}]
    cache = TrialCache(FakeApi(old))  # type: ignore[arg-type]
    cache.prime(study())
    assert cache.history(study(), 0.0).trials == ()


def test_the_study_cache_keeps_the_newer_copy_and_reads_through_on_a_miss() -> None:
    fetched: list[str] = []

    def fetch(namespace: str, name: str) -> Obj | None:
        fetched.append(name)
        return {
            "metadata": {"name": name, "namespace": namespace, "uid": "u", "resourceVersion": "5"}
        }

    cache = StudyCache(fetch)
    first = cache.get("ns", "demo")
    assert first is not None and fetched == ["demo"]
    newer = {"metadata": {"name": "demo", "namespace": "ns", "uid": "u", "resourceVersion": "9"}}
    cache.seen(newer)
    late = {"metadata": {"name": "demo", "namespace": "ns", "uid": "u", "resourceVersion": "7"}}
    assert cache.seen(late) is newer
    assert cache.get("ns", "demo") is newer and fetched == ["demo"]

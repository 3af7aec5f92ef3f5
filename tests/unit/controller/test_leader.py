"""Leader election's rules against an in-memory Lease store with the API server's
optimistic concurrency (a write carries the resourceVersion it read)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from kubetune.controller.leader import ConflictError, LeaderElector

Obj = dict[str, Any]


class Store:
    def __init__(self) -> None:
        self.lease: Obj | None = None
        self.version = 0
        self.fail_reads = False

    def _stamp(self, spec: Obj) -> Obj:
        self.version += 1
        self.lease = {"metadata": {"resourceVersion": str(self.version)}, "spec": dict(spec)}
        return self.lease

    def read_lease(self, namespace: str, name: str) -> Obj | None:
        if self.fail_reads:
            raise OSError("connection refused")
        return None if self.lease is None else {**self.lease}

    def create_lease(self, namespace: str, name: str, spec: Obj) -> Obj:
        if self.lease is not None:
            raise ConflictError("exists")
        return self._stamp(spec)

    def replace_lease(self, namespace: str, name: str, spec: Obj, resource_version: str) -> Obj:
        assert self.lease is not None
        if self.lease["metadata"]["resourceVersion"] != resource_version:
            raise ConflictError("stale")
        return self._stamp(spec)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def candidate(store: Store, clock: Clock, identity: str) -> LeaderElector:
    return LeaderElector(store, "ns", "kubetune", identity, monotonic=clock)


def test_the_first_candidate_takes_a_missing_lease_and_the_second_waits() -> None:
    store, clock = Store(), Clock()
    a, b = candidate(store, clock, "a"), candidate(store, clock, "b")
    assert a.try_acquire_or_renew() is True
    assert b.try_acquire_or_renew() is False
    assert store.lease is not None and store.lease["spec"]["holderIdentity"] == "a"
    assert store.lease["spec"]["leaseTransitions"] == 0


def test_a_renewing_leader_is_never_displaced() -> None:
    store, clock = Store(), Clock()
    a, b = candidate(store, clock, "a"), candidate(store, clock, "b")
    a.try_acquire_or_renew()
    for _ in range(20):
        clock.now += 5  # more than a lease duration in total, but renewed every 5 s
        assert a.try_acquire_or_renew() is True
        assert b.try_acquire_or_renew() is False


def test_a_silent_leader_is_replaced_only_after_a_full_duration_on_the_standby_clock() -> None:
    store, clock = Store(), Clock()
    a, b = candidate(store, clock, "a"), candidate(store, clock, "b")
    a.try_acquire_or_renew()
    assert b.try_acquire_or_renew() is False  # b first sees the record now
    clock.now += 14.9
    assert b.try_acquire_or_renew() is False
    clock.now += 0.2
    assert b.try_acquire_or_renew() is True
    assert store.lease is not None
    assert store.lease["spec"]["holderIdentity"] == "b"
    assert store.lease["spec"]["leaseTransitions"] == 1
    assert a.try_acquire_or_renew() is False  # the old leader finds it lost


def test_two_standbys_racing_for_an_expired_lease_cannot_both_win() -> None:
    store, clock = Store(), Clock()
    candidate(store, clock, "dead").try_acquire_or_renew()
    b, c = candidate(store, clock, "b"), candidate(store, clock, "c")
    b.try_acquire_or_renew()
    c.try_acquire_or_renew()
    clock.now += 16
    read_by_c = store.read_lease("ns", "kubetune")
    assert b.try_acquire_or_renew() is True
    assert read_by_c is not None
    with pytest.raises(ConflictError):  # c's write carries the version it read before b's
        store.replace_lease("ns", "kubetune", {"holderIdentity": "c"}, "1")
    assert c.try_acquire_or_renew() is False


def test_release_lets_a_standby_take_over_at_once() -> None:
    store, clock = Store(), Clock()
    a, b = candidate(store, clock, "a"), candidate(store, clock, "b")
    assert a.acquire(retry_every=0.01)
    assert b.try_acquire_or_renew() is False
    a.release()
    assert store.lease is not None and store.lease["spec"]["holderIdentity"] == ""
    assert b.try_acquire_or_renew() is True


def test_a_leader_that_cannot_renew_past_the_deadline_gives_up() -> None:
    store = Store()
    lost = threading.Event()
    leader = LeaderElector(
        store, "ns", "kubetune", "a", duration=0.6, renew_deadline=0.3, renew_every=0.05
    )
    assert leader.acquire()
    leader.keep_renewing(on_lost=lost.set)
    store.fail_reads = True  # the API server is unreachable from here
    assert lost.wait(5), "the leader kept acting without its lease"
    assert leader.leading is False


def test_a_leader_whose_lease_was_taken_gives_up_without_waiting_for_the_deadline() -> None:
    store = Store()
    lost = threading.Event()
    leader = LeaderElector(
        store, "ns", "kubetune", "a", duration=60, renew_deadline=30, renew_every=0.05
    )
    assert leader.acquire()
    leader.keep_renewing(on_lost=lost.set)
    assert store.lease is not None
    store._stamp({**store.lease["spec"], "holderIdentity": "b"})  # e.g. after a long GC pause
    assert lost.wait(5)


def test_timings_must_leave_room_to_stop_before_anyone_takes_over() -> None:
    with pytest.raises(ValueError, match="renew_deadline < duration"):
        LeaderElector(Store(), "ns", "l", "a", duration=10, renew_deadline=10)

"""Leader election on a coordination.k8s.io Lease, so that of several replicas one acts.

Why not kopf's peering: peers with equal priority all freeze by design, so a Deployment's
identical replicas would serve nobody. This follows client-go's leaderelection instead:

- A candidate takes the Lease when it has no holder, or when the holder has not renewed it for
  `duration` seconds *as measured by the candidate's own clock* since it last saw the record
  change (its resourceVersion). Clocks on different nodes are never compared.
- Every write carries the resourceVersion it read, so two candidates can never both win.
- The leader renews every `renew_every` seconds; if it cannot renew for `renew_deadline`
  (< `duration`) it must stop acting before anyone else may start: `on_lost` is called, and the
  operator exits (the pod restarts as a standby). Half-done work is safe to abandon because
  every pass of the study loop is idempotent and resumes from what is stored in the API.
- On a clean shutdown the leader releases the Lease so that a standby takes over at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger("kubetune.leader")
Obj = dict[str, Any]


class ConflictError(Exception):
    """The Lease changed (or appeared) since it was read: someone else wrote first."""


class LeaseStore(Protocol):
    def read_lease(self, namespace: str, name: str) -> Obj | None: ...
    def create_lease(self, namespace: str, name: str, spec: Obj) -> Obj: ...
    def replace_lease(self, namespace: str, name: str, spec: Obj, resource_version: str) -> Obj: ...


def default_identity() -> str:
    """Pod name (hostname in a pod) plus a random suffix: a restarted container is a new
    candidate, never mistaken for the old holder."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def micro_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        store: LeaseStore,
        namespace: str,
        name: str,
        identity: str | None = None,
        *,
        duration: float = 15.0,
        renew_deadline: float = 10.0,
        renew_every: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        said: Callable[[BaseException], bool] = lambda error: False,
    ) -> None:
        """`said(error)`: a failure already reported (an outage of the API server, told
        once by the operator's `Faults`): retried without a line per try."""
        if not renew_every < renew_deadline < duration:
            raise ValueError("need renew_every < renew_deadline < duration")
        self.store = store
        self.said = said
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.duration = duration
        self.renew_deadline = renew_deadline
        self.renew_every = renew_every
        self._monotonic = monotonic
        self._wall = wall
        self._observed_version: str | None = None
        self._observed_at = 0.0
        self._last_holder: str | None = None
        self._stop = threading.Event()
        self.leading = False

    # ----- one attempt -----------------------------------------------------------------------

    def try_acquire_or_renew(self) -> bool:
        """One read and at most one write; True when this candidate holds the Lease after it."""
        lease = self.store.read_lease(self.namespace, self.name)
        now = self._monotonic()
        stamp = micro_time(self._wall())
        if lease is None:
            spec = self._spec(stamp, acquire=stamp, transitions=0)
            try:
                created = self.store.create_lease(self.namespace, self.name, spec)
            except ConflictError:
                return False
            self._observe(created, now)
            return True
        version = str(lease["metadata"]["resourceVersion"])
        if version != self._observed_version:
            self._observed_version, self._observed_at = version, now
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        if holder != self._last_holder:
            self._last_holder = holder
            if holder and holder != self.identity:
                log.info("lease %s/%s is held by %s", self.namespace, self.name, holder)
        duration = float(spec.get("leaseDurationSeconds") or self.duration)
        if holder and holder != self.identity and now < self._observed_at + duration:
            return False
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder == self.identity:
            acquired = spec.get("acquireTime") or stamp
            new = self._spec(stamp, acquire=acquired, transitions=transitions)
        else:
            new = self._spec(stamp, acquire=stamp, transitions=transitions + 1)
        try:
            replaced = self.store.replace_lease(self.namespace, self.name, new, version)
        except ConflictError:
            return False
        self._observe(replaced, now)
        return True

    def _spec(self, renew: str, *, acquire: str, transitions: int) -> Obj:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": round(self.duration),
            "acquireTime": acquire,
            "renewTime": renew,
            "leaseTransitions": transitions,
        }

    def _observe(self, lease: Obj, now: float) -> None:
        self._observed_version = str(lease["metadata"]["resourceVersion"])
        self._observed_at = now
        self._last_holder = self.identity

    # ----- loops -----------------------------------------------------------------------------

    def acquire(self, retry_every: float | None = None) -> bool:
        """Block until this candidate leads (True) or `stop()` is called (False)."""
        log.info("%s waiting to lead lease %s/%s", self.identity, self.namespace, self.name)
        while not self._stop.is_set():
            try:
                if self.try_acquire_or_renew():
                    self.leading = True
                    log.info("%s now leads lease %s/%s", self.identity, self.namespace, self.name)
                    return True
            except Exception as error:  # an unreachable API server: keep trying
                if not self.said(error):
                    log.warning("leader election: %s", error)
            self._stop.wait(retry_every or self.renew_every)
        return False

    def keep_renewing(self, on_lost: Callable[[], None]) -> threading.Thread:
        """Renew in a daemon thread; call `on_lost` once when renewal fails past the deadline."""

        def renew() -> None:
            last = self._monotonic()
            while not self._stop.wait(self.renew_every):
                try:
                    if self.try_acquire_or_renew():
                        last = self._monotonic()
                        continue
                    lost_to = self._last_holder
                except Exception as error:
                    if not self.said(error):
                        log.warning(
                            "renewing lease %s/%s failed: %s", self.namespace, self.name, error
                        )
                    lost_to = None
                if lost_to not in (None, self.identity) or (
                    self._monotonic() - last > self.renew_deadline
                ):
                    self.leading = False
                    log.error(
                        "%s lost lease %s/%s (now held by %s)",
                        self.identity,
                        self.namespace,
                        self.name,
                        lost_to or "nobody",
                    )
                    on_lost()
                    return

        thread = threading.Thread(target=renew, name="leader-renew", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def release(self) -> None:
        """Give the Lease up on a clean shutdown so that a standby need not wait it out."""
        self.stop()
        if not self.leading:
            return
        self.leading = False
        try:
            lease = self.store.read_lease(self.namespace, self.name)
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            spec = {**lease["spec"], "holderIdentity": "", "leaseDurationSeconds": 1}
            self.store.replace_lease(
                self.namespace, self.name, spec, str(lease["metadata"]["resourceVersion"])
            )
            log.info("%s released lease %s/%s", self.identity, self.namespace, self.name)
        except Exception as error:  # the standby will wait the lease out instead
            log.warning("could not release lease %s/%s: %s", self.namespace, self.name, error)

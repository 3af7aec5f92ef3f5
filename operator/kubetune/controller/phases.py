"""Where a Trial's phase is written: by its workload's word (`settle`), by the study's
decision (`end`: stopped early, killed) or because its workload vanished (`lose`).

Every writer goes through here under the trial's lock, reads the Trial from the watch-fed
cache and writes with the resourceVersion it read (a conflict means the cache was behind: the
Trial is read fresh and the write decided again), and a finished Trial is never written
again: an early stop racing the trial's own end, or a report racing either, cannot turn a
Succeeded trial back into anything else. Ending a trial also deletes its Job (and, by
propagation, its pods). The verdict on a workload that ended is the engine's
(`trial_outcome`), the same rule `kubetune run` and the Tuner apply.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from kubetune.api.study import Study
from kubetune.api.trial import TrialState
from kubetune.controller.cache import TrialCache
from kubetune.controller.kube import API_ERRORS, Kube, Obj, describe
from kubetune.controller.leader import ConflictError
from kubetune.controller.pulls import PrometheusPulls
from kubetune.controller.telemetry import Telemetry
from kubetune.engine.outcome import trial_outcome
from kubetune.metrics.lines import BadValue
from kubetune.records.times import now_iso
from kubetune.records.trials import trial_phase, trial_record

log = logging.getLogger("kubetune.operator")
#: Writes tried again after a conflict, each with the Trial read fresh.
WRITE_TRIES = 5


class TrialLocks:
    """A fixed set of locks, a trial's picked by its name: no per-trial memory to prune.
    Two trials may share a lock; that only ever makes one wait for the other's few calls.
    Reentrant: a bad value found while recording reports ends the trial under the same lock."""

    def __init__(self, stripes: int = 64) -> None:
        self._locks = [threading.RLock() for _ in range(stripes)]

    def of(self, namespace: str, name: str) -> threading.RLock:
        return self._locks[zlib.crc32(f"{namespace}/{name}".encode()) % len(self._locks)]


class Recent:
    """A bounded memory of keys recently seen with a value (least recently used dropped):
    an optimisation only, so forgetting costs one extra API read, never a wrong answer."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
            return self._items.get(key)

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def pop(self, key: Any) -> None:
        with self._lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)


class Studies(Protocol):
    """What this room needs of the study side (`desk.StudyDesk`, built before it)."""

    def study_of(self, namespace: str, name: str) -> Study | None: ...
    def request(self, namespace: str, name: str) -> None: ...
    def seen(self, trial: Obj) -> None: ...


class TrialPhases:
    def __init__(
        self,
        kube: Kube,
        telemetry: Telemetry,
        locks: TrialLocks,
        trials: TrialCache,
        studies: Studies,
        pulls: PrometheusPulls,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kube = kube
        self.trials = trials
        self.telemetry = telemetry
        self.locks = locks
        self.clock = clock
        #: The study side (`desk.StudyDesk`): a study's spec, and a pass when a trial ends.
        self.studies = studies
        #: A last read of Prometheus before a verdict.
        self.pulls = pulls
        #: (namespace, trial) -> (workload uid, phase) last applied: later events saying the
        #: same are noise and cost no API call.
        self.applied = Recent()
        #: (namespace, trial) -> (apiVersion, plural) of an ended trial's workload whose
        #: deletion failed: deleted again by the next pass (few: only failures are kept).
        self._leftovers: dict[tuple[str, str], tuple[str, str]] = {}
        self._leftover_lock = threading.Lock()

    def forget(self, namespace: str, name: str) -> None:
        self.applied.pop((namespace, name))

    # ----- the workload's word ---------------------------------------------------------------

    def settle(
        self,
        namespace: str,
        name: str,
        phase: TrialState,
        reason: str | None,
        workload_uid: str | None,
    ) -> None:
        """Apply what a trial's workload says (Running, Succeeded, Failed), once."""
        key = (namespace, name)
        known = self.applied.get(key)
        if (
            known is not None
            and known[0] == workload_uid
            and (known[1] == phase or known[1].finished)
        ):
            return
        with self.locks.of(namespace, name):
            for tries in range(WRITE_TRIES):
                trial = self.trials.get(namespace, name, fresh=tries > 0)
                if trial is None:
                    return
                current = trial_phase(trial)
                if current.finished or current == phase:
                    self.applied.put(key, (workload_uid, current))
                    return
                update = self._update(trial, phase, reason)
                if update is None:
                    return
                patched = self._write(trial, update)
                if patched is not None:
                    break
            else:
                raise ConflictError(f"trial {namespace}/{name} kept changing")
            settled = TrialState(update["phase"])
            self.applied.put(key, (workload_uid, settled))
        if settled == TrialState.FAILED:
            self.kube.emit_event(trial, "TrialFailed", update.get("reason") or "failed", "Warning")
        if settled.finished:
            self._tell_study(patched)

    def queue(
        self,
        namespace: str,
        name: str,
        workload_uid: str,
        queue: str,
        eviction: Callable[[], str | None],
    ) -> None:
        """Its workload waits for Kueue's admission: created suspended (Queued), or suspended
        again after Kueue admitted it (`eviction` says why: preempted, evicted). A preempted
        trial is queued again with the same params and the same Trial: not a failure, and it
        counts toward nothing; its earlier pod's reports are dropped, since the trainer starts
        over, and a late post from that pod is ignored."""
        key = (namespace, name)
        known = self.applied.get(key)
        if known is not None and known[0] == workload_uid and known[1] == TrialState.QUEUED:
            return
        with self.locks.of(namespace, name):
            trial = self.trials.get(namespace, name, fresh=True)  # rare: read it fresh
            if trial is None:
                return
            current = trial_phase(trial)
            if current.finished or current == TrialState.QUEUED:
                self.applied.put(key, (workload_uid, current))
                return
            old = trial.get("status") or {}
            # A trial that never ran is being queued for the first time: no Workload to read.
            ran = current == TrialState.RUNNING or bool(old.get("startTime"))
            why = eviction() if ran else None
            if why is None and current == TrialState.RUNNING:
                why = "its Job was suspended while it ran"  # Kueue's Workloads not readable
            update: Obj = {
                "phase": TrialState.QUEUED.value,
                "reason": f"waiting for Kueue to admit it (LocalQueue {queue})",
            }
            if why is not None:
                update["reason"] = f"preempted ({why}); queued again with the same params"
                update["preemptions"] = int(old.get("preemptions") or 0) + 1
                update["reports"] = []
                update["lastSeq"] = None
                if old.get("pod"):
                    update["earlierPods"] = [*(old.get("earlierPods") or []), old["pod"]][-100:]
                    update["pod"] = None
            patched = self.trials.seen(self.kube.patch_trial_status(namespace, name, update))
            self.applied.put(key, (workload_uid, TrialState.QUEUED))
        if why is not None:
            self.kube.emit_event(trial, "TrialPreempted", update["reason"], "Warning")
            log.info("trial %s/%s preempted: %s", namespace, name, why)
        self.studies.seen(patched)
        self.studies.request(namespace, trial["spec"]["study"])

    def _update(self, trial: Obj, phase: TrialState, reason: str | None) -> Obj | None:
        stamp = now_iso(self.clock())
        update: Obj = {"phase": phase.value, "reason": reason}
        if phase == TrialState.RUNNING:
            update["startTime"] = (trial.get("status") or {}).get("startTime") or stamp
            return update
        if phase in (TrialState.SUCCEEDED, TrialState.FAILED):
            study = self._study(trial)
            if study is None:
                return None  # the Study is going: its Trials go with it
            if phase == TrialState.SUCCEEDED:
                pulled = self.pulls.pull(trial, study)
                if isinstance(pulled, BadValue):
                    self.fail_bad_value(trial, str(pulled))
                    return None
                trial = pulled or trial
            record = trial_record(trial)
            failure = reason if phase == TrialState.FAILED else None
            outcome = trial_outcome(study.spec, record.reports, failure)
            update = {
                "phase": outcome.state.value,
                "reason": outcome.reason,
                "objective": outcome.objective,
                "values": outcome.values or None,
                "violations": [v.as_dict() for v in outcome.violations] or None,
                "completionTime": stamp,
            }
        return update

    def _write(self, trial: Obj, update: Obj) -> Obj | None:
        """Patch the Trial's status if it is still as read (its resourceVersion); the Trial as
        written (kept in the cache), or None when it had changed (the caller reads it fresh)."""
        meta = trial["metadata"]
        try:
            patched = self.kube.patch_trial_status(
                meta["namespace"], meta["name"], update, resource_version=meta["resourceVersion"]
            )
        except ConflictError:
            self.telemetry.api_requests.labels(verb="conflict").inc()
            return None
        return self.trials.seen(patched)

    def _study(self, trial: Obj) -> Study | None:
        return self.studies.study_of(trial["metadata"]["namespace"], trial["spec"]["study"])

    def _tell_study(self, trial: Obj) -> None:
        """Decide now rather than when our own patch comes back through the watch: one hop
        less between a trial's end and the next trial."""
        self.studies.seen(trial)
        self.studies.request(trial["metadata"]["namespace"], trial["spec"]["study"])

    # ----- the study's word, and lost workloads ------------------------------------------------

    def end(
        self,
        trial: Obj,
        update: Obj,
        event: tuple[str, str, str] | None = None,
        tell_study: bool = True,
    ) -> Obj | None:
        """Write a terminal phase unless the trial finished meanwhile, then delete its Job.
        Returns the Trial as written, or None when it was not this call that ended it. The
        study loop, which ends trials itself, passes tell_study=False."""
        meta = trial["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        with self.locks.of(namespace, name):
            for tries in range(WRITE_TRIES):
                fresh = self.trials.get(namespace, name, fresh=tries > 0)
                if fresh is None or fresh["metadata"]["uid"] != meta["uid"]:
                    return None
                if trial_phase(fresh).finished:
                    return None
                stamp = now_iso(self.clock())
                patched = self._write(fresh, {"completionTime": stamp, **update})
                if patched is not None:
                    break
            else:
                raise ConflictError(f"trial {namespace}/{name} kept changing")
            self.applied.put((namespace, name), (None, TrialState(update["phase"])))
        study = self._study(fresh)
        where = study.spec.trial_template.resource if study is not None else ("batch/v1", "jobs")
        self._delete_workload(namespace, name, where)
        if event is not None:
            self.kube.emit_event(fresh, *event)
        if tell_study:
            self._tell_study(patched)
        else:
            self.studies.seen(patched)
        return patched

    def _delete_workload(self, namespace: str, name: str, where: tuple[str, str]) -> None:
        """Delete an ended trial's workload. One the API server did not delete is remembered
        and deleted again by its study's next pass (`delete_leftovers`): the trial is
        finished by then, so nothing else would ever stop its pods."""
        try:
            self.kube.delete_workload(namespace, name, *where)
        except API_ERRORS:
            with self._leftover_lock:
                self._leftovers[(namespace, name)] = where
            raise
        with self._leftover_lock:
            self._leftovers.pop((namespace, name), None)

    def delete_leftovers(self, namespace: str) -> None:
        """The workloads of ended trials in `namespace` whose deletion failed, deleted again;
        one that fails again waits for the next pass (it never holds up this one)."""
        with self._leftover_lock:
            due = [(key, where) for key, where in self._leftovers.items() if key[0] == namespace]
        for (_, name), where in due:
            try:
                self._delete_workload(namespace, name, where)
            except API_ERRORS as error:
                if not self.kube.said(error):
                    log.warning(
                        "could not delete %s/%s's workload yet: %s",
                        namespace,
                        name,
                        describe(error),
                    )

    def fail_bad_value(self, trial: Obj, problem: str) -> bool:
        """A reported value that is not a finite number fails that trial alone, saying which;
        whether this call ended it."""
        reason = f"bad value: {problem}"
        ended = self.end(
            trial,
            {"phase": TrialState.FAILED.value, "reason": reason},
            ("TrialFailed", reason, "Warning"),
        )
        if ended:
            self.telemetry.reports_refused.labels(reason="bad-value").inc()
        return ended is not None

    def lose(self, trial: Obj, why: str) -> None:
        """Its workload is gone (deleted by someone else, its node gone) before it ended: the
        trial fails, saying why. A failed trial counts toward maxTrials and maxFailedTrials,
        as the Job controller counts a deleted pod against backoffLimit."""
        reason = f"{why} before the trial ended"
        if self.end(
            trial,
            {"phase": TrialState.FAILED.value, "reason": reason},
            ("TrialFailed", reason, "Warning"),
        ):
            meta = trial["metadata"]
            log.info("trial %s/%s lost: %s", meta["namespace"], meta["name"], why)

"""Trials and Studies as the watches last showed them, so a pass reads memory, not the API
server.

Before this, every pass of a study LISTed all its Trials and rebuilt each one's record, and
every report, phase change and stop GOT the Trial again: at 2,000 trials a pass took half a
second and most of the operator's requests were reads. Now kopf's watch events (`seen`,
`gone`) and the operator's own writes (the object each write returns) keep these caches, and
a Trial's record is parsed once, when it arrives, into its study's `TrialLedger`.

How a read can go wrong, and what happens then:
- **A miss** (a study not read since the operator started, a Trial whose first event has not
  arrived): the cache reads through. A study's first pass LISTs its Trials once and primes
  the cache with them (merged with any events that raced the list); a Trial asked for by name
  is fetched. Every later pass reads only the cache.
- **A stale read** (the cache is behind the API server: an event not delivered yet, or one
  lost while a watch reconnected): each object's resourceVersion decides which of two copies
  is newer, so a late event never replaces a newer write. Writes that depend on what was read
  carry the resourceVersion read (optimistic concurrency): a stale read then costs one
  conflict, after which the writer reads the Trial fresh (`get(..., fresh=True)`) and tries
  again. Decisions made on a stale read are corrected by the pass the late event starts.
- **A missed deletion**: the heal of every running study (every 5 minutes) LISTs its Trials
  again (`resync`): what the list lacks and the cache holds from before the list is dropped.

Memory stays bounded: a finished Trial keeps only its record and a stub (name, uid,
resourceVersion, phase), not its object; a study's entry goes with the Study.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from kubetune.controller.kube import Kube, Obj
from kubetune.engine import History, TrialRecord
from kubetune.engine.ledger import TrialLedger
from kubetune.records.times import parse_time
from kubetune.records.trials import owned_by, trial_record


def _version(obj: Obj) -> int | None:
    raw = obj.get("metadata", {}).get("resourceVersion")
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def newer(candidate: Obj, kept: Obj | None) -> bool:
    """Whether `candidate` should replace `kept`: a different object (uid), or a later
    resourceVersion (etcd's revisions are integers; should a server give something else, the
    copy that arrived last wins)."""
    if kept is None:
        return True
    if candidate["metadata"].get("uid") != kept["metadata"].get("uid"):
        return True
    mine, theirs = _version(candidate), _version(kept)
    if mine is None or theirs is None:
        return True
    return mine >= theirs


def _stub(trial: Obj) -> Obj:
    """What a finished Trial keeps of its object: enough for 'is it finished, is it this one'."""
    meta = trial["metadata"]
    return {
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
            "ownerReferences": meta.get("ownerReferences"),
            "labels": meta.get("labels"),
        },
        "spec": {"study": trial["spec"]["study"], "index": trial["spec"]["index"]},
        "status": {
            "phase": (trial.get("status") or {}).get("phase"),
            "jobName": (trial.get("status") or {}).get("jobName"),
        },
    }


@dataclass
class StudyTrials:
    """One study's Trials (those its Study owns): records in a ledger, and the objects of the
    active ones, which the pass acts on. Read through `TrialCache`, which holds the lock."""

    owner: str
    ledger: TrialLedger = field(default_factory=TrialLedger)
    active: dict[str, Obj] = field(default_factory=dict)


class TrialCache:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._lock = threading.RLock()
        #: (namespace, name) -> the Trial (a stub once finished) and its record.
        self._objects: dict[tuple[str, str], tuple[Obj, TrialRecord]] = {}
        #: (namespace, study) -> its trials, once primed by a list.
        self._studies: dict[tuple[str, str], StudyTrials] = {}

    # ----- what the watch and the writers tell it -------------------------------------------

    def seen(self, trial: Obj) -> Obj:
        """A Trial from a watch event or a write's answer; returns the copy kept (the newer)."""
        meta = trial["metadata"]
        key = (meta["namespace"], meta["name"])
        with self._lock:
            kept = self._objects.get(key)
            if kept is not None and not newer(trial, kept[0]):
                return kept[0]
            return self._store(key, trial)

    def gone(self, trial: Obj) -> None:
        meta = trial["metadata"]
        key = (meta["namespace"], meta["name"])
        with self._lock:
            kept = self._objects.get(key)
            if kept is not None and kept[0]["metadata"].get("uid") == meta.get("uid"):
                self._forget(key)

    def drop_study(self, namespace: str, name: str) -> None:
        with self._lock:
            self._studies.pop((namespace, name), None)
            for key in [k for k, (t, _) in self._objects.items() if _of(k, t) == (namespace, name)]:
                del self._objects[key]

    # ----- reads --------------------------------------------------------------------------

    def get(self, namespace: str, name: str, fresh: bool = False) -> Obj | None:
        """The Trial as last seen; read from the API server on a miss or when `fresh` (after
        a conflict showed the copy kept is behind). A finished Trial is a stub."""
        if not fresh:
            with self._lock:
                kept = self._objects.get((namespace, name))
            if kept is not None:
                return kept[0]
        found = self.kube.fetch_trial(namespace, name)
        if found is None:
            with self._lock:
                if (namespace, name) in self._objects:
                    self._forget((namespace, name))
            return None
        return self.seen(found)

    def prime(self, study: Obj) -> bool:
        """Make sure the study's trials are here: the first time (or for a new Study of the
        same name) by one list of the whole objects, read in pages. True when it listed."""
        meta = study["metadata"]
        namespace, name, owner = meta["namespace"], meta["name"], meta["uid"]
        with self._lock:
            known = self._studies.get((namespace, name))
            if known is not None and known.owner == owner:
                return False
        names: set[str] = set()
        version: int | None = None
        with self._lock:
            self._studies[(namespace, name)] = StudyTrials(owner)
        # A page at a time, each kept (a finished Trial as its record and a stub) before the
        # next is read: the whole list's objects are never held at once.
        for page, as_of in self.kube.list_trial_pages(namespace, name):
            version = as_of
            with self._lock:
                for trial in page:
                    key = (namespace, trial["metadata"]["name"])
                    names.add(key[1])
                    held = self._objects.get(key)
                    if held is None or newer(trial, held[0]):
                        self._store(key, trial)
        with self._lock:
            self._drop_unlisted(namespace, name, names, version)
            for key, (obj, record) in list(self._objects.items()):
                if _of(key, obj) == (namespace, name):
                    self._index(key, obj, record)  # the new view holds every trial kept
        return True

    def resync(self, study: Obj) -> None:
        """Make the cache agree with the API server (the heal, every 5 minutes): a list of the
        study's Trials' names and resourceVersions (metadata only, not whole objects); a Trial
        the cache lacks or holds older is read, and one the list lacks that the cache holds
        from before the list was taken is gone."""
        meta = study["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        if self.prime(study):
            return
        listed, version = self.kube.list_trial_versions(namespace, name)
        behind = []
        with self._lock:
            for trial, (uid, revision) in listed.items():
                held = self._objects.get((namespace, trial))
                kept = None if held is None else held[0]
                known = kept is not None and kept["metadata"].get("uid") == uid
                if not known or (revision or 0) > (_version(kept or {}) or 0):
                    behind.append(trial)
            self._drop_unlisted(namespace, name, set(listed), version)
        for trial in behind:  # events not seen yet: read them
            self.get(namespace, trial, fresh=True)

    def history(self, study: Obj, now: float) -> History:
        """The engine's view of the study (`prime` it first): its own trials' records, with
        the ledger's tally, the stored next index and start time."""
        meta, previous = study["metadata"], study.get("status") or {}
        with self._lock:
            view = self._studies[(meta["namespace"], meta["name"])]
            return view.ledger.history(
                meta["name"],
                started_at=parse_time(previous.get("startTime")) or now,
                next_index=previous.get("nextTrialIndex"),
            )

    def active(self, namespace: str, name: str) -> list[Obj]:
        """The study's active Trials, in index order (none before it is primed)."""
        with self._lock:
            known = self._studies.get((namespace, name))
            found = list(known.active.values()) if known is not None else []
        return sorted(found, key=lambda t: int(t["spec"]["index"]))

    # ----- inside (called under the lock) ------------------------------------------------------

    def _drop_unlisted(
        self, namespace: str, name: str, listed: set[str], version: int | None
    ) -> None:
        """Forget the study's Trials a list lacks, unless written after the list was taken."""
        for key, (obj, _) in list(self._objects.items()):
            if _of(key, obj) != (namespace, name) or key[1] in listed:
                continue
            if version is None or (_version(obj) or 0) <= version:
                self._forget(key)  # deleted with no event seen

    def _store(self, key: tuple[str, str], trial: Obj) -> Obj:
        """Keep `trial` (a stub once finished) with its record, parsed here once."""
        record = trial_record(trial)
        kept = trial if record.state.active else _stub(trial)
        self._objects[key] = (kept, record)
        self._index(key, trial, record)
        return trial

    def _index(self, key: tuple[str, str], trial: Obj, record: TrialRecord) -> None:
        view = self._studies.get(_of(key, trial))
        if view is None or not owned_by(trial, view.owner):
            return
        view.ledger.put(record)
        if record.state.active:
            view.active[key[1]] = trial
        else:
            view.active.pop(key[1], None)

    def _forget(self, key: tuple[str, str]) -> None:
        kept, _ = self._objects.pop(key)
        view = self._studies.get(_of(key, kept))
        if view is not None:
            view.ledger.discard(key[1])
            view.active.pop(key[1], None)


def _of(key: tuple[str, str], trial: Obj) -> tuple[str, str]:
    """(namespace, study) of a kept Trial."""
    return key[0], trial["spec"]["study"]


class StudyCache:
    """Studies as last seen; a miss reads through. The study loop reads a Study at every pass
    (its spec, its status as last written): from here, not from the API server."""

    def __init__(self, fetch: Callable[[str, str], Obj | None]) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str], Obj] = {}

    def seen(self, study: Obj) -> Obj:
        meta = study["metadata"]
        key = (meta["namespace"], meta["name"])
        with self._lock:
            kept = self._objects.get(key)
            if newer(study, kept):
                self._objects[key] = study
                return study
            assert kept is not None
            return kept

    def gone(self, namespace: str, name: str) -> None:
        with self._lock:
            self._objects.pop((namespace, name), None)

    def get(self, namespace: str, name: str, fresh: bool = False) -> Obj | None:
        if not fresh:
            with self._lock:
                kept = self._objects.get((namespace, name))
            if kept is not None:
                return kept
        found = self._fetch(namespace, name)
        if found is None:
            self.gone(namespace, name)
            return None
        return self.seen(found)

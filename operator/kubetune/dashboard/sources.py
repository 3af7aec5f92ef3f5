"""Where the dashboard's studies come from: results files, or the cluster (read-only).

A source answers four questions: which studies there are, a study with its Trials (and a
revision that changes whenever either does, for the page's live updates), a trial's events
and a trial's logs. Both kinds answer in the cluster's documents (see `local`).

Local: results files are followed, not re-read: each poll folds only the bytes appended
since the last one, so a 10,000-trial study that is still running costs a `stat` and a few
lines a second. Cluster: every call goes through kube.py with the caller's own kubeconfig
(or the pod's ServiceAccount) and only reads; answers are kept for `TTL` seconds, so any
number of open pages polling cost at most two lists of a study's Trials a second.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kubetune.api import InvalidStudyError
from kubetune.dashboard.local import LOCAL_PREFIX, study_document, trial_document
from kubetune.dashboard.views import study_key
from kubetune.local.results import ResultsError, ResultsFile

Obj = dict[str, Any]
#: Seconds a cluster answer is reused (the page polls twice a second).
TTL = 0.5
#: Bytes of a trial's log shown at most (its end).
LOG_TAIL = 256 * 1024


class SourceError(Exception):
    """A source that cannot answer (a cluster out of reach, a folder gone): shown, not raised."""


@dataclass(frozen=True)
class Snapshot:
    key: str
    study: Obj
    trials: list[Obj]
    revision: str


class Source(Protocol):
    def studies(self) -> list[Snapshot]: ...

    def snapshot(self, key: str) -> Snapshot | None: ...

    def events(self, key: str, trial: str) -> list[Obj]: ...

    def logs(self, key: str, trial: str) -> str | None: ...


# ----- local results files ------------------------------------------------------------------


def results_files(paths: Iterable[Path]) -> list[Path]:
    """The results files that paths name: files themselves, or folders holding results.jsonl
    (their own, or their subfolders' one level down, as in kubetune-runs/STUDY/)."""
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        elif (path / "results.jsonl").is_file():
            found.append(path / "results.jsonl")
        elif path.is_dir():
            found.extend(sorted(path.glob("*/results.jsonl")))
    return found


@dataclass
class _Followed:
    results: ResultsFile
    inode: tuple[int, int]
    snapshot: Snapshot | None = None
    error: str | None = None


class LocalSource:
    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self._files: dict[Path, _Followed] = {}
        self._lock = threading.Lock()

    def _follow(self, path: Path) -> _Followed | None:
        try:
            stat = path.stat()
        except OSError:
            self._files.pop(path, None)
            return None
        inode = (stat.st_dev, stat.st_ino)
        followed = self._files.get(path)
        read = 0 if followed is None else followed.results.intact_bytes or 0
        if followed is None or followed.inode != inode or stat.st_size < read or followed.error:
            # New, replaced (--fresh), truncated, or refused last time: read it whole.
            try:
                followed = _Followed(ResultsFile.load(path), inode)
            except ResultsError as error:
                followed = _Followed(ResultsFile(None), inode, error=str(error))
        elif stat.st_size == read or not followed.results.refresh():
            return followed  # nothing new, or only part of a line so far
        self._files[path] = followed
        followed.snapshot = self._snapshot(path, followed)
        return followed

    def _snapshot(self, path: Path, followed: _Followed) -> Snapshot | None:
        results = followed.results
        if results.manifest is None:
            return None
        try:
            study = study_document(results, path.parent)
        except InvalidStudyError as error:
            followed.error = f"{path}: the study's manifest is not valid: {error}"
            return None
        trials = [trial_document(row) for row in results.rows()]
        revision = f"{followed.inode[1]}-{results.intact_bytes}"
        return Snapshot(study_key(study), study, trials, revision)

    def studies(self) -> list[Snapshot]:
        with self._lock:
            found = [self._follow(p) for p in results_files(self.paths)]
            snapshots = [f.snapshot for f in found if f is not None and f.snapshot is not None]
        return _unique(snapshots)

    def snapshot(self, key: str) -> Snapshot | None:
        return next((s for s in self.studies() if s.key == key), None)

    def errors(self) -> list[str]:
        return [f.error for f in self._files.values() if f.error]

    def _folder(self, key: str) -> Path | None:
        found = self.snapshot(key)
        if found is None:
            return None
        return Path(found.study["metadata"]["namespace"][len(LOCAL_PREFIX) :])

    def events(self, key: str, trial: str) -> list[Obj]:
        """The trial's own lines of the results file, but its reports (those are its series)."""
        folder = self._folder(key)
        if folder is None:
            return []
        needle = json.dumps(trial).encode()
        events: list[Obj] = []
        with (folder / "results.jsonl").open("rb") as file:
            for raw in file:
                if needle not in raw or b'"report"' in raw[:40] + raw[-60:]:
                    continue
                try:
                    event = json.loads(raw)
                except ValueError:
                    continue
                if event.get("trial") == trial and event.get("event") != "report":
                    events.append(_local_event(event))
        return events

    def logs(self, key: str, trial: str) -> str | None:
        folder = self._folder(key)
        if folder is None:
            return None
        return _tail(folder / "trials" / f"{trial}.log")


def _local_event(event: Obj) -> Obj:
    detail = {
        k: v
        for k, v in event.items()
        if k not in ("event", "time", "trial", "manifest", "params", "stop")
    }
    return {
        "time": event.get("time"),
        "type": "Normal" if event.get("state") in (None, "Succeeded") else "Warning",
        "reason": str(event.get("event", "")).capitalize(),
        "message": "; ".join(
            f"{k}: {_readable(v)}" for k, v in sorted(detail.items()) if v is not None
        ),
        "object": "results.jsonl",
    }


def _readable(value: Any) -> str:
    """A results-file value as a person reads it: `accuracy 0.9761, loss 0.1`, not a Python
    dict's repr."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {_readable(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_readable(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _tail(path: Path) -> str | None:
    try:
        with path.open("rb") as file:
            file.seek(0, os.SEEK_END)
            size = file.tell()
            file.seek(max(0, size - LOG_TAIL))
            data = file.read()
    except OSError:
        return None
    text = data.decode("utf-8", errors="replace")
    if size > LOG_TAIL:
        text = f"[... the first {size - LOG_TAIL} bytes left out]\n" + text
    return text


def _unique(snapshots: list[Snapshot]) -> list[Snapshot]:
    """Two folders holding studies of the same name: the second gets NAME~2 as its key."""
    seen: dict[str, int] = {}
    unique = []
    for found in snapshots:
        count = seen.get(found.key, 0) + 1
        seen[found.key] = count
        key = found.key if count == 1 else f"{found.key}~{count}"
        unique.append(Snapshot(key, found.study, found.trials, found.revision))
    return unique


# ----- the cluster --------------------------------------------------------------------------


class ClusterReader(Protocol):
    """What the dashboard asks of the cluster client it is handed (`controller.kube.Kube`,
    built by the CLI): reads only. The dashboard imports no controller module."""

    errors: tuple[type[BaseException], ...]

    def describe(self, error: BaseException) -> str: ...

    def list_studies(self, namespace: str | None) -> list[Obj]: ...

    def list_trials(self, namespace: str, study: str) -> list[Obj]: ...

    def list_pods(self, namespace: str, selector: str) -> list[Obj]: ...

    def list_events(self, namespace: str, involved: str) -> list[Obj]: ...

    def fetch_logs(
        self,
        namespace: str,
        pod: str,
        container: str,
        tail: int | None = None,
        limit_bytes: int | None = None,
    ) -> str: ...


class ClusterSource:
    """Studies, Trials, events and pod logs through a `ClusterReader`: get, list and read
    logs only."""

    def __init__(self, kube: ClusterReader, namespaces: list[str] | None) -> None:
        self.kube = kube
        self.namespaces = namespaces or None  # None: every namespace the identity may list
        self._cache: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: str, fetch: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < TTL:
                return hit[1]
        try:
            value = fetch()
        except self._errors() as error:
            raise SourceError(self._describe(error)) from None
        with self._lock:
            self._cache[key] = (time.monotonic(), value)
        return value

    def _errors(self) -> tuple[type[BaseException], ...]:
        return self.kube.errors

    def _describe(self, error: BaseException) -> str:
        return f"the cluster refused or is out of reach: {self.kube.describe(error)}"

    def _study_objects(self) -> list[Obj]:
        def fetch() -> list[Obj]:
            if self.namespaces is None:
                return list(self.kube.list_studies(None))
            return [s for ns in self.namespaces for s in self.kube.list_studies(ns)]

        found: list[Obj] = self._cached("studies", fetch)
        return found

    def _trials(self, namespace: str, name: str) -> list[Obj]:
        found: list[Obj] = self._cached(
            f"trials/{namespace}/{name}", lambda: self.kube.list_trials(namespace, name)
        )
        uid = None
        for study in self._study_objects():
            meta = study["metadata"]
            if meta["namespace"] == namespace and meta["name"] == name:
                uid = meta.get("uid")
        # Trials of an earlier Study of the same name (still being collected) are not its own.
        return [
            t
            for t in found
            if uid is None
            or any(r.get("uid") == uid for r in t["metadata"].get("ownerReferences") or [])
        ]

    def studies(self) -> list[Snapshot]:
        snapshots = []
        for study in self._study_objects():
            revision = str(study["metadata"].get("resourceVersion"))
            snapshots.append(Snapshot(study_key(study), study, [], revision))
        return snapshots

    def snapshot(self, key: str) -> Snapshot | None:
        namespace, _, name = key.partition(":")
        study = next(
            (
                s
                for s in self._study_objects()
                if s["metadata"]["namespace"] == namespace and s["metadata"]["name"] == name
            ),
            None,
        )
        if study is None:
            return None
        trials = self._trials(namespace, name)
        versions = [
            study["metadata"].get("resourceVersion"),
            *sorted(str(t["metadata"].get("resourceVersion")) for t in trials),
        ]
        revision = hashlib.sha1("/".join(map(str, versions)).encode()).hexdigest()[:16]
        return Snapshot(key, study, trials, revision)

    def _trial(self, key: str, trial: str) -> tuple[str, Obj] | None:
        found = self.snapshot(key)
        if found is None:
            return None
        namespace = found.study["metadata"]["namespace"]
        obj = next((t for t in found.trials if t["metadata"]["name"] == trial), None)
        return None if obj is None else (namespace, obj)

    def events(self, key: str, trial: str) -> list[Obj]:
        """Events of the Trial, its Job and its pods, oldest first."""
        found = self._trial(key, trial)
        if found is None:
            return []
        namespace, obj = found
        status = obj.get("status") or {}
        names = {
            trial,
            status.get("jobName") or trial,
            status.get("pod"),
            *status.get("earlierPods", []),
        }
        try:
            pods = self.kube.list_pods(namespace, f"kubetune.io/trial={trial}")
            names |= {p["metadata"]["name"] for p in pods}
            events = [
                e
                for name in sorted(n for n in names if n)
                for e in self.kube.list_events(namespace, name)
            ]
        except self._errors() as error:
            raise SourceError(self._describe(error)) from None
        rows = [
            {
                "time": e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp"),
                "type": e.get("type"),
                "reason": e.get("reason"),
                "message": e.get("message"),
                "object": f"{e['involvedObject'].get('kind')}/{e['involvedObject'].get('name')}",
                "count": e.get("count"),
            }
            for e in events
        ]
        return sorted(rows, key=lambda r: str(r["time"] or ""))

    def logs(self, key: str, trial: str) -> str | None:
        """The trainer's output in the trial's reporting pod (the newest pod if none)."""
        found = self._trial(key, trial)
        if found is None:
            return None
        namespace, obj = found
        try:
            pods = self.kube.list_pods(namespace, f"kubetune.io/trial={trial}")
            if not pods:
                return None
            wanted = (obj.get("status") or {}).get("pod")
            pod = next((p for p in pods if p["metadata"]["name"] == wanted), pods[-1])
            container = pod["spec"]["containers"][0]["name"]
            text: str = self.kube.fetch_logs(
                namespace, pod["metadata"]["name"], container, limit_bytes=LOG_TAIL
            )
        except self._errors() as error:
            raise SourceError(self._describe(error)) from None
        return f"# pod {pod['metadata']['name']}, container {container}\n{text}"


class Sources:
    """Several sources as one (local folders and the cluster together)."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources

    def studies(self) -> tuple[list[Snapshot], list[str]]:
        found: list[Snapshot] = []
        errors: list[str] = []
        for source in self.sources:
            try:
                found.extend(source.studies())
            except SourceError as error:
                errors.append(str(error))
            if isinstance(source, LocalSource):
                errors.extend(source.errors())
        return found, errors

    def _owner(self, key: str) -> Source | None:
        local = key.startswith("local:")
        for source in self.sources:
            if isinstance(source, LocalSource) == local:
                return source
        return None

    def snapshot(self, key: str) -> Snapshot | None:
        source = self._owner(key)
        return None if source is None else source.snapshot(key)

    def events(self, key: str, trial: str) -> list[Obj]:
        source = self._owner(key)
        return [] if source is None else source.events(key, trial)

    def logs(self, key: str, trial: str) -> str | None:
        source = self._owner(key)
        return None if source is None else source.logs(key, trial)

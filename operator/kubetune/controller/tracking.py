"""The operator's studies in MLflow: a track per Study (by uid), fed at the end of each pass
with what the pass already has; what the sink could not log is said on the Study.

Level-triggered like the rest of the operator: a pass hands the whole history and the
track queues what is new since the last pass. After a restart, the tracks start empty and
the sink finds its runs again by the Study's uid and skips the points they already have.
Trials' reports reach MLflow at the passes they cause: with a stopping rule, every report; with
none, the reports of a trial come at its end. A sink that fails warns on each affected Study
(`TrackingUnreachable`, once while it lasts; `TrackingRecordsLost` when records are dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubetune.api.study import Study
from kubetune.controller.kube import Kube, Obj
from kubetune.engine import Decision, History
from kubetune.tracking import setup
from kubetune.tracking.diff import StudyTrack
from kubetune.tracking.sink import BackgroundSink


@dataclass
class _Told:
    lost: int = 0
    unreachable: bool = False


@dataclass
class StudyTracking:
    sink: BackgroundSink
    kube: Kube
    uri: str
    tracks: dict[str, StudyTrack] = field(default_factory=dict)
    told: dict[str, _Told] = field(default_factory=dict)

    def observe(
        self, obj: Obj, study: Study, history: History, decision: Decision, now: float
    ) -> None:
        meta = obj["metadata"]
        key = f"cluster:{meta['uid']}"
        track = self.tracks.get(key)
        if track is None:
            tags = {"kubetune.namespace": meta["namespace"]}
            track = self.tracks[key] = setup.open_track(study, key, self.sink, tags)
        over = decision.finish is not None and not history.active
        finish = decision.finish if over else None
        track.observe(history, now, finish, decision.best, len(decision.front))
        self._warn(obj, key)

    def forget(self, uid: str) -> None:
        key = f"cluster:{uid}"
        self.tracks.pop(key, None)
        self.told.pop(key, None)

    def _warn(self, obj: Obj, key: str) -> None:
        told = self.told.setdefault(key, _Told())
        failing = self.sink.failing
        if failing is not None and not told.unreachable:
            told.unreachable = True
            message = f"cannot log to MLflow at {self.uri} ({failing}); records wait, retried"
            self.kube.emit_event(obj, "TrackingUnreachable", message[:1000], "Warning")
        elif failing is None:
            told.unreachable = False
        lost, why = self.sink.lost_for(key)
        if lost > told.lost:
            told.lost = lost
            message = f"{lost} records of this study could not be logged to MLflow ({why})"
            self.kube.emit_event(obj, "TrackingRecordsLost", message[:1000], "Warning")


def open_study_tracking(kube: Kube, uri: str | None) -> StudyTracking | None:
    """The operator's tracking when it has a tracking URI (the chart's mlflow.trackingUri)."""
    if not uri:
        return None
    setup.quiet_client_retries()
    sink = setup.open_sink({setup.URI_VARIABLE: uri})
    assert sink is not None
    return StudyTracking(sink, kube, uri)

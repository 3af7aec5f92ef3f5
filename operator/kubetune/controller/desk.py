"""The study desk: what every room may ask of the study side, built before any room.

The rooms call each other in a circle: the study loop ends trials through `phases`, `phases`
asks for the study loop's next pass when a trial ends and reads the study's parsed spec.
Rather than wire the loop into `phases` after both exist, the part of the study side the other
rooms need is this desk, built first and handed to each room when it is built: the Studies as
the watches left them (`StudyCache`), their parsed specs, and the requests for a pass (a
`WorkQueue`, served by the study loop once the operator acts: `start(work)`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from kubetune.api import InvalidStudyError, Study, load_study
from kubetune.api.trial import TrialState
from kubetune.controller.cache import StudyCache
from kubetune.controller.kube import Kube, Obj
from kubetune.controller.phases import Recent
from kubetune.controller.settings import OperatorSettings
from kubetune.controller.telemetry import Telemetry
from kubetune.controller.workqueue import WorkQueue
from kubetune.records.trials import trial_phase


class StudyDesk:
    def __init__(
        self,
        kube: Kube,
        settings: OperatorSettings,
        telemetry: Telemetry,
        studies: StudyCache | None = None,
    ) -> None:
        #: The Studies as the watches and this operator's writes left them.
        self.cache = studies if studies is not None else StudyCache(kube.fetch_study)
        self.queue = WorkQueue(
            self._work,
            settings.study_workers,
            "study",
            on_wait=telemetry.queue_seconds.observe,
            said=kube.said,
        )
        self._serve: Callable[[Hashable], None] | None = None
        self._lock = threading.Lock()
        #: Parsed specs of the studies served (dropped with the Study).
        self._specs: dict[tuple[str, str], Study] = {}
        #: (namespace, name) -> ((uid, generation), the spec parsed): one parse per generation.
        self._parsed: dict[tuple[str, str], tuple[tuple[Any, Any], Study]] = {}
        #: Trial uid -> what about it can change a decision, last seen: events that change
        #: nothing of it (Pending -> Running, bookkeeping) start no pass.
        self._seen = Recent(8192)
        #: Studies whose next pass also looks for workloads deleted behind the operator's back.
        self._heal: set[tuple[str, str]] = set()
        #: Study uid -> the generation last seen: a Study event with a new one (or the first
        #: after a start) asks for a pass; the status writes in between do not.
        self._generations: dict[str, int] = {}

    def start(self, work: Callable[[Hashable], None]) -> None:
        """Serve the requests (the acting replica's study loop): those made before are kept."""
        self._serve = work
        self.queue.start()

    def _work(self, key: Hashable) -> None:
        assert self._serve is not None, "the queue starts only from start(work)"
        self._serve(key)

    # ----- a pass -----------------------------------------------------------------------

    def request(self, namespace: str, name: str, heal: bool = False) -> None:
        if heal:
            with self._lock:
                self._heal.add((namespace, name))
        self.queue.add((namespace, name))

    def take_heal(self, namespace: str, name: str) -> bool:
        """Whether this pass should also look for lost workloads (asked once, then cleared)."""
        with self._lock:
            asked = (namespace, name) in self._heal
            self._heal.discard((namespace, name))
        return asked

    def study_seen(self, study: Obj) -> None:
        """A Study's watch event: a pass for a new Study or spec, and, the first time this
        process sees the Study, a pass that also looks for workloads lost while no one was
        watching (a start is a resume)."""
        meta = study["metadata"]
        generation = meta.get("generation") or 0
        known = self._generations.get(meta["uid"])
        if known == generation:
            return
        self._generations[meta["uid"]] = generation
        self.request(meta["namespace"], meta["name"], heal=known is None)

    # ----- the studies' specs -------------------------------------------------------------

    def study_of(self, namespace: str, name: str) -> Study | None:
        """The Study's parsed spec (kept from the last pass, else parsed from the cache)."""
        known = self._specs.get((namespace, name))
        if known is not None:
            return known
        obj = self.cache.get(namespace, name)
        if obj is None:
            return None
        try:
            return load_study({k: v for k, v in obj.items() if k != "status"})
        except InvalidStudyError:
            return None

    def parse(self, obj: Obj) -> Study:
        """The Study object's spec, parsed once per generation (raises InvalidStudyError):
        a pass reads the parsed one, not the object."""
        meta = obj["metadata"]
        key = (meta["namespace"], meta["name"])
        stamp = (meta.get("uid"), meta.get("generation"))
        kept = self._parsed.get(key)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        study = load_study({k: v for k, v in obj.items() if k != "status"})
        self._parsed[key] = (stamp, study)
        return study

    def loaded(self, namespace: str, name: str, study: Study) -> None:
        self._specs[(namespace, name)] = study

    def forget(self, namespace: str, name: str, uid: str | None = None) -> None:
        if uid is not None:
            self._generations.pop(uid, None)
        self._specs.pop((namespace, name), None)
        self._parsed.pop((namespace, name), None)
        with self._lock:
            self._heal.discard((namespace, name))
        self.queue.forget((namespace, name))
        self.cache.gone(namespace, name)

    # ----- trials -------------------------------------------------------------------------

    def seen(self, trial: Obj) -> None:
        """A trial this operator wrote: its own watch event need not start a pass."""
        self._seen.put(trial["metadata"]["uid"], self._fingerprint(trial))

    def trial_changed(self, trial: Obj) -> None:
        """Start a pass when what a decision reads of the trial changed."""
        fingerprint = self._fingerprint(trial)
        uid = trial["metadata"]["uid"]
        if self._seen.get(uid) == fingerprint:
            return
        self._seen.put(uid, fingerprint)
        self.request(trial["metadata"]["namespace"], trial["spec"]["study"])

    def trial_gone(self, trial: Obj) -> None:
        self._seen.pop(trial["metadata"]["uid"])

    def _fingerprint(self, trial: Obj) -> tuple[Any, int]:
        meta, current = trial["metadata"], trial.get("status") or {}
        phase = trial_phase(trial)
        reports = len(current.get("reports") or [])
        study = self._specs.get((meta["namespace"], trial["spec"]["study"]))
        if phase.active and study is not None and study.spec.early_stopping.name == "none":
            reports = 0  # without a stopping rule, reports decide nothing until the trial ends
        # Queued apart from the other active phases: the Study's counts show it.
        shown = phase.value if phase == TrialState.QUEUED or not phase.active else "active"
        return shown, reports

"""The study loop: observe a Study and its Trials -> `decide` -> act -> write the status.

Watch handlers only `request` a study; a few worker threads run the passes (`WorkQueue`: one
pass per study at a time, bursts coalesced, failures retried with backoff). A pass reads the
Study and its own Trials from the watch-fed caches (`cache.py`: the first pass of a study
after a start lists its Trials once, and the heal, every 5 minutes, lists them again to catch
a missed deletion), with the stored next trial index, so a restart or a missed event loses
nothing and a pass costs no reads. Acting:
- new trials: the Trial, then its Job, then `jobName` on the Trial (the mark that its Job was
  made); the status written after them carries `nextTrialIndex` past them, so a name never
  comes back after a trial is deleted, and a pass that dies before it leaves no gap (the
  next pass numbers from the highest Trial there is);
- stops and kills go through `TrialPhases.end`, which never rewrites a finished trial;
- a Study it cannot act on (an invalid spec, an API server that refuses) gets a condition
  and a Warning event saying why, and the pass is retried while the cause may pass.
A finished Study is left alone until its spec changes (a new generation): deleting one of its
trials does not reopen it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import replace
from typing import Any, cast

from kubetune.api import InvalidStudyError, Study
from kubetune.api.study import FINISHED_STUDY_PHASES
from kubetune.api.trial import TrialState
from kubetune.controller import planning, tokens
from kubetune.controller.desk import StudyDesk
from kubetune.controller.kube import API_ERRORS, InvalidObjectError, Kube, Obj, describe
from kubetune.controller.leader import ConflictError
from kubetune.controller.manifests import prometheus_url
from kubetune.controller.phases import TrialPhases
from kubetune.controller.settings import OperatorSettings
from kubetune.controller.telemetry import Telemetry
from kubetune.controller.tracking import StudyTracking
from kubetune.controller.warm_start import WAIT_SECONDS, Waiting, WarmStartReader
from kubetune.controller.workloads import registry
from kubetune.engine import decide
from kubetune.records.times import now_iso
from kubetune.records.trials import lineage_status, trial_phase

log = logging.getLogger("kubetune.operator")


#: Looks for a study's lost workloads and does them again: (the Study, its active Trials).
Heal = Callable[[Obj, list[Obj]], None]


class StudyLoop:
    def __init__(
        self,
        kube: Kube,
        settings: OperatorSettings,
        telemetry: Telemetry,
        desk: StudyDesk,
        phases: TrialPhases,
        heal: Heal,
        clock: Callable[[], float] = time.time,
        tracking: StudyTracking | None = None,
    ) -> None:
        self.kube = kube
        #: The requests for a pass, the Studies as last seen and their parsed specs.
        self.desk = desk
        self.cache = desk.cache
        self.trials = phases.trials
        self.settings = settings
        self.telemetry = telemetry
        self.phases = phases
        self.clock = clock
        #: Earlier studies' trials for warm starts (finished ones kept by uid).
        self.warm = WarmStartReader(kube)
        #: Workloads lost behind the operator's back, done again (the workload rooms').
        self.heal = heal
        #: The studies in MLflow, when the operator has a tracking URI.
        self.tracking = tracking

    # ----- what the handlers call ------------------------------------------------------------

    def start(self) -> None:
        self.desk.start(self._pass)

    def trial_deleted(self, trial: Obj) -> None:
        """A Trial deleted by hand: it is forgotten (it counts toward nothing) and, while the
        study runs, the next pass fills its slot with a new trial under a new name."""
        meta = trial["metadata"]
        self.desk.trial_gone(trial)
        key = (meta["namespace"], trial["spec"]["study"])
        study = self.cache.get(*key)
        if study is None or study["metadata"].get("deletionTimestamp"):
            return
        phase = trial_phase(trial)
        self.kube.emit_event(
            study,
            "TrialDeleted",
            f"{meta['name']} ({phase.value}) was deleted; it no longer counts toward the budget",
            "Warning" if phase.active else "Normal",
        )
        self.desk.request(*key)

    def study_deleted(self, namespace: str, name: str, uid: str | None = None) -> None:
        if uid is not None and self.tracking is not None:
            self.tracking.forget(uid)
        self.desk.forget(namespace, name, uid)
        self.trials.drop_study(namespace, name)

    # ----- a pass ------------------------------------------------------------------------

    def _pass(self, key: Hashable) -> None:
        with self.telemetry.pass_seconds.time():
            self._one_pass(*cast(tuple[str, str], key))

    def _one_pass(self, namespace: str, name: str) -> None:
        heal = self.desk.take_heal(namespace, name)
        obj = self.cache.get(namespace, name)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            self.study_deleted(namespace, name)
            return
        previous = obj.get("status") or {}
        generation = obj["metadata"].get("generation")
        if (
            previous.get("phase") in FINISHED_STUDY_PHASES
            and previous.get("observedGeneration") == generation
        ):
            return
        study = self._load(obj, previous)
        if study is None:
            return
        self.desk.loaded(namespace, name, study)
        try:
            self._decide_and_act(obj, study, previous, heal)
        except API_ERRORS as error:
            if not self.kube.said(error):  # in an outage nothing can be written; said once
                self._stalled(obj, previous, describe(error))
            raise

    def _load(self, obj: Obj, previous: Mapping[str, Any]) -> Study | None:
        try:
            study = self.desk.parse(obj)
        except InvalidStudyError as error:
            self._refuse(obj, previous, error)
            return None
        template = study.spec.trial_template
        kind = template.enabled_as
        if kind not in self.settings.workloads:
            enable = (
                f"set {kind.lower()}.enabled=true"
                if template.workload is None
                else f"add {{group: {template.resource[0].rpartition('/')[0]}, resource: "
                f"{template.resource[1]}}} to workloads.custom"
            )
            problem = (
                f"spec.trialTemplate.kind: this operator does not run {kind} trials (enabled: "
                f"{', '.join(sorted(self.settings.workloads))}); with the chart, {enable}, "
                "which also grants the RBAC"
            )
            self._refuse(obj, previous, InvalidStudyError([problem]))
            return None
        if (
            study.spec.metrics.prometheus is not None
            and prometheus_url(study, self.settings) is None
        ):
            problem = (
                "spec.metrics.prometheus.url: required, since this operator has no default "
                "Prometheus URL (set one with --prometheus-url, the chart's prometheus.url)"
            )
            self._refuse(obj, previous, InvalidStudyError([problem]))
            return None
        return study

    def _decide_and_act(
        self, obj: Obj, study: Study, previous: Mapping[str, Any], heal: bool
    ) -> None:
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        now = self.clock()
        if not self.trials.prime(obj) and heal:
            self.trials.resync(obj)  # a deletion whose event was missed
        if heal:
            self.heal(obj, self.trials.active(namespace, name))
        history = self.trials.history(obj, now)
        prior = None
        if study.spec.warm_start.studies:
            try:
                prior = self.warm.prior(obj, study.spec, begun=bool(history.trials))
            except Waiting as waiting:
                self._stalled(obj, previous, str(waiting), "WarmStartWaiting")
                self.desk.queue.add_after((namespace, name), WAIT_SECONDS)
                return
            history = replace(history, prior=prior.trials)
        begun = time.perf_counter()
        decision = decide(study.spec, history, now)
        self.telemetry.decision_seconds.observe(time.perf_counter() - begun)
        plan = planning.plan_actions(obj, decision)
        obj = self._write(obj, study, plan)
        history = self.trials.history(obj, now)  # as the writes left it
        if prior is not None:
            history = replace(history, prior=prior.trials)
        told = planning.plan_status(
            obj, study, history, decision, now, prior.status() if prior is not None else None
        )
        for event in told.events:
            self.kube.emit_event(obj, *event)
        self.telemetry.record_study(namespace, name, told.status)
        if told.changed:
            self.cache.seen(self.kube.patch_study_status(namespace, name, told.status))
        if self.tracking is not None:
            self.tracking.observe(obj, study, history, decision, now)
        if plan.again:
            self.desk.request(namespace, name)

    def _write(self, obj: Obj, study: Study, plan: planning.Plan) -> Obj:
        """Carry out a plan (every write kept in the caches); returns the Study as it now
        stands. A trial that ended meanwhile is not ended again (`TrialPhases.end`); a name
        already taken (an earlier Study's Trial, being deleted) is skipped."""
        namespace, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        self.phases.delete_leftovers(namespace)  # an ended trial's workload a failure left
        by_name = {t["metadata"]["name"]: t for t in self.trials.active(namespace, name)}
        for ending in plan.endings:
            self.phases.end(by_name[ending.trial], ending.update, ending.event, tell_study=False)
        for creation in plan.creations:
            created = self.kube.create_trial(creation.trial)
            if created is None:
                continue
            self.trials.seen(created)
            self.desk.seen(created)  # its ADDED event: no news
            self._start(obj, study, created, fresh=True)
            self.kube.emit_event(obj, *creation.event)
        for trial in self.trials.active(namespace, name):  # a pass died before its Job
            if not (trial.get("status") or {}).get("jobName"):
                self._start(obj, study, trial, fresh=False)
        return obj

    def _start(self, obj: Obj, study: Study, trial: Obj, fresh: bool) -> None:
        """Create the trial's Job and mark the Trial with its name. A Job the API server
        refuses (the template is wrong for this cluster) fails the trial with its message."""
        meta = trial["metadata"]
        token = tokens.build_token(
            self.settings.secret, meta["namespace"], meta["name"], meta["uid"]
        )
        kind = registry.kind_of(study.spec.trial_template)
        blocked = kind.preflight(self.kube, study, meta["namespace"]) if kind.preflight else None
        try:
            if blocked is not None:
                raise InvalidObjectError(blocked)
            self.kube.create_workload(
                registry.build_workload(study, trial, token, self.settings),
                study.spec.trial_template.resource[1],
            )
        except InvalidObjectError as refused:
            kind_name = study.spec.trial_template.kind
            reason = (
                f"it cannot run as a {kind_name}: {refused}"
                if blocked
                else f"the API server refused its {kind_name}: {refused}"
            )
            self.phases.end(
                trial,
                {"phase": TrialState.FAILED.value, "reason": reason},
                ("TrialFailed", reason, "Warning"),
                tell_study=False,
            )
            return
        mark: Obj = {"jobName": meta["name"], **lineage_status(trial)}
        if fresh:  # Pending, unless its pod was faster and already said Running
            try:
                self.trials.seen(
                    self.kube.patch_trial_status(
                        meta["namespace"],
                        meta["name"],
                        {**mark, "phase": TrialState.PENDING.value},
                        resource_version=meta["resourceVersion"],
                    )
                )
                return
            except ConflictError:
                pass
        self.trials.seen(self.kube.patch_trial_status(meta["namespace"], meta["name"], mark))

    # ----- what users see -----------------------------------------------------------------

    def _refuse(self, obj: Obj, previous: Mapping[str, Any], error: InvalidStudyError) -> None:
        message = "; ".join(error.problems)
        refused = {
            "phase": "Failed",
            "finishedBecause": "InvalidSpec",
            "conditions": [_condition("Failed", "InvalidSpec", message, self.clock())],
            "observedGeneration": obj["metadata"].get("generation"),
        }
        if (
            previous.get("finishedBecause") != "InvalidSpec"
            or (previous.get("conditions") or [{}])[0].get("message") != message
        ):
            self.kube.emit_event(obj, "InvalidSpec", message, "Warning")
            self.cache.seen(
                self.kube.patch_study_status(
                    obj["metadata"]["namespace"], obj["metadata"]["name"], refused
                )
            )

    def _stalled(
        self, obj: Obj, previous: Mapping[str, Any], problem: str, reason: str = "ActionFailed"
    ) -> None:
        """The pass could not act (the API server's answer, an earlier study to wait for): say
        so on the Study, once per cause."""
        message = problem if reason == "WarmStartWaiting" else f"{problem}; retrying"
        conditions = [c for c in previous.get("conditions") or [] if c.get("type") != "Stalled"]
        old: Mapping[str, Any] = next(
            (c for c in previous.get("conditions") or [] if c.get("type") == "Stalled"), {}
        )
        if old.get("message") == message:
            return
        log.warning(
            "study %s/%s stalled: %s",
            obj["metadata"]["namespace"],
            obj["metadata"]["name"],
            problem,
        )
        try:
            self.kube.emit_event(obj, "Stalled", message, "Warning")
            patched = self.kube.patch_study_status(
                obj["metadata"]["namespace"],
                obj["metadata"]["name"],
                {
                    "conditions": [
                        *conditions,
                        _condition("Stalled", reason, message, self.clock()),
                    ]
                },
            )
            self.cache.seen(patched)
        except API_ERRORS:
            pass  # the API server is down: the log line is all that can be said now


def _condition(kind: str, reason: str, message: str, now: float) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastTransitionTime": now_iso(now),
    }

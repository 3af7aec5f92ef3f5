"""Observe -> decide -> act, for one Study at a time; the operator's only logic beyond I/O.

Three entry points, each triggered by a watch event: `reconcile_study` (a Study or one of its
Trials changed), `sync_job` (a trial's Job changed: its phase follows the Job) and
`record_reports` (the collector received reports). Bursts of events for one Study coalesce
into back-to-back reconciles, never concurrent ones: the engine's decision always sees the
latest Trials, and deterministic names make any repeated create harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kubetune.api import InvalidStudyError, Study, load_study
from kubetune.controller import manifests, status, tokens
from kubetune.controller.kube import Kube, Obj
from kubetune.controller.leader import ConflictError
from kubetune.controller.telemetry import Telemetry
from kubetune.engine import Decision, History, TrialRecord, TrialState, decide
from kubetune.engine.history import final_objective
from kubetune.metrics import prometheus
from kubetune.metrics.lines import BadValue, parse_number

log = logging.getLogger("kubetune.operator")
TERMINAL = {"Succeeded", "Failed", "EarlyStopped", "Killed"}
METRIC_ANNOTATION = "kubetune.io/metric"
#: The Job controller's label on its pods, naming the Job by uid.
JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"
PROMETHEUS_URL = "kubetune.io/prometheus-url"
PROMETHEUS_QUERY = "kubetune.io/prometheus-query"


@dataclass(frozen=True)
class OperatorConfig:
    secret: bytes
    sidecar: manifests.SidecarSettings | None
    #: For Studies whose metrics.prometheus names no url (--prometheus-url).
    prometheus_url: str | None = None


@dataclass
class _Coalescer:
    """Per-key: run now, or mark dirty so the running caller goes round once more."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    running: set[str] = field(default_factory=set)
    dirty: set[str] = field(default_factory=set)

    def run(self, key: str, work: Callable[[], None]) -> None:
        with self.lock:
            if key in self.running:
                self.dirty.add(key)
                return
            self.running.add(key)
        try:
            while True:
                work()
                with self.lock:
                    if key not in self.dirty:
                        return
                    self.dirty.discard(key)
        finally:
            with self.lock:
                self.running.discard(key)


class Reconciler:
    def __init__(
        self,
        kube: Kube,
        config: OperatorConfig,
        telemetry: Telemetry,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kube = kube
        self.config = config
        self.telemetry = telemetry
        self.clock = clock
        self._studies = _Coalescer()
        self._trial_locks: dict[str, threading.Lock] = {}
        self._settled: set[str] = set()  # an optimisation only: rebuilt by the first events
        self._trials_seen: dict[str, tuple[Any, int]] = {}
        self._jobs_ensured: set[str] = set()
        self._stopping: dict[str, str] = {}  # study -> its stopping rule, to skip useless wakes
        self._trial_locks_guard = threading.Lock()

    # ----- the study ------------------------------------------------------------------------

    def reconcile_study(self, namespace: str, name: str) -> None:
        self._studies.run(f"{namespace}/{name}", lambda: self._reconcile(namespace, name))

    def _reconcile(self, namespace: str, name: str) -> None:
        obj = self.kube.fetch_study(namespace, name)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        previous = obj.get("status") or {}
        try:
            study = load_study({k: v for k, v in obj.items() if k != "status"})
        except InvalidStudyError as error:
            self._refuse(obj, previous, error)
            return
        source = study.spec.metrics.prometheus
        if source is not None and self._prometheus_url(source.url) is None:
            problem = (
                "spec.metrics.prometheus.url: required, since this operator has no default "
                "Prometheus URL (set one with --prometheus-url, the chart's prometheus.url)"
            )
            self._refuse(obj, previous, InvalidStudyError([problem]))
            return
        self._stopping[f"{namespace}/{name}"] = study.spec.early_stopping.name
        trials = self.kube.list_trials(namespace, name)
        now = self.clock()
        started = status.parse_time(previous.get("startTime")) or now
        history = status.history_from_trials(name, trials, started)
        begun = time.perf_counter()
        decision = decide(study.spec, history, now)
        self.telemetry.decision_seconds.observe(time.perf_counter() - begun)
        by_name = {t["metadata"]["name"]: t for t in trials}
        history = self._act(obj, study, history, decision, by_name)
        new_status = status.build_study_status(
            previous,
            history,
            decision,
            study.spec.budget.max_trials,
            obj["metadata"].get("generation"),
            now,
        )
        self._announce(obj, previous, new_status, decision)
        self.telemetry.record_study(namespace, name, new_status)
        if _differs(previous, new_status):
            self.kube.patch_study_status(namespace, name, new_status)

    def _act(
        self, obj: Obj, study: Study, history: History, decision: Decision, trials: dict[str, Obj]
    ) -> History:
        """Carry out the decision; returns the history as it now stands."""
        namespace = obj["metadata"]["namespace"]
        changed: dict[str, TrialState] = {}
        stamp = status.now_iso(self.clock())
        for stop in decision.stop:
            self._end_trial(
                namespace,
                stop.trial,
                {
                    "phase": "EarlyStopped",
                    "reason": stop.reason,
                    "stop": stop.__dict__,
                    "completionTime": stamp,
                },
            )
            self.kube.emit_event(obj, "TrialStoppedEarly", f"{stop.trial}: {stop.reason}")
            changed[stop.trial] = TrialState.EARLY_STOPPED
        for name in decision.kill:
            assert decision.finish is not None
            self._end_trial(
                namespace,
                name,
                {
                    "phase": "Killed",
                    "reason": f"study finished: {decision.finish.reason}",
                    "completionTime": stamp,
                },
            )
            changed[name] = TrialState.KILLED
        records = [
            replace(t, state=changed[t.name]) if t.name in changed else t for t in history.trials
        ]
        for new in decision.create:
            created = self.kube.create_trial(manifests.build_trial(obj, new))
            self._trials_seen[created["metadata"]["uid"]] = (
                "active",
                0,
            )  # its ADDED event: no news
            # Pending before the Job exists, so this patch can never land after the pod's Running
            self.kube.patch_trial_status(
                namespace, new.name, {"phase": "Pending", "jobName": new.name}
            )
            self._ensure_job(study, created)
            self.kube.emit_event(obj, "TrialCreated", f"{new.name}: {_render(new.params)}")
            records.append(TrialRecord(new.name, new.index, dict(new.params), budget=new.budget))
        for trial in trials.values():  # once per process: a restart between a Trial and its Job
            phase = (trial.get("status") or {}).get("phase", "Pending")
            if (
                phase == "Pending"
                and trial["metadata"]["uid"] not in self._jobs_ensured
                and trial["metadata"]["name"] not in changed
            ):
                self._ensure_job(study, trial)
        return replace(history, trials=tuple(records))

    def _ensure_job(self, study: Study, trial: Obj) -> None:
        meta = trial["metadata"]
        token = tokens.build_token(self.config.secret, meta["namespace"], meta["name"], meta["uid"])
        job = manifests.build_job(study, trial, token, self.config.sidecar)
        pod_meta = job["spec"]["template"].setdefault("metadata", {})
        for notes in (job["metadata"]["annotations"], pod_meta.setdefault("annotations", {})):
            notes[METRIC_ANNOTATION] = study.spec.objective.metric
            source = study.spec.metrics.prometheus
            url = self._prometheus_url(source.url) if source is not None else None
            if source is not None and url is not None:
                notes[PROMETHEUS_URL] = url
                notes[PROMETHEUS_QUERY] = prometheus.render_query(source.query, meta["name"])
        self.kube.create_job(job)  # an existing Job (after a restart) is not an error
        self._jobs_ensured.add(meta["uid"])  # by uid: names come back with a new Study

    def _end_trial(self, namespace: str, name: str, trial_status: Obj) -> None:
        self.kube.patch_trial_status(namespace, name, trial_status)
        self.kube.delete_job(namespace, name)

    def _refuse(self, obj: Obj, previous: Mapping[str, Any], error: InvalidStudyError) -> None:
        message = "; ".join(error.problems)
        refused = {
            "phase": "Failed",
            "finishedBecause": "InvalidSpec",
            "conditions": [
                {
                    "type": "Failed",
                    "status": "True",
                    "reason": "InvalidSpec",
                    "message": message,
                    "lastTransitionTime": status.now_iso(self.clock()),
                }
            ],
            "observedGeneration": obj["metadata"].get("generation"),
        }
        if (
            previous.get("finishedBecause") != "InvalidSpec"
            or previous.get("conditions", [{}])[0].get("message") != message
        ):
            self.kube.emit_event(obj, "InvalidSpec", message, "Warning")
            self.kube.patch_study_status(
                obj["metadata"]["namespace"], obj["metadata"]["name"], refused
            )

    def _announce(
        self, obj: Obj, previous: Mapping[str, Any], new: Mapping[str, Any], decision: Decision
    ) -> None:
        before = (previous.get("bestTrial") or {}).get("name")
        best = new.get("bestTrial")
        if best and best["name"] != before:
            self.kube.emit_event(
                obj,
                "BestTrialImproved",
                f"{best['name']}: objective {best['objective']:.6g} with {_render(best['params'])}",
            )
        if new["phase"] in ("Succeeded", "Failed") and previous.get("phase") != new["phase"]:
            assert decision.finish is not None
            kind = "Normal" if new["phase"] == "Succeeded" else "Warning"
            self.kube.emit_event(
                obj, "StudyFinished", f"{decision.finish.reason}: {decision.finish.message}", kind
            )

    # ----- a trial's Job -----------------------------------------------------------------------

    def sync_job(self, job: Obj) -> None:
        """A Job's verdict; only terminal ones matter here (the pod says when it runs)."""
        phase, reason = status.job_outcome(job)
        if phase in ("Succeeded", "Failed"):
            self._settle(job, phase, reason, job["metadata"].get("uid"))

    def sync_pod(self, pod: Obj) -> None:
        """The trial's pod: the fastest word on Running, Succeeded and Failed. A pod ends
        (sidecar flushed and stopped) a second or more before the Job controller says so."""
        phase, reason = status.pod_outcome(pod)
        labels = pod["metadata"].get("labels") or {}
        if phase != "Pending":
            self._settle(pod, phase, reason, labels.get(JOB_UID_LABEL))
        stuck = (pod.get("status") or {}).get("phase") in ("Pending", "Running")
        if phase == "Failed" and stuck and labels.get(manifests.TRIAL_LABEL):
            # A container that can never start (image, config): the Job would wait forever
            # holding the node's resources.
            self.kube.delete_job(pod["metadata"]["namespace"], labels[manifests.TRIAL_LABEL])

    def _settle(self, source: Obj, phase: str, reason: str | None, job_uid: str | None) -> None:
        meta = source["metadata"]
        name = (meta.get("labels") or {}).get(manifests.TRIAL_LABEL)
        # Keyed by the Job's uid, not the trial's name: a Study deleted and created again
        # (same names) must not find its trials already "done" from the last one.
        key = f"{meta['namespace']}/{name}/{job_uid or ''}"
        if not name or f"{key}/{phase}" in self._settled or f"{key}/done" in self._settled:
            return  # a phase already applied (by the pod or the Job): every later event is noise
        seen = f"{key}/{phase}"
        with self._trial_lock(meta["namespace"], name):
            trial = self.kube.fetch_trial(meta["namespace"], name)
            if trial is None:
                return
            current = trial.get("status") or {}
            if current.get("phase") in TERMINAL:
                self._remember(f"{key}/done")
                return
            if current.get("phase") == phase:
                self._remember(seen)
                return
            update: Obj = {}
            if phase == "Succeeded":
                trial, objective, reason = self._objective(trial, meta.get("annotations") or {})
                if objective is None and reason is None:
                    return  # failed meanwhile (a bad value from Prometheus)
                phase = "Succeeded" if objective is not None else "Failed"
                update["objective"] = objective
            update.update({"phase": phase, "reason": reason})
            stamp = status.now_iso(self.clock())
            if phase == "Running" and not current.get("startTime"):
                update["startTime"] = stamp
            update.setdefault("jobName", name)
            if phase in TERMINAL:
                update["completionTime"] = stamp
            patched = self.kube.patch_trial_status(meta["namespace"], name, update)
            self._remember(f"{key}/done" if phase in TERMINAL else seen)
            if phase == "Failed":
                self.kube.emit_event(trial, "TrialFailed", reason or "failed", "Warning")
            if phase not in TERMINAL:
                return
            # Decide now rather than when our own patch comes back through the watch: one hop
            # less between a trial's end and the next trial. Its watch event is then no news.
            self._trials_seen[patched["metadata"]["uid"]] = self._fingerprint(patched)
        self.reconcile_study(meta["namespace"], patched["spec"]["study"])

    def _objective(
        self, trial: Obj, annotations: Mapping[str, str]
    ) -> tuple[Obj, float | None, str | None]:
        """The finished trial's objective, or why there is none."""
        metric = annotations.get(METRIC_ANNOTATION, "")
        if PROMETHEUS_QUERY in annotations:  # the last word comes from Prometheus
            pulled = self._pull(
                trial, annotations[PROMETHEUS_URL], annotations[PROMETHEUS_QUERY], metric
            )
            trial = pulled or trial
            if (trial.get("status") or {}).get("phase") in TERMINAL:
                return trial, None, None
        objective = final_objective(status.trial_record(trial).reports, metric)
        if objective is None:
            return trial, None, f"objective metric {metric!r} never reported"
        return trial, objective, None

    def _remember(self, seen: str) -> None:
        if len(self._settled) > 100_000:  # bounded: forgetting only costs one extra GET
            self._settled.clear()
        self._settled.add(seen)

    def _fingerprint(self, trial: Obj) -> tuple[Any, int]:
        """What about a trial can change a decision: its end, and its reports (when a
        stopping rule reads them)."""
        meta, current = trial["metadata"], trial.get("status") or {}
        phase = current.get("phase") if current.get("phase") in TERMINAL else "active"
        reports = len(current.get("reports") or [])
        study = f"{meta['namespace']}/{trial['spec']['study']}"
        if phase == "active" and self._stopping.get(study) == "none":
            reports = 0  # without a stopping rule, reports decide nothing until the trial ends
        return phase, reports

    def trial_changed(self, trial: Obj) -> None:
        """Reconcile the trial's study when the trial's phase or its reports changed."""
        meta = trial["metadata"]
        fingerprint = self._fingerprint(trial)
        if self._trials_seen.get(meta["uid"]) == fingerprint:
            return  # Pending -> Running and bookkeeping patches change nothing to decide
        self._trials_seen[meta["uid"]] = fingerprint
        self.reconcile_study(meta["namespace"], trial["spec"]["study"])

    # ----- Prometheus ---------------------------------------------------------------------------

    def poll_prometheus(self, namespace: str, name: str) -> None:
        """Pull running trials' series from Prometheus (a timer calls this while a study runs)."""
        obj = self.kube.fetch_study(namespace, name)
        if obj is None:
            return
        source = ((obj.get("spec") or {}).get("metrics") or {}).get("prometheus")
        metric = obj["spec"]["objective"]["metric"]
        if not source:
            return
        for trial in self.kube.list_trials(namespace, name):
            if (trial.get("status") or {}).get("phase") != "Running":
                continue
            query = prometheus.render_query(source["query"], trial["metadata"]["name"])
            with self._trial_lock(namespace, trial["metadata"]["name"]):
                url = self._prometheus_url(source.get("url"))
                if url is not None:
                    self._pull(trial, url, query, metric)

    def _prometheus_url(self, url: str | None) -> str | None:
        return url or self.config.prometheus_url

    def _pull(self, trial: Obj, url: str, query: str, metric: str) -> Obj | None:
        """Record what Prometheus has for a trial that the trial does not have yet."""
        try:
            found = prometheus.fetch_reports(url, query, metric)
        except (OSError, ValueError) as error:
            log.warning("Prometheus query for %s failed: %s", trial["metadata"]["name"], error)
            return None
        bad = [r for r in found if isinstance(r, BadValue)]
        if bad:
            self._fail_bad_value(trial, str(bad[0]))
            return None
        current = trial.get("status") or {}
        have = [(r.get("step"), r.get("metrics")) for r in current.get("reports", [])]
        fresh = [
            {"step": r.step, "metrics": dict(r.metrics)}
            for r in found
            if not isinstance(r, BadValue) and (r.step, dict(r.metrics)) not in have
        ]
        if not fresh:
            return trial
        meta = trial["metadata"]
        reports = status.merge_reports(list(current.get("reports", [])), fresh)
        self.telemetry.reports_accepted.inc(len(fresh))
        return self.kube.patch_trial_status(meta["namespace"], meta["name"], {"reports": reports})

    # ----- reports ----------------------------------------------------------------------------

    def record_reports(
        self, namespace: str, name: str, token: str, payload: Mapping[str, Any]
    ) -> tuple[int, str]:
        """The collector's handler: (HTTP status, message). Refused reports are counted.

        Every replica serves the collector (the Service spreads sidecars over them), so the
        write is conditional on the Trial not having changed since it was read; on a conflict
        the reports are merged again into what the other writer left."""
        for _ in range(5):
            try:
                return self._record_reports(namespace, name, token, payload)
            except ConflictError:
                self.telemetry.api_requests.labels(verb="conflict").inc()
        return 503, "the trial kept changing; retry"

    def _record_reports(
        self, namespace: str, name: str, token: str, payload: Mapping[str, Any]
    ) -> tuple[int, str]:
        with self._trial_lock(namespace, name):
            trial = self.kube.fetch_trial(namespace, name)
            if trial is None:
                self.telemetry.reports_refused.labels(reason="unknown-trial").inc()
                return 404, f"no trial {namespace}/{name}"
            if not tokens.check_token(
                self.config.secret, namespace, name, trial["metadata"]["uid"], token
            ):
                self.telemetry.reports_refused.labels(reason="bad-token").inc()
                log.warning("refused reports for %s/%s: bad token", namespace, name)
                return 403, "token does not match this trial"
            current = trial.get("status") or {}
            if current.get("phase") in TERMINAL:
                return 200, "trial already finished; ignored"
            if payload.get("error"):
                return self._fail_bad_value(trial, str(payload["error"]))
            last = current.get("lastSeq")
            fresh: list[Obj] = []
            seqs: list[int] = []
            for report in payload.get("reports", []):
                seq = report.get("seq")
                if last is not None and seq is not None and seq <= last:
                    continue  # a retry of something already recorded
                metrics: dict[str, float] = {}
                for metric, raw in (report.get("metrics") or {}).items():
                    value = parse_number(metric, raw)
                    if isinstance(value, BadValue):
                        return self._fail_bad_value(trial, str(value))
                    metrics[metric] = value
                fresh.append({"step": report.get("step"), "metrics": metrics})
                if seq is not None:
                    seqs.append(seq)
            if not fresh:
                return 200, "nothing new"
            update: Obj = {"reports": status.merge_reports(list(current.get("reports", [])), fresh)}
            if seqs:
                update["lastSeq"] = max(seqs)
            if current.get("phase", "Pending") == "Pending":
                update["phase"] = "Running"
                update["startTime"] = status.now_iso(self.clock())
            self.kube.patch_trial_status(
                namespace, name, update, resource_version=trial["metadata"]["resourceVersion"]
            )
            self.telemetry.reports_accepted.inc(len(fresh))
            return 200, f"recorded {len(fresh)}"

    def _fail_bad_value(self, trial: Obj, problem: str) -> tuple[int, str]:
        """A trial that reports garbage fails, alone; the operator and the study go on."""
        meta = trial["metadata"]
        reason = f"bad value: {problem}"
        self._end_trial(
            meta["namespace"],
            meta["name"],
            {
                "phase": "Failed",
                "reason": reason,
                "completionTime": status.now_iso(self.clock()),
            },
        )
        self.kube.emit_event(trial, "TrialFailed", reason, "Warning")
        self.telemetry.reports_refused.labels(reason="bad-value").inc()
        return 200, "trial failed: " + reason

    def _trial_lock(self, namespace: str, name: str) -> threading.Lock:
        with self._trial_locks_guard:
            return self._trial_locks.setdefault(f"{namespace}/{name}", threading.Lock())


def _differs(previous: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    return any(previous.get(k) != v for k, v in new.items())


def _render(params: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )

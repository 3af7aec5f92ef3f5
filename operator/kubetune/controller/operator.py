"""The operator's rooms, wired together once: the study loop, the workload rooms (one per
kind, `workloads.registry`), report intake, and what serves them (the collector, /metrics,
the ticker).

`build_operator` is called by `kubetune operator` with its settings; the result travels to
kopf's handlers in kopf's memo (`memo.operator`), never through module globals. `serve`
starts what every replica offers, leader or standby (the collector and /metrics: sidecars
reach any replica through the Service); `act` starts what only the acting replica runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from kubetune.controller.cache import TrialCache
from kubetune.controller.collector import CollectorServer, serve_collector
from kubetune.controller.desk import StudyDesk
from kubetune.controller.intake import ReportIntake
from kubetune.controller.kube import Kube, Obj
from kubetune.controller.phases import TrialLocks, TrialPhases
from kubetune.controller.pulls import PrometheusPulls
from kubetune.controller.settings import OperatorSettings
from kubetune.controller.studies import StudyLoop
from kubetune.controller.telemetry import Telemetry
from kubetune.controller.ticker import Ticker
from kubetune.controller.tracking import open_study_tracking
from kubetune.controller.workloads import registry
from kubetune.controller.workloads.kind import Room
from kubetune.tracking.setup import TrackingUnavailableError

log = logging.getLogger("kubetune.operator")


@dataclass
class Operator:
    settings: OperatorSettings
    kube: Kube
    telemetry: Telemetry
    desk: StudyDesk
    phases: TrialPhases
    studies: StudyLoop
    intake: ReportIntake
    #: kind name (manifests.WORKLOAD_LABEL) -> its room.
    workloads: dict[str, Room]
    ticker: Ticker

    def serve(self) -> CollectorServer:
        server = serve_collector(
            *self.settings.collector_address,
            self.intake,
            lambda reason: self.telemetry.reports_refused.labels(reason=reason).inc(),
        )
        log.info("collector listening on %s:%d", *server.server_address[:2])
        if self.settings.metrics_address is not None:
            self.telemetry.serve(*self.settings.metrics_address)
        return server

    def act(self) -> None:
        self.telemetry.leader.set(1)
        self.studies.start()
        self.ticker.start()

    def trial_seen(self, trial: Obj) -> None:
        """A Trial's watch event: kept in the cache, and a pass when it changes a decision."""
        self.desk.trial_changed(self.phases.trials.seen(trial))

    def trial_deleted(self, trial: Obj) -> None:
        meta = trial["metadata"]
        self.phases.trials.gone(trial)
        self.phases.forget(meta["namespace"], meta["name"])
        self.studies.trial_deleted(trial)

    def study_seen(self, study: Obj) -> None:
        self.desk.study_seen(self.desk.cache.seen(study))


def build_operator(settings: OperatorSettings, kube: Kube, telemetry: Telemetry) -> Operator:
    """Each room is built with everything it calls, in an order with no circle: the desk (the
    study side the other rooms ask) first, the study loop, which ends trials through
    `phases` and heals through the workload rooms, last."""
    locks = TrialLocks()
    trials = TrialCache(kube)
    desk = StudyDesk(kube, settings, telemetry)
    pulls = PrometheusPulls(kube, settings, telemetry, trials)
    phases = TrialPhases(kube, telemetry, locks, trials, desk, pulls)
    intake = ReportIntake(kube, settings, telemetry, locks, phases, trials, pulls)
    workloads = registry.build_rooms(kube, phases)
    try:
        tracking = open_study_tracking(kube, settings.mlflow_tracking_uri)
    except TrackingUnavailableError as error:
        log.warning("%s", error)
        tracking = None

    def heal(study: Obj, active: list[Obj]) -> None:
        loaded = desk.study_of(study["metadata"]["namespace"], study["metadata"]["name"])
        if loaded is None:
            return
        template = loaded.spec.trial_template
        workloads[registry.kind_of(template).name].heal(study, active, *template.resource)

    def pull(namespace: str, name: str) -> None:
        """The ticker's Prometheus read of a study's running trials."""
        study = desk.study_of(namespace, name)
        if study is not None and study.spec.metrics.prometheus is not None:
            intake.pull_running(namespace, study, trials.active(namespace, name))

    studies = StudyLoop(kube, settings, telemetry, desk, phases, heal, tracking=tracking)
    ticker = Ticker(desk.request, pull, settings.heal_seconds, said=kube.said)
    return Operator(settings, kube, telemetry, desk, phases, studies, intake, workloads, ticker)


def read_secret(
    kube: Kube, namespace: str, secret_name: str | None, secret_file: str | None, value: str | None
) -> bytes | None:
    """The collector's HMAC key: a Secret (created with a random key when missing), a file,
    or the value itself; None when none is configured."""
    if secret_name:
        return kube.read_or_create_key(namespace, secret_name)
    if value:
        return value.encode()
    if secret_file:
        return Path(secret_file).read_bytes().strip()
    return None

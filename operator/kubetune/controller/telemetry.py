"""The operator's own Prometheus metrics: studies and trials by phase, decision latency,
collector reports accepted and refused. Served by prometheus_client on --metrics-address."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from kubetune.api.study import STUDY_PHASES

#: The Study status's counts of trials by phase (its `trials` keys).
TRIAL_COUNTS = ("pending", "running", "succeeded", "failed", "earlyStopped", "killed")


class Telemetry:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.study_phase = Gauge(
            "kubetune_study_phase",
            "1 for the phase each study is in",
            ["namespace", "study", "phase"],
            registry=self.registry,
        )
        self.trials = Gauge(
            "kubetune_trials",
            "Trials of each study by phase",
            ["namespace", "study", "phase"],
            registry=self.registry,
        )
        self.decision_seconds = Histogram(
            "kubetune_decision_seconds",
            "Time the engine took for one decision",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
            registry=self.registry,
        )
        self.pass_seconds = Histogram(
            "kubetune_study_pass_seconds",
            "Time one pass of the study loop took (observe, decide, act, status)",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.queue_seconds = Histogram(
            "kubetune_study_queue_seconds",
            "Time from a study's pass being requested to its start",
            buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.reports_accepted = Counter(
            "kubetune_collector_reports_accepted",
            "Reports recorded by the collector",
            registry=self.registry,
        )
        self.api_requests = Counter(
            "kubetune_api_requests",
            "Kubernetes API requests made by the operator's own code",
            ["verb"],
            registry=self.registry,
        )
        self.leader = Gauge(
            "kubetune_leader",
            "1 while this replica acts (holds the leader Lease, or runs alone)",
            registry=self.registry,
        )
        self.reports_refused = Counter(
            "kubetune_collector_reports_refused",
            "Reports refused by the collector",
            ["reason"],
            registry=self.registry,
        )

    def record_study(self, namespace: str, study: str, status: Mapping[str, Any]) -> None:
        for phase in STUDY_PHASES:
            self.study_phase.labels(namespace, study, phase).set(
                1 if status["phase"] == phase else 0
            )
        for counted in TRIAL_COUNTS:
            self.trials.labels(namespace, study, counted).set(status["trials"].get(counted, 0))

    def serve(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)

"""kopf handlers: a few lines each, handing off to `reconcile`.

Run with `kubetune operator` or `kopf run -m kubetune.controller.handlers`; configuration
comes from the environment (the CLI sets it from its flags):
  KUBETUNE_COLLECTOR_SECRET_NAME             a Secret (in KUBETUNE_OPERATOR_NAMESPACE) with
                                             the HMAC key for per-trial tokens; created with
                                             a random key when missing. Or the key itself:
  KUBETUNE_COLLECTOR_SECRET_FILE / _SECRET   (keep it stable across restarts and equal across
                                             replicas: running trials hold tokens)
  KUBETUNE_COLLECTOR_ADDRESS                 where the collector listens (0.0.0.0:8443)
  KUBETUNE_COLLECTOR_URL                     what sidecars post to
  KUBETUNE_SIDECAR_IMAGE                     the image of the metrics sidecar
  KUBETUNE_METRICS_ADDRESS                   the operator's own /metrics ("" turns it off)
  KUBETUNE_PROMETHEUS_URL                    for Studies whose metrics.prometheus has no url
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from typing import Any

import kopf

from kubetune import __version__
from kubetune.api.study import GROUP, VERSION
from kubetune.controller import manifests
from kubetune.controller.collector import serve_collector
from kubetune.controller.kube import Kube
from kubetune.controller.reconcile import OperatorConfig, Reconciler
from kubetune.controller.telemetry import Telemetry
from kubetune.controller.ticker import Ticker

log = logging.getLogger("kubetune.operator")
_reconciler: Reconciler | None = None
_ticker: Ticker | None = None


def _secret(kube: Kube) -> bytes:
    name = os.environ.get("KUBETUNE_COLLECTOR_SECRET_NAME")
    if name:
        return kube.read_or_create_key(os.environ["KUBETUNE_OPERATOR_NAMESPACE"], name)
    if os.environ.get("KUBETUNE_COLLECTOR_SECRET"):
        return os.environ["KUBETUNE_COLLECTOR_SECRET"].encode()
    path = os.environ.get("KUBETUNE_COLLECTOR_SECRET_FILE")
    if path:
        with open(path, "rb") as stream:
            return stream.read().strip()
    log.warning(
        "no KUBETUNE_COLLECTOR_SECRET: using a random one; "
        "trials started before a restart will have their reports refused"
    )
    return secrets.token_bytes(32)


def _address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host or "0.0.0.0", int(port)


def reconciler() -> Reconciler:
    assert _reconciler is not None, "the operator has not started"
    return _reconciler


def ticker() -> Ticker:
    assert _ticker is not None, "the operator has not started"
    return _ticker


def prepare() -> Reconciler:
    """Build the reconciler and start what every replica serves, leader or not: the collector
    (sidecars reach any replica through the Service) and /metrics. Called by the CLI before
    leader election; the kopf startup handler calls it when kopf is run directly."""
    global _reconciler  # noqa: PLW0603 - kopf's handlers are module-level functions
    if _reconciler is not None:
        return _reconciler
    telemetry = Telemetry()
    sidecar = manifests.SidecarSettings(
        image=os.environ.get("KUBETUNE_SIDECAR_IMAGE", f"kubetune/kubetune:{__version__}"),
        collector_url=os.environ.get(
            "KUBETUNE_COLLECTOR_URL", "http://kubetune-collector.kubetune-system.svc:8443"
        ),
    )
    kube = Kube(on_call=lambda verb: telemetry.api_requests.labels(verb=verb).inc())
    _reconciler = Reconciler(
        kube,
        OperatorConfig(
            secret=_secret(kube),
            sidecar=sidecar,
            prometheus_url=os.environ.get("KUBETUNE_PROMETHEUS_URL") or None,
        ),
        telemetry,
    )
    host, port = _address(os.environ.get("KUBETUNE_COLLECTOR_ADDRESS", "0.0.0.0:8443"))
    server = serve_collector(host, port, _reconciler.record_reports)
    log.info("collector listening on %s:%d", *server.server_address[:2])
    metrics = os.environ.get("KUBETUNE_METRICS_ADDRESS", "0.0.0.0:8080")
    if metrics:
        telemetry.serve(*_address(metrics))
    return _reconciler


@kopf.on.startup()
def start(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Runs only where this process acts: after leader election, when there is one."""
    global _ticker  # noqa: PLW0603 - kopf's handlers are module-level functions
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="kubetune.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="kubetune.io")
    settings.posting.level = logging.WARNING
    settings.execution.max_workers = 16
    # kopf waits this long after an object's event for more before handling it (0.1 s by
    # default), per hop; a trial's end crosses two hops (pod, then Trial) before the next Job.
    settings.batching.batch_window = 0.01
    reconciler = prepare()
    reconciler.telemetry.leader.set(1)
    _ticker = Ticker(reconciler.reconcile_study, reconciler.poll_prometheus)
    _ticker.start()


@kopf.on.resume(GROUP, VERSION, "studies")
@kopf.on.create(GROUP, VERSION, "studies")
@kopf.on.update(GROUP, VERSION, "studies", field="spec")
def study_changed(namespace: str | None, name: str, **_: Any) -> None:
    assert namespace is not None  # Study is namespaced
    reconciler().reconcile_study(namespace, name)


@kopf.on.event(GROUP, VERSION, "trials")
def trial_changed(event: Mapping[str, Any], body: Mapping[str, Any], **_: Any) -> None:
    if event.get("type") != "DELETED":
        reconciler().trial_changed(_plain(body))


@kopf.on.event("batch", "v1", "jobs", labels={manifests.TRIAL_LABEL: kopf.PRESENT})
def job_changed(event: Mapping[str, Any], body: Mapping[str, Any], **_: Any) -> None:
    if event.get("type") != "DELETED":
        reconciler().sync_job(_plain(body))


@kopf.on.event("", "v1", "pods", labels={manifests.TRIAL_LABEL: kopf.PRESENT})
def pod_changed(event: Mapping[str, Any], body: Mapping[str, Any], **_: Any) -> None:
    if event.get("type") != "DELETED":
        reconciler().sync_pod(_plain(body))


@kopf.on.event(GROUP, VERSION, "studies")
def study_event(event: Mapping[str, Any], body: Mapping[str, Any], **_: Any) -> None:
    ticker().track(_plain(body), deleted=event.get("type") == "DELETED")


def _plain(body: Mapping[str, Any]) -> dict[str, Any]:
    def convert(node: Any) -> Any:
        if isinstance(node, Mapping):
            return {k: convert(v) for k, v in node.items()}
        if isinstance(node, list):
            return [convert(v) for v in node]
        return node

    result: dict[str, Any] = convert(body)
    return result

"""The operator's settings: one frozen object, built once by `kubetune operator` from its flags
and handed to every room through kopf's memo. Each default is written here and nowhere else
(the CLI's flags fall back to these). Pure: no environment, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubetune import __version__

DEFAULT_COLLECTOR_URL = "http://kubetune-collector.kubetune-system.svc:8443"


def parse_address(value: str) -> tuple[str, int]:
    """`HOST:PORT` (or `:PORT`, all interfaces) as a listen address."""
    host, _, port = value.rpartition(":")
    if not port.isdigit():
        raise ValueError(f"{value!r}: expected HOST:PORT, e.g. 0.0.0.0:8443")
    return host or "0.0.0.0", int(port)


@dataclass(frozen=True)
class OperatorSettings:
    #: The HMAC key of the per-trial collector tokens: equal across replicas and stable across
    #: restarts, since running trials hold tokens made with it.
    secret: bytes
    #: Namespaces watched; empty: the whole cluster.
    namespaces: tuple[str, ...] = ()
    collector_address: tuple[str, int] = ("0.0.0.0", 8443)
    #: What sidecars post to: the collector's Service.
    collector_url: str = DEFAULT_COLLECTOR_URL
    sidecar_image: str = f"kubetune/kubetune:{__version__}"
    #: The operator's own /metrics; None turns it off.
    metrics_address: tuple[str, int] | None = ("0.0.0.0", 8080)
    #: For Studies whose metrics.prometheus names no url.
    prometheus_url: str | None = None
    #: Threads deciding for studies; one study is never decided by two at once.
    study_workers: int = 8
    #: How often every running study is looked over for what no event says (a Job or Trial
    #: deleted while a watch was reconnecting; a start looks at once): a safety net, not how
    #: decisions are made, and 2 API requests per study each time.
    heal_seconds: float = 300.0
    #: The workload kinds trials may run as here (its RBAC must allow each): kinds known by
    #: name, and any other as RESOURCE.VERSION.GROUP; a Study naming another is refused.
    workloads: frozenset[str] = frozenset({"Job", "JobSet", "TrainJob"})
    #: Where every study is logged besides its status (MLflow's MLFLOW_TRACKING_URI, the
    #: chart's mlflow.trackingUri); None: nowhere.
    mlflow_tracking_uri: str | None = None

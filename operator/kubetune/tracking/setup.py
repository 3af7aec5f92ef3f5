"""Tracking for a shell: a sink when the shell has a tracking URI, a `StudyTrack` per study.

MLflow is the one sink: on when MLFLOW_TRACKING_URI is set (MLflow's own variable; the chart
sets it in the operator's pod from `mlflow.trackingUri`, with credentials from a Secret as
MLflow's own MLFLOW_TRACKING_USERNAME/PASSWORD/TOKEN). Its client is an optional extra
(`kubetune[mlflow]`); without it, a set URI is said once and the study runs untracked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

from kubetune.api.study import Study
from kubetune.tracking.diff import StudyTrack, flatten_settings
from kubetune.tracking.records import StudyOpened
from kubetune.tracking.sink import BackgroundSink, Summary

URI_VARIABLE = "MLFLOW_TRACKING_URI"
#: How long `kubetune run` waits at the end for a server that is taking its records (one that
#: is down is not waited for).
CLOSE_SECONDS = 120.0


class TrackingUnavailableError(RuntimeError):
    """A tracking URI is set but the client to use it is not installed."""


def open_sink(environ: Mapping[str, str]) -> BackgroundSink | None:
    """The MLflow sink when the environment names a tracking server; None when it does not."""
    uri = environ.get(URI_VARIABLE)
    if not uri:
        return None
    # MLflow's client prints a link to stdout for each run it ends: from the sink's thread,
    # into `kubetune run --output json` or a notebook's cells. A value the user set wins.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    try:
        from kubetune.tracking.mlflow_writer import MlflowWriter  # noqa: PLC0415
    except ImportError:
        raise TrackingUnavailableError(
            f"{URI_VARIABLE} is set but MLflow's client is not installed: pip install "
            "'kubetune[mlflow]' (mlflow-skinny); the study runs without it"
        ) from None
    return BackgroundSink(MlflowWriter(uri), name="mlflow")


def quiet_client_retries(environ: MutableMapping[str, str] = os.environ) -> None:
    """In kubetune's own processes (`kubetune run`, the operator), MLflow's client retries
    nothing and waits at most 10 s: the sink retries itself, with a backoff that never holds
    a study up. A value the user set wins. (The Tuner runs in the user's process: it leaves
    their settings alone.)"""
    environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


def open_track(
    study: Study, key: str, sink: BackgroundSink, tags: Mapping[str, str] | None = None
) -> StudyTrack:
    spec = study.model_dump(mode="json", by_alias=True, exclude_none=True)["spec"]
    experiment = study.spec.tracking.mlflow.experiment or study.name
    opened = StudyOpened(key, study.name, experiment, 0.0, flatten_settings(spec), dict(tags or {}))
    return StudyTrack(opened, sink.put)


def describe_losses(summary: Summary) -> str | None:
    """One line on what could not be logged, or None when everything was."""
    if not summary.lost:
        return None
    return (
        f"MLflow: {summary.lost} of {summary.lost + summary.written} records could not be "
        f"logged ({summary.reason})"
    )

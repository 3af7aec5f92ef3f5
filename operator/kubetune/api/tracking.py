"""`spec.tracking`: how the study is named where its record is kept besides kubetune's own.

Whether it is kept there is the shell's setting, not the Study's: MLflow's own variable
MLFLOW_TRACKING_URI for `kubetune run` and the Tuner, the chart's `mlflow.trackingUri` for the
operator. A Study only says what differs from the defaults.
"""

from __future__ import annotations

from pydantic import Field

from kubetune.api.base import Model


class MlflowTracking(Model):
    experiment: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        description="The MLflow experiment the study is logged in. Default: the Study's name.",
    )


class Tracking(Model):
    mlflow: MlflowTracking = Field(
        default_factory=MlflowTracking,
        description="The study in MLflow (when the shell has a tracking URI): a parent run, "
        "a nested run per trial.",
    )

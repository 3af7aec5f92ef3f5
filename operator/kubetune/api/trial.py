"""The `Trial` resource (kubetune.io/v1alpha1): one evaluation of one set of params.

Owned by its Study; the operator creates one per engine suggestion and one Job per Trial.
The reported series is bounded (`MAX_REPORTS`) so a chatty trial cannot outgrow etcd's
object size limit; the oldest reports are thinned first, the last one is always kept.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kubetune.api.base import Model, OpenModel
from kubetune.api.parameters import ParamValue
from kubetune.api.study import StopRecord

MAX_REPORTS = 200

TrialPhase = Literal["Pending", "Running", "Succeeded", "Failed", "EarlyStopped", "Killed"]


class TrialSpec(Model):
    study: str = Field(description="The owning Study's name.")
    index: int = Field(ge=0, description="Position in the study (0-based); names are STUDY-INDEX.")
    params: dict[str, ParamValue] = Field(
        description="The suggested hyperparameters.",
        json_schema_extra={"additionalProperties": {"x-kubernetes-preserve-unknown-fields": True}},
    )
    budget: float | None = Field(default=None, description="${trial.budget}, when a rule sets one.")


class ReportPoint(Model):
    step: int | None = None
    metrics: dict[str, float]


class TrialStatus(Model):
    phase: TrialPhase = "Pending"
    reason: str | None = None
    message: str | None = None
    objective: float | None = None
    stop: StopRecord | None = None
    reports: list[ReportPoint] = Field(default_factory=list, max_length=MAX_REPORTS)
    last_seq: int | None = Field(default=None, description="Highest report sequence recorded.")
    job_name: str | None = None
    start_time: str | None = None
    completion_time: str | None = None


class TrialMeta(OpenModel):
    name: str


class Trial(Model):
    api_version: Literal["kubetune.io/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["Trial"]
    metadata: TrialMeta
    spec: TrialSpec
    status: TrialStatus | None = None

"""The `Trial` resource (kubetune.io/v1alpha1): one evaluation of one set of params.

Owned by its Study; the operator creates one per engine suggestion and one Job per Trial.
The reported series is bounded (`MAX_REPORTS`) so a chatty trial cannot outgrow etcd's
object size limit; the oldest reports are thinned first, the last one is always kept.
"""

from __future__ import annotations

import enum
from typing import Literal

from pydantic import Field

from kubetune.api.base import Model, OpenModel
from kubetune.api.parameters import ParamValue
from kubetune.api.study import StopRecord

MAX_REPORTS = 200


class TrialState(enum.StrEnum):
    """A Trial's phase: the one list of them, shared by the engine, both shells and the CRD."""

    PENDING = "Pending"
    #: Its workload waits for Kueue's admission (created suspended; suspended again when
    #: preempted): it holds a parallelism slot but no node.
    QUEUED = "Queued"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    EARLY_STOPPED = "EarlyStopped"
    KILLED = "Killed"

    @property
    def active(self) -> bool:
        """Still holds a slot: its workload may run (or wait to)."""
        return self in (TrialState.PENDING, TrialState.QUEUED, TrialState.RUNNING)

    @property
    def finished(self) -> bool:
        """Terminal: nothing a workload or a report does changes it any more."""
        return not self.active


class TrialLineage(Model):
    """A pbt segment's place (engine.decision.Lineage): kept in the spec, which the operator
    writes once, and shown again in the status for `kubectl get`."""

    member: int = Field(ge=0, description="Which member of the population's line it trains.")
    parent: str | None = Field(
        default=None, description="The trial whose checkpoint it continues; none: from scratch."
    )
    generation: int = Field(ge=0, description="How many segments its line trained before it.")
    changes: dict[str, str] = Field(
        default_factory=dict,
        description="Per parameter: sampled, copied, perturbed or resampled.",
    )


class TrialSpec(Model):
    study: str = Field(description="The owning Study's name.")
    index: int = Field(ge=0, description="Position in the study (0-based); names are STUDY-INDEX.")
    params: dict[str, ParamValue] = Field(
        description="The suggested hyperparameters.",
        json_schema_extra={"additionalProperties": {"x-kubernetes-preserve-unknown-fields": True}},
    )
    budget: float | None = Field(default=None, description="${trial.budget}, when a rule sets one.")
    lineage: TrialLineage | None = Field(
        default=None, description="algorithm pbt: this segment's place in its member's line."
    )
    checkpoints_in_use: list[str] | None = Field(
        default=None,
        description="algorithm pbt: the study's checkpoints a line could still continue from "
        "when this trial was made; its pod deletes the other checkpoints of earlier trials.",
    )


class Violation(Model):
    metric: str
    bound: Literal["max", "min"]
    limit: float
    value: float | None = Field(default=None, description="None: never reported.")


class ReportPoint(Model):
    step: int | None = None
    metrics: dict[str, float]


class TrialStatus(Model):
    phase: TrialState = Field(
        default=TrialState.PENDING,
        description="Pending, Queued, Running, Succeeded, Failed, EarlyStopped or Killed.",
    )
    reason: str | None = None
    message: str | None = None
    objective: float | None = Field(default=None, description="The (first) objective's value.")
    values: dict[str, float] | None = Field(
        default=None, description="Final value of each objective and constraint metric."
    )
    violations: list[Violation] | None = Field(
        default=None,
        description="Constraints it broke (infeasible: never best, never on the front).",
    )
    stop: StopRecord | None = None
    reports: list[ReportPoint] = Field(default_factory=list, max_length=MAX_REPORTS)
    last_seq: int | None = Field(default=None, description="Highest report sequence recorded.")
    pod: str | None = Field(
        default=None, description="The pod whose reports these are (the latest attempt's)."
    )
    earlier_pods: list[str] = Field(
        default_factory=list,
        max_length=101,
        description="Pods of earlier attempts (backoffLimit): their reports were replaced.",
    )
    job_name: str | None = None
    preemptions: int | None = Field(
        default=None,
        ge=0,
        description="Times its workload was preempted or evicted (Kueue) and queued again with "
        "the same params; these count toward neither maxTrials nor maxFailedTrials.",
    )
    start_time: str | None = None
    completion_time: str | None = None
    parent: str | None = Field(
        default=None, description="algorithm pbt: the trial whose checkpoint this one continues."
    )
    member: int | None = Field(default=None, description="algorithm pbt: its member.")
    generation: int | None = Field(default=None, description="algorithm pbt: its generation.")
    changes: dict[str, str] | None = Field(
        default=None,
        description="algorithm pbt: per parameter, copied, perturbed, resampled or sampled.",
    )


class TrialMeta(OpenModel):
    name: str


class Trial(Model):
    api_version: Literal["kubetune.io/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["Trial"]
    metadata: TrialMeta
    spec: TrialSpec
    status: TrialStatus | None = None

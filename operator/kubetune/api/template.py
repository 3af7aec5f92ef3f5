"""The trial's Job template: a batch/v1 Job's metadata and spec, as in a CronJob's jobTemplate.

Only the fields kubetune reads are modelled (containers' command, args, env, image); every other
Job and Pod field passes through untouched, so users can write any Job they already know.
Placeholders `${trial.params.NAME}`, `${trial.name}`, `${trial.budget}`, `${study.name}`
are substituted per trial by `substitute`, the one implementation both shells use.

A conditional parameter the trial lacks (its `when` does not hold) has no value. A list item
that names it (a `--momentum=${trial.params.momentum}` argument, an env var whose value names
it) is left out of its list, so the trainer sees its own default; anywhere else it becomes
an empty string. Write such a flag as one item, `--flag=${...}`: a value on its own item would
leave the flag behind without it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from kubetune.api.base import Model, OpenModel, cel
from kubetune.api.errors import FieldError

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


class EnvVar(OpenModel):
    name: str
    value: str | None = None


class Container(OpenModel):
    name: str = Field(description="Container name; the first container is the trainer.")
    image: str = Field(description="Image the trial runs (ignored by `kubetune run`).")
    command: list[str] | None = None
    args: list[str] | None = None
    env: list[EnvVar] | None = None
    working_dir: str | None = Field(default=None, alias="workingDir")


class PodSpec(OpenModel):
    containers: list[Container] = Field(min_length=1)


class PodTemplate(OpenModel):
    spec: PodSpec


class JobLimits(OpenModel):
    # The two limits `kubetune run` applies itself, as the Job controller does on a cluster.
    active_deadline_seconds: int | None = Field(
        default=None,
        alias="activeDeadlineSeconds",
        ge=1,
        description="A trial running longer than this fails (its first start counts).",
    )
    backoff_limit: int | None = Field(
        default=None,
        alias="backoffLimit",
        ge=0,
        le=100,
        description="Reruns of a failed trainer before its trial fails (kubetune's default: 0).",
    )


class JobSpec(JobLimits):
    template: PodTemplate


class TemplateMetadata(Model):
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class JobTemplate(OpenModel):
    metadata: TemplateMetadata | None = None
    spec: JobSpec


class ReplicatedJob(OpenModel):
    name: str = Field(
        min_length=1,
        max_length=20,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="A name of this group of Jobs (a DNS label).",
    )
    replicas: int = Field(default=1, ge=1, le=1000, description="Jobs made from this template.")
    template: JobTemplate


class WorkloadSpec(JobLimits):
    """A Job's spec, or a JobSet's: the fields kubetune reads of each; the rest pass through.
    Which one is required depends on the template's `kind` (`TrialTemplate._one_kind`)."""

    template: PodTemplate | None = Field(
        default=None, description="The Job's pod template (kind Job)."
    )
    replicated_jobs: list[ReplicatedJob] | None = Field(
        default=None,
        alias="replicatedJobs",
        min_length=1,
        max_length=20,
        description="The JobSet's groups of Jobs (kind JobSet); the first one's first pod "
        "reports the trial's metrics.",
    )


#: The workload kinds a trial runs as: kind -> apiVersion.
WORKLOAD_KINDS = {"Job": "batch/v1", "JobSet": "jobset.x-k8s.io/v1alpha2"}


class TrialTemplate(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.kind) || self.kind == 'Job' ? "
                    "has(self.spec.template) && !has(self.spec.replicatedJobs) : "
                    "has(self.spec.replicatedJobs) && !has(self.spec.template)",
                    "a Job's spec has a pod template (spec.template); a JobSet's has "
                    "spec.replicatedJobs and no spec.template",
                    ".spec",
                ),
                cel(
                    "!has(self.apiVersion) || (has(self.kind) && self.kind == 'JobSet' ? "
                    f"self.apiVersion == '{WORKLOAD_KINDS['JobSet']}' : "
                    f"self.apiVersion == '{WORKLOAD_KINDS['Job']}')",
                    "apiVersion does not match kind: a Job is batch/v1, a JobSet "
                    "jobset.x-k8s.io/v1alpha2",
                    ".apiVersion",
                ),
            ]
        }
    )

    api_version: str | None = Field(
        default=None,
        alias="apiVersion",
        description="batch/v1 (Job, the default) or jobset.x-k8s.io/v1alpha2 (JobSet); it "
        "follows from kind.",
    )
    kind: Literal["Job", "JobSet"] = Field(
        default="Job",
        description="What each trial runs as: a batch/v1 Job (default) or a JobSet "
        "(jobset.x-k8s.io/v1alpha2) for multi-pod, multi-node training.",
    )
    metadata: TemplateMetadata | None = Field(
        default=None, description="Labels and annotations for each trial's Job (or JobSet)."
    )
    spec: WorkloadSpec = Field(
        description="A batch/v1 JobSpec, or a JobSetSpec with kind JobSet. The first "
        "container is the trainer; placeholders ${trial.params.NAME}, ${trial.name}, "
        "${trial.budget}, ${study.name} are substituted."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> TrialTemplate:
        expected = WORKLOAD_KINDS[self.kind]
        if self.api_version is not None and self.api_version != expected:
            raise FieldError("apiVersion", f"a {self.kind} is {expected}, not {self.api_version}")
        if self.kind == "Job" and self.spec.template is None:
            raise FieldError("spec.template", "a Job needs a pod template (spec.template)")
        if self.kind == "Job" and self.spec.replicated_jobs is not None:
            raise FieldError("spec.replicatedJobs", "only a JobSet has them: set kind: JobSet")
        if self.kind == "JobSet" and self.spec.replicated_jobs is None:
            raise FieldError("spec.replicatedJobs", "a JobSet needs at least one replicated job")
        if self.kind == "JobSet" and self.spec.template is not None:
            raise FieldError(
                "spec.template",
                "a JobSet has no pod template of its own; put it in "
                "spec.replicatedJobs[0].template.spec.template",
            )
        return self

    @property
    def labels(self) -> dict[str, str]:
        return (self.metadata.labels if self.metadata else None) or {}

    @property
    def trainer_job(self) -> JobSpec | WorkloadSpec:
        """The Job spec the trainer runs in: the Job itself, or a JobSet's first replicated
        Job (whose first pod reports; locally, the one process of the trial)."""
        if self.spec.replicated_jobs:
            return self.spec.replicated_jobs[0].template.spec
        return self.spec

    @property
    def trainer(self) -> Container:
        pod = self.trainer_job.template
        assert pod is not None  # _one_kind
        return pod.spec.containers[0]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def find_placeholders(template: TrialTemplate) -> list[str]:
    """Every `${...}` expression in the template's strings, in order of appearance. Raises
    ValueError for a `${` never closed within its string (so no message quotes a span that
    runs across fields)."""
    found: list[str] = []
    for text in _strings(template.model_dump(mode="json", by_alias=True, exclude_none=True)):
        found += PLACEHOLDER.findall(text)
        if "${" in PLACEHOLDER.sub("", text):
            raise ValueError(
                f"{text!r} opens a placeholder with ${{ and never closes it; "
                "write e.g. ${trial.params.NAME}"
            )
    return found


#: A placeholder's value: its text, or None for a parameter the trial lacks.
Values = Mapping[str, str | None]


def render_placeholders(text: str, values: Values) -> str:
    """Substitute `${key}`; unknown keys are left as written (validation refused them earlier)."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        return (values[key] or "") if key in values else match.group(0)

    return PLACEHOLDER.sub(value, text)


def substitute(node: Any, values: Values) -> Any:
    """`node` (a template, or any part of one) with placeholders substituted; list items that
    name a parameter the trial lacks are left out (the module's docstring says why)."""
    if isinstance(node, str):
        return render_placeholders(node, values)
    if isinstance(node, list):
        return [substitute(item, values) for item in node if not _names_lacking(item, values)]
    if isinstance(node, dict):
        return {key: substitute(item, values) for key, item in node.items()}
    return node


def _names_lacking(item: Any, values: Values) -> bool:
    if isinstance(item, dict):  # an env var: {name, value}
        item = item.get("value")
    if not isinstance(item, str):
        return False
    return any(key in values and values[key] is None for key in PLACEHOLDER.findall(item))


def placeholder_values(
    study: str,
    trial: str,
    params: Mapping[str, Any],
    budget: float | None,
    names: Sequence[str] = (),
) -> dict[str, str | None]:
    """The substitution table of one trial; numbers print the way a CLI flag expects them.
    `names`: every parameter of the study; those missing from `params` map to None."""
    values: dict[str, str | None] = {"study.name": study, "trial.name": trial}
    values["trial.budget"] = "" if budget is None else _render_number(budget)
    for name in names:
        values[f"trial.params.{name}"] = None
    for name, value in params.items():
        values[f"trial.params.{name}"] = (
            _render_number(value) if not isinstance(value, str) else value
        )
    return values


def _render_number(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)

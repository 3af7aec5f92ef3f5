"""The trial's workload template: a batch/v1 Job's metadata and spec, as in a CronJob's
jobTemplate, or a JobSet's, a TrainJob's, or any kind's with conditions (`workload`).

Only the fields kubetune reads are modelled (containers' command, args, env, image); every other
field passes through untouched, so users can write any workload they already know.
Placeholders `${trial.params.NAME}`, `${trial.name}`, `${trial.budget}`, `${study.name}`
(and `${trial.tensorboardDir}`, `${trial.metricsFile}`, see `trainer_env`) are substituted
per trial by `substitute`, the one implementation both shells use.

A conditional parameter the trial lacks (its `when` does not hold) has no value. A list item
that names it (a `--momentum=${trial.params.momentum}` argument, an env var whose value names
it) is left out of its list, so the trainer sees its own default; anywhere else it becomes
an empty string. Write such a flag as one item, `--flag=${...}`: a value on its own item would
leave the flag behind without it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

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


class RuntimeRef(OpenModel):
    name: str = Field(
        min_length=1, description="The (Cluster)TrainingRuntime each trial's TrainJob runs."
    )


class TrainJobTrainer(OpenModel):
    """A TrainJob's `spec.trainer`: what runs on every node, over the runtime's `node`."""

    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    env: list[EnvVar] | None = None
    num_nodes: int | None = Field(
        default=None, alias="numNodes", ge=1, le=1000, description="Nodes (pods) of a trial."
    )


class WorkloadSpec(JobLimits):
    """A Job's spec, a JobSet's, a TrainJob's, or another kind's: the fields kubetune reads of
    each; the rest pass through. Which ones are required depends on the template's `kind`
    (`TrialTemplate._one_kind`)."""

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
    runtime_ref: RuntimeRef | None = Field(
        default=None, alias="runtimeRef", description="The TrainJob's runtime (kind TrainJob)."
    )
    trainer: TrainJobTrainer | None = Field(
        default=None,
        description="The TrainJob's trainer (kind TrainJob): image, command, "
        "args, env, numNodes; the node of rank 0 reports.",
    )


#: The workload kinds kubetune knows by name: kind -> apiVersion. Any other kind is run by
#: the conditions its template names (`trialTemplate.workload`).
WORKLOAD_KINDS = {
    "Job": "batch/v1",
    "JobSet": "jobset.x-k8s.io/v1alpha2",
    "TrainJob": "trainer.kubeflow.org/v1alpha1",
}
#: Their resources (plurals), as RBAC and the API's paths name them.
PLURALS = {"Job": "jobs", "JobSet": "jobsets", "TrainJob": "trainjobs"}
#: The fields of `spec` that say which built-in kind a template is.
_KIND_FIELDS = {"Job": "template", "JobSet": "replicatedJobs", "TrainJob": "runtimeRef"}
_PATH = r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_-]+)*$"


class ConditionsWorkload(Model):
    """How kubetune runs a kind it does not know by name (a PyTorchJob, an MPIJob, your own):
    the conditions on its status that end a trial, and where its pods are templated."""

    resource: str | None = Field(
        default=None,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="Its resource (plural) name, as in RBAC; default: the kind in lower case "
        "with an s (pytorchjobs).",
    )
    succeeded: list[str] = Field(
        default_factory=lambda: ["Succeeded"],
        min_length=1,
        max_length=8,
        description="Condition types that, with status True, mean the trial succeeded.",
    )
    failed: list[str] = Field(
        default_factory=lambda: ["Failed"],
        min_length=1,
        max_length=8,
        description="Condition types that, with status True, mean the trial failed (with the "
        "condition's reason and message).",
    )
    pod_templates: list[str] = Field(
        alias="podTemplates",
        min_length=1,
        max_length=20,
        description="Where its pod templates are, as dotted paths from the template's root "
        "(spec.pytorchReplicaSpecs.Master.template): every pod made from them is labelled, "
        "gets the GPU shortcut, and is watched; the pods of the first run the metrics sidecar "
        "and must be one (a Master, a launcher).",
    )

    @model_validator(mode="after")
    def _paths(self) -> ConditionsWorkload:
        for index, path in enumerate(self.pod_templates):
            if not re.match(_PATH, path):
                raise FieldError(
                    f"podTemplates[{index}]",
                    f"{path!r} is not a dotted path like spec.pytorchReplicaSpecs.Master.template",
                )
        both = set(self.succeeded) & set(self.failed)
        if both:
            raise FieldError("failed", f"{sorted(both)} also listed as succeeded")
        return self


def _rule(kind: str) -> str:
    """CEL: the template is a `kind` (by its kind, or Job by default) only with its own field."""
    is_kind = f"self.kind == '{kind}'"
    if kind == "Job":
        is_kind = "(!has(self.kind) || self.kind == 'Job')"
    others = " && ".join(f"!has(self.spec.{f})" for k, f in _KIND_FIELDS.items() if k != kind)
    own = f"has(self.spec.{_KIND_FIELDS[kind]})"
    return f"!({is_kind}) || ({own} && {others} && !has(self.workload))"


_KIND_MESSAGES = {
    "Job": "a Job's spec has a pod template (spec.template) and no replicatedJobs, runtimeRef "
    "or workload",
    "JobSet": "a JobSet's spec has spec.replicatedJobs and no spec.template, runtimeRef or "
    "workload",
    "TrainJob": "a TrainJob's spec has spec.runtimeRef (and spec.trainer) and no spec.template, "
    "replicatedJobs or workload",
}
_BUILT_IN = "[" + ", ".join(f"'{k}'" for k in WORKLOAD_KINDS) + "]"


class TrialTemplate(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                *(cel(_rule(kind), message, ".spec") for kind, message in _KIND_MESSAGES.items()),
                cel(
                    f"!has(self.kind) || self.kind in {_BUILT_IN} || "
                    "(has(self.workload) && has(self.apiVersion))",
                    "a kind kubetune does not know by name (not Job, JobSet or TrainJob) needs "
                    "its apiVersion and a workload block (succeeded, failed, podTemplates)",
                    ".workload",
                ),
                cel(
                    "!has(self.apiVersion) || !has(self.kind) || !(self.kind in "
                    f"{_BUILT_IN}) || "
                    + " || ".join(
                        f"(self.kind == '{k}' && self.apiVersion == '{v}')"
                        for k, v in WORKLOAD_KINDS.items()
                    ),
                    "apiVersion does not match kind: a Job is batch/v1, a JobSet "
                    "jobset.x-k8s.io/v1alpha2, a TrainJob trainer.kubeflow.org/v1alpha1",
                    ".apiVersion",
                ),
                cel(
                    "has(self.kind) || !has(self.apiVersion) || self.apiVersion == 'batch/v1'",
                    "apiVersion does not match kind: a Job is batch/v1, a JobSet "
                    "jobset.x-k8s.io/v1alpha2, a TrainJob trainer.kubeflow.org/v1alpha1",
                    ".apiVersion",
                ),
            ]
        }
    )

    api_version: str | None = Field(
        default=None,
        alias="apiVersion",
        max_length=253,
        pattern=r"^([a-z0-9.-]+/)?v[0-9a-z]+$",
        description="batch/v1 (Job, the default), jobset.x-k8s.io/v1alpha2 (JobSet), "
        "trainer.kubeflow.org/v1alpha1 (TrainJob): it follows from kind. Required for any "
        "other kind.",
    )
    kind: str = Field(
        default="Job",
        max_length=63,
        pattern=r"^[A-Z][A-Za-z0-9]*$",
        description="What each trial runs as: a batch/v1 Job (default), a JobSet for multi-pod, "
        "multi-node training, a Kubeflow TrainJob, or any kind described by `workload`.",
    )
    metadata: TemplateMetadata | None = Field(
        default=None, description="Labels and annotations for each trial's workload."
    )
    workload: ConditionsWorkload | None = Field(
        default=None,
        description="For a kind not known by name: its conditions of success and failure and "
        "where its pods are templated.",
    )
    spec: WorkloadSpec = Field(
        description="A batch/v1 JobSpec, a JobSetSpec, a TrainJobSpec, or the kind's own spec. "
        "The first container is the trainer; placeholders ${trial.params.NAME}, "
        "${trial.name}, ${trial.budget}, ${study.name} are substituted."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> TrialTemplate:
        expected = WORKLOAD_KINDS.get(self.kind)
        if expected is None:
            return self._conditions_kind()
        if self.api_version is not None and self.api_version != expected:
            raise FieldError("apiVersion", f"a {self.kind} is {expected}, not {self.api_version}")
        if self.workload is not None:
            raise FieldError(
                "workload", f"only for kinds not known by name; a {self.kind} is run as one"
            )
        own = _KIND_FIELDS[self.kind]
        dumped = self.spec.model_dump(by_alias=True, exclude_none=True)
        if own not in dumped:
            needs = {
                "Job": "a pod template (spec.template)",
                "JobSet": "at least one replicated job (spec.replicatedJobs)",
                "TrainJob": "a runtime (spec.runtimeRef.name)",
            }[self.kind]
            raise FieldError(f"spec.{own}", f"a {self.kind} needs {needs}")
        for kind, field in _KIND_FIELDS.items():
            if kind != self.kind and field in dumped:
                raise FieldError(f"spec.{field}", f"only a {kind} has it: set kind: {kind}")
        return self

    def _conditions_kind(self) -> TrialTemplate:
        if self.api_version is None or self.workload is None:
            raise FieldError(
                "workload" if self.api_version else "apiVersion",
                f"kubetune does not know a {self.kind} by name: give its apiVersion and a "
                "workload block (succeeded, failed, podTemplates)",
            )
        document = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        for index, path in enumerate(self.workload.pod_templates):
            found = resolve(document, path)
            containers = (found.get("spec") or {}).get("containers") if found else None
            if not isinstance(containers, list) or not containers:
                raise FieldError(
                    f"workload.podTemplates[{index}]",
                    f"no pod template with containers at {path} of the template",
                )
            PodTemplate.model_validate(found)
        return self

    @property
    def labels(self) -> dict[str, str]:
        return (self.metadata.labels if self.metadata else None) or {}

    @property
    def resource(self) -> tuple[str, str]:
        """(apiVersion, plural) of each trial's workload: where the API serves it."""
        if self.kind in WORKLOAD_KINDS:
            return WORKLOAD_KINDS[self.kind], PLURALS[self.kind]
        assert self.api_version is not None and self.workload is not None  # _one_kind
        return self.api_version, self.workload.resource or self.kind.lower() + "s"

    @property
    def enabled_as(self) -> str:
        """How an operator's --workloads names this kind: a built-in kind by name, any other
        as RESOURCE.VERSION.GROUP (pytorchjobs.v1.kubeflow.org), as kubectl does."""
        if self.kind in WORKLOAD_KINDS:
            return self.kind
        api_version, plural = self.resource
        group, _, version = api_version.rpartition("/")
        return f"{plural}.{version}.{group}" if group else f"{plural}.{version}"

    @property
    def trainer_job(self) -> JobLimits:
        """The limits the trainer runs under: the Job itself, a JobSet's first replicated
        Job (whose first pod reports; locally, the one process of the trial), or the
        workload's own spec (a TrainJob's activeDeadlineSeconds)."""
        if self.spec.replicated_jobs:
            return self.spec.replicated_jobs[0].template.spec
        return self.spec

    @property
    def trainer(self) -> Container:
        """The container that reports: the first of the reporting pod (for a TrainJob, its
        trainer, as the runtime's `node` container)."""
        if self.spec.trainer is not None:
            t = self.spec.trainer
            return Container(
                name="node", image=t.image or "", command=t.command, args=t.args, env=t.env
            )
        if self.workload is not None:
            document = self.model_dump(mode="json", by_alias=True, exclude_none=True)
            first = PodTemplate.model_validate(resolve(document, self.workload.pod_templates[0]))
            return first.spec.containers[0]
        job = self.trainer_job
        assert isinstance(job, JobSpec | WorkloadSpec)
        pod = job.template
        assert pod is not None  # _one_kind
        return pod.spec.containers[0]


def resolve(document: Any, path: str) -> Any:
    """The value at a dotted path in a JSON-like document (a list index is a number), or None."""
    node = document
    for key in path.split("."):
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    return node


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
    places: Mapping[str, str] | None = None,
) -> dict[str, str | None]:
    """The substitution table of one trial; numbers print the way a CLI flag expects them.
    `names`: every parameter of the study; those missing from `params` map to None.
    `places`: where this shell puts the trial's event files and metrics file
    (`trainer_env.place_values`)."""
    values: dict[str, str | None] = {"study.name": study, "trial.name": trial, **(places or {})}
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

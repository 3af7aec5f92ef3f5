"""The `Study` resource (kubetune.io/v1alpha1): what a user writes, and the status kubetune keeps.

`load_study` is the door for every shell: it turns a parsed manifest into a validated `Study`
or raises `InvalidStudyError` listing each problem as `spec.path: what is wrong and what is valid`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from kubetune.api.algorithms import SAMPLERS, STOPPING_RULES, Algorithm, EarlyStopping
from kubetune.api.base import Model, OpenModel, cel
from kubetune.api.checkpoints import Checkpoints
from kubetune.api.errors import FieldError, InvalidStudyError, render_problems
from kubetune.api.goals import GOAL_RULES, Constraint, Objective, check_goals
from kubetune.api.parameters import Parameter, ParamValue, check_conditions
from kubetune.api.sources import MetricsSource
from kubetune.api.template import TrialTemplate, find_placeholders
from kubetune.api.tracking import Tracking
from kubetune.api.trainer_env import (
    CHECKPOINT_PLACEHOLDERS,
    PLACE_PLACEHOLDERS,
    place_placeholder_problem,
)
from kubetune.api.warm_start import WarmStart, check_warm_trials

GROUP = "kubetune.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
DURATION_PATTERN = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
STUDY_NAME_MAX = 50  # leaves room for "-NNNNN" trial suffixes inside a 63-character label
#: Kueue's label naming the LocalQueue a workload waits in.
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"


class Budget(Model):
    max_trials: int = Field(
        default=20, ge=1, le=100_000, description="Trials to run in all. Default 20."
    )
    parallelism: int = Field(
        default=1, ge=1, le=10_000, description="Trials running at once. Default 1."
    )
    max_failed_trials: int = Field(
        default=3,
        ge=0,
        description="The study fails once more than this many trials failed. Default 3.",
    )
    timeout: str | None = Field(
        default=None,
        pattern=DURATION_PATTERN,
        min_length=2,
        description="Stop the study after this long, e.g. 90s, 30m, 2h, 1h30m (more than "
        "zero). Optional.",
        json_schema_extra={
            "x-kubernetes-validations": [
                cel("self.matches('[1-9]')", "must be longer than zero, e.g. 90s or 2h")
            ]
        },
    )

    @field_validator("timeout")
    @classmethod
    def _longer_than_zero(cls, timeout: str | None) -> str | None:
        if timeout is not None and not re.search("[1-9]", timeout):
            raise ValueError("must be longer than zero, e.g. 90s or 2h")
        return timeout

    @property
    def timeout_seconds(self) -> float | None:
        if not self.timeout:
            return None
        match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", self.timeout)
        assert match is not None
        hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
        return float(hours * 3600 + minutes * 60 + seconds)


class Resources(Model):
    gpus: int = Field(
        default=0, ge=0, le=64, description="GPUs per trial (nvidia.com/gpu). Default 0."
    )
    gpu_type: str | None = Field(
        default=None,
        description="GPU product (node label nvidia.com/gpu.product) trials must land on.",
    )


_IMMUTABLE = (
    "objective",
    "objectives",
    "constraints",
    "parameters",
    "algorithm",
    "earlyStopping",
    "warmStart",
)
_COMMAND_NEEDED = (
    "trialTemplate.spec.template.spec.containers[0].command is required: kubetune runs the "
    "trainer's command under a wrapper that reads what it reports, and an image's entrypoint "
    "cannot be known from the manifest. Set it (e.g. [python, train.py]), or read metrics "
    "from Prometheus (spec.metrics.prometheus)"
)
_SPEC_RULES: list[Any] = [
    *(
        cel(
            f"self.{field} == oldSelf.{field}"
            if field == "parameters"
            else f"has(self.{field}) == has(oldSelf.{field}) && "
            f"(!has(self.{field}) || self.{field} == oldSelf.{field})",
            f"spec.{field} cannot change once the Study exists: its trials were chosen for the "
            "old one. Create a new Study (budget, parallelism and the template may change)",
            f".{field}",
        )
        for field in _IMMUTABLE
    ),
    cel(
        "self.parameters.all(p, self.parameters.exists_one(q, q.name == p.name))",
        "parameter names must be unique",
        ".parameters",
    ),
    *GOAL_RULES,
    *SAMPLERS.spec_rules,
    *STOPPING_RULES.spec_rules,
    # Conditional parameters (`when`), as far as the API server's cost budget allows: whether
    # the parent is declared earlier (2-cycles aside) and whether a categorical parent has the
    # listed values are checked by `check_conditions` only (in `kubetune validate`, and by the
    # operator, which refuses the Study naming the field).
    cel(
        "self.parameters.all(p, !has(p.when) || (!(p.name in p.when) && "
        "self.parameters.exists(q, q.name in p.when)))",
        "when must name another parameter of this study, declared before the conditional one",
        ".parameters",
    ),
    cel(
        "self.parameters.all(p, !has(p.when) || self.parameters.all(q, !(q.name in p.when) || "
        "!has(q.when) || !(p.name in q.when)))",
        "two parameters cannot each be conditional on the other",
        ".parameters",
    ),
    cel(
        "self.parameters.all(p, !has(p.when) || "
        "self.parameters.all(q, !(q.name in p.when) || q.type != 'float'))",
        "when reads categorical or int parameters, not float",
        ".parameters",
    ),
    cel(
        "self.parameters.all(p, !has(p.when) || self.parameters.all(q, "
        "!(q.name in p.when) || q.type != 'int' || p.when[q.name].all(v, "
        "type(v) == int && double(v) >= q.min && double(v) <= q.max)))",
        "when lists a value its int parameter never takes (whole numbers from min to max)",
        ".parameters",
    ),
    cel(
        "!has(self.earlyStopping) || !has(self.earlyStopping.settings) || "
        "!has(self.earlyStopping.settings.budgetParameter) || self.parameters.all(p, "
        "!has(p.when) || (p.name != self.earlyStopping.settings.budgetParameter && "
        "!(self.earlyStopping.settings.budgetParameter in p.when)))",
        "the budgetParameter is fixed by the stopping rule: it can neither be conditional "
        "nor appear in a when",
        ".parameters",
    ),
    cel(
        "!has(self.checkpoints) || (has(self.algorithm) && has(self.algorithm.name) && "
        "self.algorithm.name == 'pbt')",
        "applies only to algorithm pbt (population-based training)",
        ".checkpoints",
    ),
    cel(
        "!has(self.queueName) || !has(self.trialTemplate.metadata) || "
        "!has(self.trialTemplate.metadata.labels) || "
        f"!('{QUEUE_LABEL}' in self.trialTemplate.metadata.labels) || "
        f"self.trialTemplate.metadata.labels['{QUEUE_LABEL}'] == self.queueName",
        f"queueName and trialTemplate.metadata.labels[{QUEUE_LABEL}] name different queues: "
        "name the LocalQueue in one place",
        ".queueName",
    ),
    cel(
        "(has(self.metrics) && has(self.metrics.prometheus)) || "
        "(has(self.trialTemplate.spec.template) && "
        "has(self.trialTemplate.spec.template.spec.containers[0].command) && "
        "size(self.trialTemplate.spec.template.spec.containers[0].command) > 0) || "
        "(has(self.trialTemplate.spec.replicatedJobs) && has(self.trialTemplate.spec."
        "replicatedJobs[0].template.spec.template.spec.containers[0].command) && size(self."
        "trialTemplate.spec.replicatedJobs[0].template.spec.template.spec.containers[0]"
        ".command) > 0) || "
        "(has(self.trialTemplate.spec.trainer) && has(self.trialTemplate.spec.trainer.command) "
        "&& size(self.trialTemplate.spec.trainer.command) > 0) || has(self.trialTemplate.workload)",
        _COMMAND_NEEDED,
        ".trialTemplate",
    ),
]


def _command_field(template: TrialTemplate) -> str:
    """Where the trainer's command goes in this kind of template, for the error naming it."""
    if template.kind == "TrainJob":
        return "trialTemplate.spec.trainer.command"
    if template.workload is not None:
        return f"trialTemplate.{template.workload.pod_templates[0]}.spec.containers[0].command"
    if template.kind == "JobSet":
        return (
            "trialTemplate.spec.replicatedJobs[0].template.spec.template.spec.containers[0].command"
        )
    return "trialTemplate.spec.template.spec.containers[0].command"


class StudySpec(Model):
    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": _SPEC_RULES})

    objective: Objective | None = Field(
        default=None, description="The one metric to optimise (or use objectives)."
    )
    objectives: list[Objective] | None = Field(
        default=None,
        min_length=2,
        max_length=4,
        description="2 to 4 metrics to optimise together: the result is a Pareto front. "
        "A target on each ends the study once one feasible trial reaches every target set.",
    )
    constraints: list[Constraint] = Field(
        default_factory=list,
        max_length=8,
        description="Metrics a trial must keep within max and/or min to count (feasible).",
    )
    parameters: list[Parameter] = Field(min_length=1, max_length=100)
    algorithm: Algorithm = Field(
        default_factory=SAMPLERS.default_model(), description=SAMPLERS.purpose
    )
    early_stopping: EarlyStopping = Field(
        default_factory=STOPPING_RULES.default_model(), description=STOPPING_RULES.purpose
    )
    budget: Budget = Field(default_factory=Budget)
    metrics: MetricsSource = Field(default_factory=MetricsSource)
    resources: Resources = Field(default_factory=Resources)
    queue_name: str | None = Field(
        default=None,
        alias="queueName",
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="A Kueue LocalQueue in the Study's namespace: each trial's workload is "
        "created suspended with the label kueue.x-k8s.io/queue-name and runs once Kueue admits "
        "it (the trial is Queued until then). The same label in trialTemplate.metadata works "
        "too. Optional.",
    )
    warm_start: WarmStart = Field(
        default_factory=WarmStart,
        description="Trials to run first and earlier studies to learn from; neither counts "
        "toward the budget. Optional.",
    )
    checkpoints: Checkpoints | None = Field(
        default=None,
        description="algorithm pbt on a cluster: the volume each trial's checkpoint folder "
        "lives on. Locally the folders go under the study's results folder.",
    )
    tracking: Tracking = Field(
        default_factory=Tracking,
        description="Where the study is logged besides kubetune's own record (MLflow's "
        "experiment name). Optional.",
    )
    trial_template: TrialTemplate

    @model_validator(mode="after")
    def _check_cross_fields(self) -> StudySpec:
        if self.metrics.prometheus is None and not self.trial_template.trainer.command:
            raise FieldError(
                _command_field(self.trial_template),
                "required unless metrics come from Prometheus: "
                + _COMMAND_NEEDED.split(": ", 1)[1],
            )
        names = [p.name for p in self.parameters]
        for index, name in enumerate(names):
            if name in names[:index]:
                raise FieldError(f"parameters[{index}].name", f"duplicate parameter name {name!r}")
        check_goals(self.objective, self.objectives, self.constraints)
        if self.metrics.prometheus is not None and (self.multi_objective or self.constraints):
            raise FieldError(
                "metrics.prometheus",
                "reads one metric (the objective): several objectives or constraints need the "
                "trial's own reports; remove metrics.prometheus",
            )
        self.algorithm.check_parameters(self.parameters)
        self.algorithm.check_spec(self)
        self.early_stopping.check_parameters(self.parameters)
        if self.checkpoints is not None and not self.algorithm.segmented:
            raise FieldError(
                "checkpoints", "applies only to algorithm pbt (population-based training)"
            )
        check_conditions(self.parameters, self.budget_parameter)
        check_warm_trials(self.warm_start, self.parameters, self.budget_parameter)
        self._check_placeholders(names)
        self._check_tags()
        self._check_queue()
        return self

    @property
    def goals(self) -> list[Objective]:
        """Every objective in order: `objective` alone, or the `objectives` list."""
        if self.objectives is not None:
            return list(self.objectives)
        assert self.objective is not None, "validated: one of objective and objectives is set"
        return [self.objective]

    @property
    def primary(self) -> Objective:
        """The first objective: what single-number views (progress, Best column) show."""
        return self.goals[0]

    @property
    def multi_objective(self) -> bool:
        return len(self.goals) > 1

    @property
    def tracked_metrics(self) -> tuple[str, ...]:
        """Every metric a trial's reports are kept for: objectives, constraints, the rest."""
        names: list[str] = [o.metric for o in self.goals]
        names += [c.metric for c in self.constraints]
        for goal in self.goals:
            names += goal.additional_metrics
        return tuple(dict.fromkeys(names))

    def _check_tags(self) -> None:
        tensorboard = self.metrics.tensorboard
        for metric in tensorboard.tags if tensorboard is not None else ():
            if metric not in self.tracked_metrics:
                raise FieldError(
                    f"metrics.tensorboard.tags.{metric}",
                    "names no metric of this study; tags map a metric (an objective, a "
                    "constraint or an additional metric) to the tag it is written under: "
                    + ", ".join(self.tracked_metrics),
                )

    def _check_queue(self) -> None:
        labelled = self.trial_template.labels.get(QUEUE_LABEL)
        if labelled is not None and self.queue_name is not None and labelled != self.queue_name:
            raise FieldError(
                "queueName",
                f"{self.queue_name!r} but trialTemplate.metadata.labels[{QUEUE_LABEL}] says "
                f"{labelled!r}: name the LocalQueue in one place",
            )

    @property
    def queue(self) -> str | None:
        """The Kueue LocalQueue trials wait in, from either place a user may name it."""
        return self.queue_name or self.trial_template.labels.get(QUEUE_LABEL) or None

    def _check_placeholders(self, names: list[str]) -> None:
        known = {"trial.name", "trial.budget", "study.name"} | {f"trial.params.{n}" for n in names}
        known |= set(PLACE_PLACEHOLDERS)
        if self.algorithm.segmented:
            known |= set(CHECKPOINT_PLACEHOLDERS)
        try:
            expressions = find_placeholders(self.trial_template)
        except ValueError as error:
            raise FieldError("trialTemplate", str(error)) from None
        for expression in expressions:
            if expression in CHECKPOINT_PLACEHOLDERS and not self.algorithm.segmented:
                raise FieldError(
                    "trialTemplate",
                    f"${{{expression}}} is a checkpoint folder, which only algorithm pbt "
                    "gives its trials; drop it",
                )
            if (
                expression == "trial.budget"
                and self.max_budget is None
                and not self.algorithm.segmented
            ):
                raise FieldError(
                    "trialTemplate",
                    "${trial.budget} is each trial's budget under earlyStopping asha or "
                    "hyperband (or the step a pbt segment ends at); with neither it would be "
                    "empty: set one, or pass a fixed value",
                )
            problem = place_placeholder_problem(self.metrics, expression)
            if problem is not None:
                raise FieldError("trialTemplate", problem)
            if expression not in known:
                raise FieldError(
                    "trialTemplate",
                    f"unknown placeholder ${{{expression}}}; known: "
                    + ", ".join(f"${{{k}}}" for k in sorted(known)),
                )

    @property
    def budget_parameter(self) -> str | None:
        return self.early_stopping.budget_parameter

    @property
    def max_budget(self) -> float | None:
        return self.early_stopping.max_budget


class ObjectMeta(OpenModel):
    name: str = Field(pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$", max_length=STUDY_NAME_MAX)
    namespace: str | None = None


# ----- status: written by the shells, read by users -----------------------------------------


class Condition(Model):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    last_transition_time: str | None = None


class TrialCounts(Model):
    total: int = 0
    pending: int = 0
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    early_stopped: int = 0
    killed: int = 0


class BestTrial(Model):
    name: str
    params: dict[str, ParamValue]
    objective: float
    metric: str | None = Field(
        default=None,
        description="The metric `objective` is a value of (the first objective's, when there "
        "are several).",
    )


class AlgorithmInUse(Model):
    name: str = Field(description="The sampler suggesting this study's trials.")
    reason: str = Field(description="Why: named in the spec, or what `auto` weighed.")


class FrontTrial(Model):
    name: str
    params: dict[str, ParamValue]
    objectives: dict[str, float]


class WarmStartSource(Model):
    study: str
    used: int = Field(description="Its finished trials this study learns from.")
    skipped: int = Field(description="Its finished trials that do not fit this study.")
    first_skipped: str | None = Field(default=None, description="Why the first was skipped.")


class StopRecord(Model):
    trial: str
    step: int
    value: float
    rule: str
    threshold: float
    reason: str


#: Early stops listed in a Study's status at most (about 250 bytes each).
EARLY_STOPS_SHOWN = 500

StudyPhase = Literal["Created", "Running", "Succeeded", "Failed"]
STUDY_PHASES: tuple[StudyPhase, ...] = ("Created", "Running", "Succeeded", "Failed")
#: A Study in one of these is over: nothing runs until its spec changes.
FINISHED_STUDY_PHASES: tuple[StudyPhase, ...] = ("Succeeded", "Failed")


class StudyStatus(Model):
    phase: StudyPhase = "Created"
    conditions: list[Condition] = Field(default_factory=list)
    trials: TrialCounts = Field(default_factory=TrialCounts)
    best_trial: BestTrial | None = Field(
        default=None,
        description="The best feasible trial (by the first objective, when there are several).",
    )
    pareto_front: list[FrontTrial] = Field(
        default_factory=list,
        max_length=50,
        description="Several objectives: the feasible trials no other dominates (at most 50, "
        "the most crowded dropped first).",
    )
    pareto_front_size: int | None = None
    algorithm: AlgorithmInUse | None = None
    next_suggestions: list[dict[str, ParamValue]] = Field(default_factory=list)
    early_stopped: list[StopRecord] = Field(
        default_factory=list,
        max_length=EARLY_STOPS_SHOWN,
        description="The early stops of the highest-numbered 500 trials stopped, in index order, "
        "each with its rule, step, value, threshold and reason (every stopped Trial keeps its "
        "own in status.stop; trials.earlyStopped counts them all). Bounded so that a study of "
        "thousands of stopped trials stays within the API server's object size.",
    )
    warm_start: list[WarmStartSource] = Field(
        default_factory=list, description="What each earlier study of spec.warmStart gave."
    )
    progress: str | None = Field(default=None, description="Trials finished / maxTrials.")
    finished_because: str | None = None
    observed_generation: int | None = None
    next_trial_index: int | None = Field(
        default=None,
        description="The index the next trial gets: one past every trial ever created. "
        "Trial names (STUDY-INDEX) are never reused, even after a trial is deleted.",
    )
    start_time: str | None = None
    completion_time: str | None = None


class Study(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    f"size(self.metadata.name) <= {STUDY_NAME_MAX}",
                    f"metadata.name must be at most {STUDY_NAME_MAX} characters "
                    "(trial and Job names add a suffix)",
                ),
                cel(
                    "!has(self.spec.warmStart) || !has(self.spec.warmStart.studies) || "
                    "!(self.metadata.name in self.spec.warmStart.studies)",
                    "spec.warmStart.studies: a study cannot learn from itself; name an "
                    "earlier study",
                ),
            ]
        }
    )

    api_version: Literal["kubetune.io/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["Study"]
    metadata: ObjectMeta
    spec: StudySpec
    status: StudyStatus | None = None

    @model_validator(mode="after")
    def _check_not_own_warm_start(self) -> Study:
        studies = self.spec.warm_start.studies
        if self.metadata.name in studies:
            raise FieldError(
                f"spec.warmStart.studies[{studies.index(self.metadata.name)}]",
                "a study cannot learn from itself; name an earlier study",
            )
        return self

    @property
    def name(self) -> str:
        return self.metadata.name


def load_study(manifest: Any) -> Study:
    """Validate a parsed manifest; every problem comes back as `path: what would be valid`."""
    if not isinstance(manifest, dict):
        raise InvalidStudyError(
            [f"(top level): expected a Study mapping, got {type(manifest).__name__}"]
        )
    try:
        return Study.model_validate(manifest)
    except ValidationError as error:
        raise InvalidStudyError(render_problems(error)) from None

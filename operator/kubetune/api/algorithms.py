"""`spec.algorithm` and `spec.earlyStopping`: one model per algorithm, picked by `name`.

Each field is a union discriminated on `name` (left out: the registry's default), so a
Study holds a `GridAlgorithm` or an `AshaStopping` whose `settings` are already that
algorithm's typed settings, and each algorithm answers for itself what the rest of kubetune
asks of it (does it accept this search space? which parameter does it pin, to what budget?)
instead of the Study asking which algorithm it holds.

Adding an algorithm means a settings model (api/settings.py), one model here with its
`name` literal, one `Registered` line, and an engine module with its factory. The rest is
derived from the registries: the names a Study accepts (and the CRD's enum), the CRD's
`settings` object (api/crd.py), the error for an unknown name, and the engine's factories.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Literal, TypeVar, Union, cast

from pydantic import Discriminator, Field, Tag

from kubetune.api.base import Model, cel
from kubetune.api.errors import UNKNOWN_NAME, FieldError, union_tag
from kubetune.api.parameters import Parameter
from kubetune.api.settings import (
    AshaSettings,
    AutoSettings,
    BayesianSettings,
    GridSettings,
    HyperbandSettings,
    MedianSettings,
    NoStoppingSettings,
    PbtSettings,
    RandomSettings,
    RungSettings,
    SobolSettings,
    TpeSettings,
)

if TYPE_CHECKING:
    from kubetune.api.study import StudySpec

M = TypeVar("M", bound=Model)
C = TypeVar("C", bound="Chosen")
Rule = dict[str, str]


class Chosen(Model):
    """What a sampler and a stopping rule share: a `name` and that name's settings.

    `check_parameters` and `spec_rules` are the two copies of one check (pydantic's for
    `kubetune run` and `validate`, CEL for the API server); both blame fields by their path
    from `spec`, since what they check is the spec's search space.
    """

    name: str
    settings: Model
    #: CEL rules on the whole spec that this algorithm needs (the API server's copy of
    #: `check_parameters`).
    spec_rules: ClassVar[tuple[Rule, ...]] = ()

    def check_parameters(self, parameters: Sequence[Parameter]) -> None:
        """Refuse a search space this algorithm cannot work with (FieldError, spec-relative)."""
        del parameters

    def check_spec(self, spec: StudySpec) -> None:
        """Refuse the rest of a spec this algorithm cannot work with (FieldError)."""
        del spec

    def settings_as(self, model: type[M]) -> M:
        """The settings as `model`: an engine factory states the type it reads, and a factory
        handed another algorithm's spec fails here rather than reading the wrong fields."""
        if not isinstance(self.settings, model):
            raise TypeError(
                f"{self.name!r} has {type(self.settings).__name__}, not {model.__name__}"
            )
        return self.settings


class ChosenSampler(Chosen):
    seed: int | None = Field(
        default=None,
        ge=0,
        le=2**32 - 1,
        description="Seed for reproducible suggestions. Default: derived from the study name, "
        "so a study resumes and restarts with the same suggestions.",
    )

    #: Trials are segments of lines that continue from each other's checkpoints (pbt): the
    #: engine decides them with their lineage, and the shells give each a checkpoint folder.
    segmented: ClassVar[bool] = False

    @property
    def grid_points(self) -> int | None:
        """Points per stepless float axis when this sampler walks a grid, else None."""
        return None


class AutoAlgorithm(ChosenSampler):
    name: Literal["auto"] = "auto"
    settings: AutoSettings = Field(default_factory=AutoSettings)


class GridAlgorithm(ChosenSampler):
    name: Literal["grid"] = "grid"
    settings: GridSettings = Field(default_factory=GridSettings)
    spec_rules: ClassVar[tuple[Rule, ...]] = (
        cel(
            "!has(self.algorithm) || !has(self.algorithm.name) || self.algorithm.name != 'grid' "
            "|| (has(self.algorithm.settings) && has(self.algorithm.settings.gridPoints)) || "
            "self.parameters.all(p, p.type != 'float' || has(p.step))",
            "grid search needs a step for float parameters, or set "
            "spec.algorithm.settings.gridPoints",
            ".parameters",
        ),
    )

    def check_parameters(self, parameters: Sequence[Parameter]) -> None:
        if self.settings.grid_points:
            return
        for index, param in enumerate(parameters):
            if param.type == "float" and param.step is None:
                raise FieldError(
                    f"parameters[{index}].step",
                    "grid search needs a step for float parameters, "
                    "or set spec.algorithm.settings.gridPoints",
                )

    @property
    def grid_points(self) -> int | None:
        return self.settings.grid_points


class RandomAlgorithm(ChosenSampler):
    name: Literal["random"] = "random"
    settings: RandomSettings = Field(default_factory=RandomSettings)


class SobolAlgorithm(ChosenSampler):
    name: Literal["sobol"] = "sobol"
    settings: SobolSettings = Field(default_factory=SobolSettings)


class BayesianAlgorithm(ChosenSampler):
    name: Literal["bayesian"] = "bayesian"
    settings: BayesianSettings = Field(default_factory=BayesianSettings)


class TpeAlgorithm(ChosenSampler):
    name: Literal["tpe"] = "tpe"
    settings: TpeSettings = Field(default_factory=TpeSettings)


def _when_pbt(rule: str) -> str:
    return (
        "!has(self.algorithm) || !has(self.algorithm.name) || self.algorithm.name != 'pbt' || "
        + rule
    )


class PbtAlgorithm(ChosenSampler):
    name: Literal["pbt"] = "pbt"
    settings: PbtSettings
    segmented: ClassVar[bool] = True
    spec_rules: ClassVar[tuple[Rule, ...]] = (
        cel(
            _when_pbt(
                "!has(self.algorithm.settings) || !has(self.algorithm.settings.population) || "
                "self.algorithm.settings.population <= (has(self.budget) && "
                "has(self.budget.maxTrials) ? self.budget.maxTrials : 20)"
            ),
            "pbt: settings.population must be <= budget.maxTrials (default 20), which counts "
            "segments: raise maxTrials or shrink the population",
            ".algorithm",
        ),
        cel(
            _when_pbt(
                "!has(self.earlyStopping) || !has(self.earlyStopping.name) || "
                "self.earlyStopping.name == 'none'"
            ),
            "pbt decides itself which lines go on (weak members copy strong ones); remove "
            "earlyStopping",
            ".earlyStopping",
        ),
        cel(
            _when_pbt("!has(self.objectives)"),
            "pbt ranks members by one number: set objective, not objectives",
            ".objectives",
        ),
        cel(
            _when_pbt("!has(self.constraints) || size(self.constraints) == 0"),
            "pbt ranks members by the objective alone and cannot keep to constraints; remove them",
            ".constraints",
        ),
        cel(
            _when_pbt(
                "!has(self.warmStart) || ((!has(self.warmStart.trials) || "
                "size(self.warmStart.trials) == 0) && (!has(self.warmStart.studies) || "
                "size(self.warmStart.studies) == 0))"
            ),
            "pbt starts every member from scratch and cannot learn from warmStart; remove it",
            ".warmStart",
        ),
        # Only the API server's copy: locally the checkpoints are folders beside the results.
        cel(
            _when_pbt("has(self.checkpoints)"),
            "pbt on a cluster needs spec.checkpoints.volumeClaim: a PersistentVolumeClaim "
            "(ReadWriteMany where trials may land on different nodes) that holds each trial's "
            "checkpoint folder",
            ".algorithm",
        ),
    )

    def check_spec(self, spec: StudySpec) -> None:
        population = self.settings.population
        if population > spec.budget.max_trials:
            raise FieldError(
                "algorithm.settings.population",
                f"{population} members but budget.maxTrials is {spec.budget.max_trials}, "
                "and maxTrials counts segments: raise maxTrials or shrink the population",
            )
        if spec.early_stopping.name != "none":
            raise FieldError(
                "earlyStopping",
                "pbt decides itself which lines go on (weak members copy strong ones); "
                "remove earlyStopping",
            )
        if spec.multi_objective:
            raise FieldError(
                "objectives", "pbt ranks members by one number: set objective, not objectives"
            )
        if spec.constraints:
            raise FieldError(
                "constraints",
                "pbt ranks members by the objective alone and cannot keep to constraints; "
                "remove them",
            )
        if spec.trial_template.kind == "TrainJob":
            raise FieldError(
                "trialTemplate.kind",
                "pbt mounts its checkpoint volume into the trial's pod template, which a "
                "TrainJob does not have: run each segment as a Job or a JobSet",
            )
        if spec.warm_start.trials or spec.warm_start.studies:
            raise FieldError(
                "warmStart",
                "pbt starts every member from scratch and cannot learn from warmStart; remove it",
            )


class ChosenStopping(Chosen):
    @property
    def budget_parameter(self) -> str | None:
        """The search-space parameter this rule pins to its full budget, if any."""
        return None

    @property
    def max_budget(self) -> float | None:
        """The full budget a trial runs with (what ${trial.budget} becomes), if this rule has
        one."""
        return None


class NoStopping(ChosenStopping):
    name: Literal["none"] = "none"
    settings: NoStoppingSettings = Field(default_factory=NoStoppingSettings)


class MedianStopping(ChosenStopping):
    name: Literal["median"] = "median"
    settings: MedianSettings = Field(default_factory=MedianSettings)


class RungStopping(ChosenStopping):
    """asha and hyperband: rungs up to `maxBudget`, optionally carried by a parameter."""

    settings: RungSettings
    spec_rules: ClassVar[tuple[Rule, ...]] = (
        cel(
            "!has(self.earlyStopping) || !has(self.earlyStopping.settings) || "
            "!has(self.earlyStopping.settings.budgetParameter) || self.parameters.exists(p, "
            "p.name == self.earlyStopping.settings.budgetParameter && p.type != 'categorical')",
            "earlyStopping.settings.budgetParameter must name a float or int parameter",
            ".earlyStopping",
        ),
    )

    def check_parameters(self, parameters: Sequence[Parameter]) -> None:
        if self.settings.budget_parameter is None:
            return
        numeric = [p.name for p in parameters if p.type != "categorical"]
        if self.settings.budget_parameter not in numeric:
            raise FieldError(
                "earlyStopping.settings.budgetParameter",
                f"must name a float or int parameter, one of {numeric}",
            )

    @property
    def budget_parameter(self) -> str | None:
        return self.settings.budget_parameter

    @property
    def max_budget(self) -> float | None:
        return self.settings.max_budget


class AshaStopping(RungStopping):
    name: Literal["asha"] = "asha"
    settings: AshaSettings


class HyperbandStopping(RungStopping):
    name: Literal["hyperband"] = "hyperband"
    settings: HyperbandSettings


@dataclass(frozen=True)
class Registered:
    """One algorithm: its model (which names it) and its engine factory as "module:function"
    (imported on first use: the API stays free of the engine, and a random or grid study never
    imports scipy)."""

    model: type[Chosen]
    factory: str

    @property
    def name(self) -> str:
        name: str = self.model.model_fields["name"].default
        return name

    @property
    def settings(self) -> type[Model]:
        settings: type[Model] = self.model.model_fields["settings"].annotation  # type: ignore[assignment]
        return settings


@dataclass(frozen=True)
class Registry(Generic[C]):
    """The algorithms one field accepts; the first is the default when `name` is left out."""

    field: str
    #: What the field is for (`kubectl explain`).
    purpose: str
    entries: tuple[Registered, ...]
    #: What the default does, after "Default NAME" in the description of `name`.
    describe: str
    #: CEL rules on the field's own object (beside the per-setting ones api/crd.py derives).
    rules: tuple[Rule, ...] = ()

    @property
    def default(self) -> str:
        return self.entries[0].name

    @property
    def names(self) -> list[str]:
        return [entry.name for entry in self.entries]

    @property
    def settings(self) -> dict[str, type[Model]]:
        return {entry.name: entry.settings for entry in self.entries}

    @property
    def spec_rules(self) -> list[Rule]:
        rules = [rule for entry in self.entries for rule in entry.model.spec_rules]
        return [rule for index, rule in enumerate(rules) if rule not in rules[:index]]

    @property
    def description(self) -> str:
        return f"{', '.join(self.names)}. Default {self.default}{self.describe}"

    def union(self) -> Any:
        """The pydantic type of the field: each model tagged by its name, the name read from
        the manifest (or the default), an unknown one refused naming every known one."""
        tags = {entry.name: union_tag(entry.name) for entry in self.entries}
        default = self.default

        def pick(value: Any) -> str:
            if isinstance(value, dict):
                name = value.get("name", default)
            else:  # a model already built, or something that is not a mapping at all
                name = getattr(value, "name", default)
            return tags.get(name, str(name)) if isinstance(name, str) else repr(name)

        members = tuple(Annotated[e.model, Tag(tags[e.name])] for e in self.entries)
        return Annotated[
            Union[members],  # noqa: UP007  (a runtime tuple of members, not a written union)
            Discriminator(
                pick,
                custom_error_type=UNKNOWN_NAME,
                custom_error_message="must be one of " + ", ".join(map(repr, self.names)),
            ),
        ]

    def default_model(self) -> Callable[[], C]:
        """The field's default: its first entry's model with every setting left out."""
        return cast("Callable[[], C]", self.entries[0].model)


SAMPLERS: Registry[ChosenSampler] = Registry(
    "algorithm",
    "The sampler that suggests each trial's params, and its settings.",
    (
        Registered(AutoAlgorithm, "kubetune.engine.samplers.auto:build"),
        Registered(GridAlgorithm, "kubetune.engine.samplers.grid:build"),
        Registered(RandomAlgorithm, "kubetune.engine.samplers.random:build"),
        Registered(SobolAlgorithm, "kubetune.engine.samplers.sobol:build"),
        Registered(BayesianAlgorithm, "kubetune.engine.samplers.bayesian.sampler:build"),
        Registered(TpeAlgorithm, "kubetune.engine.samplers.tpe.sampler:build"),
        Registered(PbtAlgorithm, "kubetune.engine.pbt:build"),
    ),
    ": picks one of the others for the study's space and budget, and says which and why in "
    "status.algorithm.",
)

STOPPING_RULES: Registry[ChosenStopping] = Registry(
    "earlyStopping",
    "The rule that stops running trials that are unlikely to beat the others, and its settings.",
    (
        Registered(NoStopping, "kubetune.engine.stopping.base:build_none"),
        Registered(MedianStopping, "kubetune.engine.stopping.median:build"),
        Registered(AshaStopping, "kubetune.engine.stopping.asha:build"),
        Registered(HyperbandStopping, "kubetune.engine.stopping.hyperband:build"),
    ),
    ".",
    rules=(
        cel(
            "!has(self.settings) || !has(self.settings.maxBudget) || "
            "(has(self.settings.minBudget) ? self.settings.minBudget : 1.0) "
            "< self.settings.maxBudget",
            "settings.minBudget (default 1) must be < settings.maxBudget",
            ".settings",
        ),
    ),
)

if TYPE_CHECKING:
    # What the rest of kubetune may ask of any algorithm; at run time, the tagged union.
    Algorithm = ChosenSampler
    EarlyStopping = ChosenStopping
else:
    Algorithm = SAMPLERS.union()
    EarlyStopping = STOPPING_RULES.union()

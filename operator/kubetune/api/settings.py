"""Per-algorithm settings: one small model per sampler and per stopping rule, and the
registries that name every algorithm once.

Adding an algorithm means one settings model here, one `Registered` line, and one engine
module with its factory. Everything else is derived from the registries: the names a Study
accepts (and the CRD's enum), the CRD's `settings` object (the union of these models, with a
CEL rule per field naming the algorithms that accept it, so the API server refuses a misplaced
setting), the settings' validation, and the engine's registry of factories.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from kubetune.api.base import Model
from kubetune.api.errors import FieldError


class GridSettings(Model):
    grid_points: int | None = Field(
        default=None,
        ge=2,
        le=1000,
        description="grid: points per float parameter that has no step (evenly spaced, "
        "geometric when log). Default: none, so a float without step is refused.",
    )


class RandomSettings(Model):
    pass


class SobolSettings(Model):
    pass


class BayesianSettings(Model):
    n_initial_points: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="bayesian: random trials before the Gaussian process takes "
        "over. Default: dimensions + 4, between 5 and 10.",
    )
    acquisition: Literal["ei", "pi", "lcb"] = Field(
        default="ei",
        description="bayesian: acquisition function: expected improvement (ei, default), "
        "probability of improvement (pi), lower confidence bound (lcb).",
    )


class AutoSettings(BayesianSettings):
    """`auto` picks with no settings; given any, they are bayesian's and bayesian runs: a
    Study written before `auto` (when bayesian was the default) that set them without naming
    the algorithm keeps its meaning. To set another sampler's, name it."""


class TpeSettings(Model):
    n_initial_points: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="tpe: random trials before the Parzen estimators take over. Default 10.",
    )


class MedianSettings(Model):
    start_step: int = Field(
        default=1, ge=0, description="median: no trial is stopped before this step. Default 1."
    )
    min_trials: int = Field(
        default=3,
        ge=1,
        description="median: how many other trials must have reached a step before the rule "
        "compares at it. Default 3.",
    )


class RungSettings(Model):
    """Shared by asha and hyperband: both stop at rungs min, min*eta, min*eta^2, ... < max."""

    min_budget: float = Field(
        default=1, gt=0, description="asha/hyperband: the first rung (a step). Default 1."
    )
    max_budget: float = Field(
        gt=0,
        description="asha/hyperband: the full budget every trial runs with (e.g. epochs); "
        "also what ${trial.budget} becomes. Required.",
    )
    reduction_factor: int = Field(
        default=3,
        ge=2,
        le=10,
        description="asha/hyperband: eta; a trial continues past a rung only if it is in the "
        "top 1/eta of the trials at that rung. Default 3.",
    )
    min_trials: int = Field(
        default=1,
        ge=1,
        description="asha/hyperband: trials needed at a rung before anyone is stopped there. "
        "Default 1 (the first trial always passes).",
    )
    budget_parameter: str | None = Field(
        default=None,
        description="asha/hyperband: the name of a search-space parameter that carries the "
        "budget (e.g. epochs); it is fixed to maxBudget instead of searched. Optional.",
    )

    @model_validator(mode="after")
    def _check_rungs(self) -> RungSettings:
        if self.min_budget >= self.max_budget:
            raise FieldError(
                "minBudget", f"must be < maxBudget ({self.max_budget:g}), got {self.min_budget:g}"
            )
        return self


class AshaSettings(RungSettings):
    pass


class HyperbandSettings(RungSettings):
    pass


class NoStoppingSettings(Model):
    pass


@dataclass(frozen=True)
class Registered:
    """One algorithm: the name a Study gives it, its settings model, and its engine factory
    as "module:function" (imported on first use: the API stays free of the engine, and a
    random or grid study never imports scipy)."""

    name: str
    settings: type[Model]
    factory: str


SAMPLERS: tuple[Registered, ...] = (
    Registered("auto", AutoSettings, "kubetune.engine.samplers.auto:build"),
    Registered("grid", GridSettings, "kubetune.engine.samplers.grid:build"),
    Registered("random", RandomSettings, "kubetune.engine.samplers.random:build"),
    Registered("sobol", SobolSettings, "kubetune.engine.samplers.sobol:build"),
    Registered("bayesian", BayesianSettings, "kubetune.engine.samplers.bayesian.sampler:build"),
    Registered("tpe", TpeSettings, "kubetune.engine.samplers.tpe.sampler:build"),
)

STOPPING_RULES: tuple[Registered, ...] = (
    Registered("none", NoStoppingSettings, "kubetune.engine.stopping.base:build_none"),
    Registered("median", MedianSettings, "kubetune.engine.stopping.median:build"),
    Registered("asha", AshaSettings, "kubetune.engine.stopping.asha:build"),
    Registered("hyperband", HyperbandSettings, "kubetune.engine.stopping.hyperband:build"),
)

SAMPLER_SETTINGS: dict[str, type[Model]] = {r.name: r.settings for r in SAMPLERS}
STOPPING_SETTINGS: dict[str, type[Model]] = {r.name: r.settings for r in STOPPING_RULES}

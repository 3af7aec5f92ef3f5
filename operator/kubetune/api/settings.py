"""Per-algorithm settings: one small model per sampler and per stopping rule.

Each algorithm's model in api/algorithms.py holds its settings as one of these. The CRD's
`settings` object is the union of them, with a CEL rule per field naming the algorithms that
accept it (api/crd.py), so the API server refuses a misplaced setting too.
"""

from __future__ import annotations

from typing import Annotated, Literal

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


class AutoSettings(Model):
    """`auto` picks with no settings; given any, they are bayesian's and bayesian runs: a
    Study written before `auto` (when bayesian was the default) that set them without naming
    the algorithm keeps its meaning. To set another sampler's, name it.

    Every field defaults to None (not to bayesian's defaults), so a spec written back out
    (exclude_none) and read again still has no settings, and `auto` still picks."""

    n_initial_points: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description=BayesianSettings.model_fields["n_initial_points"].description,
    )
    acquisition: Literal["ei", "pi", "lcb"] | None = Field(
        default=None, description=BayesianSettings.model_fields["acquisition"].description
    )

    @property
    def given(self) -> bool:
        return any(value is not None for value in self.__dict__.values())


class TpeSettings(Model):
    n_initial_points: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="tpe: random trials before the Parzen estimators take over. Default 10.",
    )


class PbtSettings(Model):
    """Population-based training: each trial trains one segment of `readyInterval` steps of a
    member's line, from a checkpoint (engine/pbt.py says how members exploit and explore)."""

    population: int = Field(
        ge=2,
        le=1000,
        description="pbt: members of the population (lines trained side by side); at most "
        "budget.maxTrials, which counts segments. Required.",
    )
    ready_interval: int = Field(
        ge=1,
        description="pbt: steps per segment: a member may exploit another after every this many "
        "steps of its line, and each trial's ${trial.budget} is the step its segment ends at. "
        "Required.",
    )
    quantile: float = Field(
        default=0.25,
        gt=0,
        le=0.5,
        description="pbt: a member in the worst quantile of the population's latest scores "
        "continues from the checkpoint of one in the best quantile. Default 0.25.",
    )
    perturb_factors: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [0.8, 1.2],
        min_length=1,
        max_length=10,
        description="pbt: a copied number is multiplied by one of these, drawn at random (kept "
        "in range); a categorical moves to a neighbouring value. Default [0.8, 1.2].",
    )
    resample_probability: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="pbt: the chance that a copied parameter is drawn afresh from its range "
        "instead of perturbed. Default 0.25.",
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

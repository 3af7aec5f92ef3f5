"""What a study optimises and what it must keep within bounds: `spec.objective` (one metric),
`spec.objectives` (2 to 4, a Pareto front) and `spec.constraints`, with the checks pydantic and
the API server (CEL) both make of them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from kubetune.api.base import Model, cel
from kubetune.api.errors import FieldError

#: A metric's name as trainers print it: an identifier, or with - and . too (Katib's
#: `Validation-accuracy`, `train.loss`). Never a comma: the sidecar's variable lists them with
#: commas.
METRIC_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*$"


class Objective(Model):
    metric: str = Field(
        pattern=METRIC_PATTERN,
        max_length=63,
        description="The metric to optimise, as the trial reports it.",
    )
    goal: Literal["maximize", "minimize"] = Field(description="maximize or minimize.")
    target: float | None = Field(
        default=None,
        description="Stop the study once a trial reaches this value (>= when maximizing, "
        "<= when minimizing). Optional.",
    )
    additional_metrics: list[Annotated[str, Field(pattern=METRIC_PATTERN, max_length=63)]] = Field(
        default_factory=list,
        description="Other metrics to record (not optimised): letters, digits, _. Default none.",
    )


class Constraint(Model):
    """A metric a trial must keep within bounds to count: one that breaks it is infeasible,
    never the best and never on the front, whatever its objectives."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "has(self.max) || has(self.min)",
                    "a constraint needs max, min or both",
                ),
                cel(
                    "!has(self.max) || !has(self.min) || self.min <= self.max",
                    "min must not be above max: no trial could meet it",
                    ".min",
                ),
            ]
        }
    )

    metric: str = Field(
        pattern=METRIC_PATTERN, max_length=63, description="The constrained metric, as reported."
    )
    max: float | None = Field(default=None, description="Feasible when metric <= max.")
    min: float | None = Field(default=None, description="Feasible when metric >= min.")

    @model_validator(mode="after")
    def _check_bounds(self) -> Constraint:
        if self.max is None and self.min is None:
            raise FieldError("max", "a constraint needs max, min or both")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise FieldError(
                "min", f"{self.min:g} is above max {self.max:g}: no trial could meet it"
            )
        return self


#: The spec-level CEL rules about objectives and constraints (the API server's copy of
#: `check_goals`). Metric names are bounded (63 characters): unbounded, the rules comparing
#: them were refused by the API server's cost estimate.
GOAL_RULES: list[Any] = [
    cel(
        "has(self.objective) != has(self.objectives)",
        "set spec.objective (one metric) or spec.objectives (2 to 4 metrics), exactly one",
        ".objective",
    ),
    cel(
        "!has(self.metrics) || !has(self.metrics.prometheus) || "
        "(!has(self.objectives) && (!has(self.constraints) || size(self.constraints) == 0))",
        "metrics.prometheus reads one metric (the objective): several objectives or "
        "constraints need the trial's own reports (remove metrics.prometheus)",
        ".metrics",
    ),
    cel(
        "!has(self.objective) || !has(self.objective.additionalMetrics) || "
        "!(self.objective.metric in self.objective.additionalMetrics)",
        "additionalMetrics must not repeat the objective metric",
        ".objective",
    ),
    cel(
        "!has(self.objectives) || "
        "self.objectives.all(o, self.objectives.exists_one(p, p.metric == o.metric))",
        "each objective needs its own metric: a metric is listed twice",
        ".objectives",
    ),
    cel(
        "!has(self.constraints) || "
        "self.constraints.all(c, self.constraints.exists_one(d, d.metric == c.metric))",
        "one constraint per metric (give it both max and min): a metric is listed twice",
        ".constraints",
    ),
    cel(
        "!has(self.constraints) || self.constraints.all(c, "
        "(!has(self.objective) || c.metric != self.objective.metric) && "
        "(!has(self.objectives) || !self.objectives.exists(o, o.metric == c.metric)))",
        "a constraint cannot be on an objective's metric: bound the objective with target, or "
        "constrain another metric",
        ".constraints",
    ),
]


def check_goals(
    objective: Objective | None,
    objectives: list[Objective] | None,
    constraints: list[Constraint],
) -> None:
    """Exactly one of `objective` and `objectives`, each metric once, and no constraint on an
    objective's metric (bound an objective with its target instead)."""
    if (objective is None) == (objectives is None):
        raise FieldError(
            "objective",
            "set spec.objective (one metric) or spec.objectives (2 to 4 metrics), exactly one",
        )
    if objective is not None and objective.metric in objective.additional_metrics:
        raise FieldError("objective.additionalMetrics", "must not repeat the objective metric")
    metrics = [o.metric for o in objectives or ([objective] if objective else [])]
    for index, metric in enumerate(metrics):
        if metric in metrics[:index]:
            raise FieldError(
                f"objectives[{index}].metric",
                f"{metric!r} is already objective {metrics.index(metric)}: each objective "
                "needs its own metric",
            )
    constrained = [c.metric for c in constraints]
    for index, metric in enumerate(constrained):
        if metric in constrained[:index]:
            raise FieldError(
                f"constraints[{index}].metric",
                f"{metric!r} is constrained twice: give one constraint both max and min",
            )
        if metric in metrics:
            raise FieldError(
                f"constraints[{index}].metric",
                f"{metric!r} is an objective: bound an objective with target, or constrain "
                "another metric",
            )

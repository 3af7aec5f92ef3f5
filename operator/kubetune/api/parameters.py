"""The search space as users write it: one `Parameter` per hyperparameter.

Each cross-field check is written twice on purpose: as a Python validator (for `kubetune run`
and `kubetune validate`) and as a CEL rule in the generated CRD (so the API server refuses the
same manifest). `tests/unit/api/test_bad_manifests.py` holds both to the same table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from kubetune.api.base import Model, cel
from kubetune.api.errors import FieldError

ParamValue = float | int | str
Params = dict[str, ParamValue]

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
#: A conditional parameter names one parent (nest them for "and") and at most this many of its
#: values: bounds the API server's cost estimate of the CEL rules that check `when`.
WHEN_VALUES = 32
#: Bounds past which the sampler's arithmetic (max - min, a point's offset) overflows.
BOUND_LIMIT = 1e300
#: Integers a float holds exactly (2^53): int parameters travel as JSON numbers.
INT_LIMIT = 2**53

_PARAMETER_RULES: list[Any] = [
    cel(
        "self.type == 'categorical' || (has(self.min) && has(self.max))",
        "min and max are required for float and int parameters",
    ),
    cel(
        "!has(self.min) || !has(self.max) || self.min < self.max",
        "min must be < max",
        ".min",
    ),
    cel(
        "!has(self.log) || !self.log || !has(self.min) || self.min > 0.0",
        "must be > 0 when log is true",
        ".min",
    ),
    cel(
        "self.type != 'categorical' || (has(self.values) && size(self.values) > 0)",
        "categorical parameters need a non-empty list of values",
        ".values",
    ),
    cel(
        "self.type == 'categorical' || !has(self.values)",
        "values are only for categorical parameters; use min/max for float and int",
        ".values",
    ),
    cel(
        "self.type != 'categorical' || (!has(self.min) && !has(self.max) && !has(self.step)"
        " && (!has(self.log) || !self.log))",
        "categorical parameters take values only, not min/max/step/log",
        ".type",
    ),
    cel(
        "!has(self.step) || !has(self.log) || !self.log",
        "step cannot be combined with log; use one of them",
        ".step",
    ),
    cel(
        "self.type != 'int' || ((!has(self.min) || self.min == double(int(self.min)))"
        " && (!has(self.max) || self.max == double(int(self.max))))",
        "int parameters need whole-number min and max",
        ".min",
    ),
    # As CEL, not OpenAPI bounds: the API server compared a whole-number value with a
    # `maximum: 1e300` as int64s, and the bound wrapped round to -2^63.
    *(
        cel(
            f"!has(self.{bound}) || (self.{bound} >= -1e300 && self.{bound} <= 1e300)",
            "must lie within -1e300 and 1e300 (the search's arithmetic overflows past them)",
            f".{bound}",
        )
        for bound in ("min", "max")
    ),
    *(
        cel(
            f"self.type != 'int' || !has(self.{bound}) || "
            f"(self.{bound} >= -{INT_LIMIT}.0 && self.{bound} <= {INT_LIMIT}.0)",
            f"int parameters must lie within -{INT_LIMIT} and {INT_LIMIT} (2^53)",
            f".{bound}",
        )
        for bound in ("min", "max")
    ),
    cel(
        "!has(self.step) || !has(self.min) || !has(self.max) || self.step <= self.max - self.min",
        "step must be <= max - min",
        ".step",
    ),
    cel(
        "self.type != 'int' || !has(self.step) || self.step == double(int(self.step))",
        "int parameters need a whole-number step",
        ".step",
    ),
]


class Parameter(Model):
    """One hyperparameter: a float or int range (optionally log-scaled or stepped) or a list."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-validations": _PARAMETER_RULES})

    name: str = Field(
        pattern=NAME_PATTERN,
        max_length=63,
        description="Name used in placeholders: ${trial.params.NAME}. Letters, digits, _.",
    )
    type: Literal["float", "int", "categorical"] = Field(
        description="float, int (whole numbers) or categorical (one of `values`)."
    )
    min: float | None = Field(
        default=None,
        description="Lower bound, inclusive (float, int); within -1e300 and 1e300.",
    )
    max: float | None = Field(
        default=None,
        description="Upper bound, inclusive (float, int); within -1e300 and 1e300.",
    )
    step: float | None = Field(
        default=None,
        gt=0,
        description="Grid spacing from min: values are min, min+step, ... <= max. Optional.",
    )
    log: bool = Field(
        default=False, description="Search on a log scale (needs min > 0). Default false."
    )
    values: list[int | str] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="The choices of a categorical parameter: strings or integers "
        '(quote decimals, "0.1", or use a float parameter with a step).',
        # int-or-string keeps the items typed for CEL: untyped items hide the field from rules
        # A set: the API server refuses a repeated value, as the validator below does.
        json_schema_extra={
            "items": {"x-kubernetes-int-or-string": True},
            "x-kubernetes-list-type": "set",
        },
    )

    when: dict[str, list[int | str]] | None = Field(
        default=None,
        min_length=1,
        max_length=1,
        description="Search this parameter only when the parameter named here (a categorical "
        "or int declared earlier) takes one of the listed values, e.g. {optimizer: [sgd]}; "
        "one parent, which may itself be conditional. "
        "Otherwise the trial has no value for it: a command argument or env var that names it "
        "is left out, any other placeholder of it becomes empty.",
        json_schema_extra={
            "additionalProperties": {
                "type": "array",
                "minItems": 1,
                "maxItems": WHEN_VALUES,
                "items": {"x-kubernetes-int-or-string": True},
            }
        },
    )

    def holds(self, value: object) -> bool:
        """Whether `value` is one this parameter can take (a stored trial's, read back)."""
        if self.type == "categorical":
            return value in (self.values or []) and not isinstance(value, bool)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.type == "int" and value != int(value):
            return False
        assert self.min is not None and self.max is not None
        return self.min <= value <= self.max

    @field_validator("values", mode="before")
    @classmethod
    def _strings_or_integers(cls, values: Any) -> Any:
        for value in values if isinstance(values, list) else []:
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise ValueError(
                    f"categorical values must be strings or integers, got {value!r}; "
                    'quote decimals ("0.1") or use a float parameter with a step'
                )
        return values

    @model_validator(mode="after")
    def _check_shape(self) -> Parameter:
        if self.type == "categorical":
            self._check_categorical()
        else:
            self._check_range()
        return self

    def _check_categorical(self) -> None:
        if not self.values:
            raise FieldError("values", "categorical parameters need a non-empty list of values")
        for field in ("min", "max", "step"):
            if getattr(self, field) is not None:
                raise FieldError(
                    field, "categorical parameters take values only, not min/max/step/log"
                )
        if self.log:
            raise FieldError("log", "categorical parameters take values only, not min/max/step/log")
        if len({repr(v) for v in self.values}) != len(self.values):
            raise FieldError("values", "must not repeat a value")

    def _check_range(self) -> None:
        if self.values is not None:
            raise FieldError(
                "values",
                "values are only for categorical parameters; use min/max for float and int",
            )
        for field in ("min", "max"):
            value = getattr(self, field)
            if value is None:
                raise FieldError(field, f"required for {self.type} parameters")
            if not math.isfinite(value):
                raise FieldError(field, "must be a finite number")
            if abs(value) > BOUND_LIMIT:
                raise FieldError(
                    field,
                    f"must lie within -1e300 and 1e300 (the search's arithmetic overflows "
                    f"past them), got {value:g}",
                )
        assert self.min is not None and self.max is not None
        if self.min >= self.max:
            raise FieldError("min", f"must be < max ({self.max:g}), got {self.min:g}")
        if self.log and self.min <= 0:
            raise FieldError("min", f"must be > 0 when log is true, got {self.min:g}")
        if self.step is not None and self.log:
            raise FieldError("step", "step cannot be combined with log; use one of them")
        if self.type == "int":
            for field in ("min", "max", "step"):
                value = getattr(self, field)
                if value is not None and value != int(value):
                    raise FieldError(field, f"int parameters need whole numbers, got {value:g}")
            for field in ("min", "max"):
                if abs(getattr(self, field)) > INT_LIMIT:
                    raise FieldError(
                        field, f"int parameters must lie within -{INT_LIMIT} and {INT_LIMIT} (2^53)"
                    )
        if self.step is not None and self.step > self.max - self.min:
            raise FieldError("step", f"must be <= max - min ({self.max - self.min:g})")


def active_names(parameters: Sequence[Parameter], params: Mapping[str, object]) -> list[str]:
    """The parameters a trial with these values has, in declared order: those without `when`,
    and those whose every parent is active and takes one of the listed values. The one rule
    of conditional spaces: samplers, results files and the shells all ask it."""
    active: dict[str, object] = {}
    for parameter in parameters:
        if condition_holds(parameter, active):
            active[parameter.name] = params.get(parameter.name)
    return list(active)


def condition_holds(parameter: Parameter, present: Mapping[str, object]) -> bool:
    """Whether `parameter` is active, given the values of the active parameters declared
    before it (`present`: an inactive parent is absent from it)."""
    return parameter.when is None or all(
        parent in present and present[parent] in values for parent, values in parameter.when.items()
    )


def check_conditions(parameters: Sequence[Parameter], pinned: str | None = None) -> None:
    """Every `when` names a categorical or int parameter declared earlier (so conditions can
    never loop) with values it can take. `pinned`: the rung rule's budgetParameter, which is
    never searched and so may neither be conditional nor a condition."""
    for index, parameter in enumerate(parameters):
        earlier = {p.name: p for p in parameters[:index]}
        if parameter.when is not None and parameter.name == pinned:
            raise FieldError(
                f"parameters[{index}].when",
                "the budgetParameter is fixed by the stopping rule and cannot be conditional",
            )
        for parent, values in (parameter.when or {}).items():
            field = f"parameters[{index}].when.{parent}"
            if parent not in earlier:
                raise FieldError(
                    field,
                    f"must name a parameter declared before {parameter.name!r} "
                    f"(declared before it: {sorted(earlier) or 'none'}); move it after {parent!r}",
                )
            source = earlier[parent]
            if source.type == "float":
                raise FieldError(field, "conditions read categorical or int parameters, not float")
            if parent == pinned:
                raise FieldError(
                    field, "the budgetParameter is fixed by the stopping rule; it cannot decide"
                )
            for value in values:
                if not source.holds(value):
                    raise FieldError(field, f"{parent} never takes {value!r}; {_takes(source)}")


def _takes(parameter: Parameter) -> str:
    if parameter.type == "categorical":
        return f"its values are {parameter.values}"
    return f"it takes whole numbers from {parameter.min:g} to {parameter.max:g}"

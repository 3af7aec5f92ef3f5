"""`spec.warmStart`: what a study knows before its first trial.

Two sources, both outside the study's budget (neither counts toward maxTrials nor
maxFailedTrials): trials given by hand, which run first with exactly those params (Optuna's
`enqueue_trial`), and earlier studies to learn from, whose finished trials seed the samplers'
models without running again. `check_warm_trials` is the check the API server cannot afford
(each trial against every parameter, in CEL, costs more than its rule budget): it runs in
pydantic, so `kubetune validate`, `kubetune run` and the operator all refuse the same manifest
with the same field named.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated

from pydantic import Field, model_validator

from kubetune.api.base import Model
from kubetune.api.errors import FieldError
from kubetune.api.parameters import Parameter, ParamValue, active_names

#: A Study's name is a DNS label (RFC 1123), like every namespaced name it is looked up by.
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class WarmTrial(Model):
    params: dict[str, ParamValue] = Field(
        max_length=100,
        description="One value for each parameter the trial has (inactive conditional ones "
        "left out); the budgetParameter of a rung rule is set by the rule.",
    )


class WarmStart(Model):
    trials: list[WarmTrial] = Field(
        default_factory=list,
        max_length=100,
        description="Trials to run first, with these params (named STUDY-0, STUDY-1, ...). "
        "They count toward neither budget.maxTrials nor budget.maxFailedTrials.",
    )
    studies: list[Annotated[str, Field(max_length=63, pattern=DNS_LABEL)]] = Field(
        default_factory=list,
        max_length=10,
        description="Earlier studies to learn from: their finished trials seed the model. On "
        "a cluster, Studies of these names in this namespace, once finished; locally, the "
        "results in the runs folder beside this study's (kubetune-runs/NAME). Their trials "
        "must fit this study's parameters: one that does not is skipped, and the Study's "
        "status says how many were.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )

    @model_validator(mode="after")
    def _named_once(self) -> WarmStart:
        for index, name in enumerate(self.studies):
            if name in self.studies[:index]:
                raise FieldError(f"studies[{index}]", f"{name!r} is listed twice")
        return self

    @property
    def empty(self) -> bool:
        return not self.trials and not self.studies


def misfit(
    parameters: Sequence[Parameter], params: Mapping[str, object], pinned: str | None = None
) -> tuple[str, str] | None:
    """Why `params` is not a trial of this space, as (the parameter, what is wrong), or None.

    The one rule for both sources: a hand-given trial that misfits is refused with this
    reason, an earlier study's trial that misfits is skipped (and counted). `pinned`: the rung
    rule's budgetParameter, which the rule sets; given or not, it is not judged."""
    by_name = {p.name: p for p in parameters}
    for name in params:
        if name not in by_name:
            return name, f"not a parameter of this study (its parameters: {sorted(by_name)})"
    active = set(active_names(parameters, params))
    for parameter in parameters:
        name = parameter.name
        if name == pinned:
            continue
        if name in active and name not in params:
            return name, "missing: every parameter the trial has needs a value"
        if name not in active and name in params:
            return name, f"given, but this trial lacks it (its condition: when {parameter.when})"
        if name in params and not parameter.holds(params[name]):
            return name, f"{params[name]!r} is outside its range ({_range(parameter)})"
    return None


def check_warm_trials(warm: WarmStart, parameters: Sequence[Parameter], pinned: str | None) -> None:
    for index, trial in enumerate(warm.trials):
        found = misfit(parameters, trial.params, pinned)
        if found is not None:
            name, problem = found
            raise FieldError(f"warmStart.trials[{index}].params.{name}", problem)


def _range(parameter: Parameter) -> str:
    if parameter.type == "categorical":
        return f"one of {parameter.values}"
    kind = "whole numbers" if parameter.type == "int" else "numbers"
    return f"{kind} from {parameter.min:g} to {parameter.max:g}"

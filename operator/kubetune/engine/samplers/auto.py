"""`auto`, the default sampler: one of the others, picked from the study's space and budget.

The pick is a pure function of the spec (`choose`), so a restarted operator, `kubetune run
--resume` and the Study's status (`status.algorithm`) all name the same sampler with the same
reason, and its suggestions are exactly the picked sampler's (same seed; its default
settings, or bayesian's as given, below). The rules follow what the benchmarks measured
(docs/algorithms.md):
- `grid` when every parameter is categorical, none conditional, and every combination fits in
  `budget.maxTrials`: each is tried once and the study ends when they are all done;
- `tpe` past `MAX_BAYESIAN_TRIALS` trials or `MAX_BAYESIAN_PARAMETERS` parameters: its ask
  stays under a tenth of a second over thousands of trials, where bayesian's takes about a
  second past 2,000 and grows with the dimensions;
- `bayesian` otherwise: the better searcher per trial on every task measured, conditional
  spaces (two levels deep) included, so depth alone does not send a study to `tpe`.
A study that names a sampler keeps it; one that gives settings without naming one (written
when `bayesian` was the default) keeps `bayesian`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import TypeAdapter

from kubetune.api.algorithms import Algorithm, AutoAlgorithm
from kubetune.api.study import StudySpec
from kubetune.engine.encoding import Space
from kubetune.engine.samplers.base import Sampler

MAX_BAYESIAN_PARAMETERS = 20
MAX_BAYESIAN_TRIALS = 2000


@dataclass(frozen=True)
class Choice:
    name: str
    reason: str


def choose(spec: StudySpec) -> Choice:
    """The sampler that suggests the study's trials, and why."""
    algorithm = spec.algorithm
    if not isinstance(algorithm, AutoAlgorithm):
        return Choice(algorithm.name, "named in spec.algorithm.name")
    if algorithm.settings.given:
        return Choice(
            "bayesian",
            "auto with settings: they are bayesian's (the default before auto), so bayesian",
        )
    count = len(spec.parameters)
    trials = spec.budget.max_trials
    if spec.parameters and all(p.type == "categorical" and not p.when for p in spec.parameters):
        combinations = math.prod(len(p.values or ()) for p in spec.parameters)
        if combinations <= trials:
            return Choice(
                "grid",
                f"auto: every parameter is categorical and all {combinations} combinations fit "
                f"in budget.maxTrials ({trials}), so each is tried once",
            )
    if trials > MAX_BAYESIAN_TRIALS:
        return Choice(
            "tpe",
            f"auto: budget.maxTrials {trials} is past {MAX_BAYESIAN_TRIALS:,}, where tpe asks "
            "in well under a second and bayesian in about one",
        )
    if count > MAX_BAYESIAN_PARAMETERS:
        return Choice(
            "tpe",
            f"auto: {count} parameters, past {MAX_BAYESIAN_PARAMETERS}, where bayesian's model "
            "grows slow and tpe's cost does not grow with the dimensions",
        )
    return Choice(
        "bayesian",
        f"auto: {count} parameter{'s' * (count != 1)} and budget.maxTrials {trials}: the "
        "Gaussian process, the better searcher per trial at this size",
    )


def picked_spec(spec: StudySpec) -> StudySpec:
    """The spec as if it named the picked sampler (the settings carried over: empty, or
    bayesian's when `choose` picked bayesian for them)."""
    given = spec.algorithm
    if not isinstance(given, AutoAlgorithm):
        return spec
    name = choose(spec).name
    settings = given.settings.model_dump(by_alias=True, exclude_none=True)
    picked = TypeAdapter(Algorithm).validate_python(
        {"name": name, "seed": given.seed, "settings": settings if name == "bayesian" else {}}
    )
    return spec.model_copy(update={"algorithm": picked})


def build(spec: StudySpec, space: Space, seed: int) -> Sampler:
    from kubetune.engine.samplers import SAMPLERS  # noqa: PLC0415  (the registry holds auto)

    picked = picked_spec(spec)
    return SAMPLERS[picked.algorithm.name](picked, space, seed)

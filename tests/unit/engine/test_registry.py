"""One registry names every algorithm: a Study's accepted names, the CRD's enum, the settings'
validation and the engine's factories all come from it and cannot disagree."""

from __future__ import annotations

import inspect

import pytest

from kubetune.api import load_study
from kubetune.api.crd import render_crds
from kubetune.api.errors import InvalidStudyError
from kubetune.api.settings import SAMPLERS as SAMPLER_ENTRIES
from kubetune.api.settings import STOPPING_RULES as STOPPING_ENTRIES
from kubetune.api.settings import Registered
from kubetune.api.study import Algorithm, EarlyStopping
from kubetune.engine.samplers import SAMPLERS
from kubetune.engine.stopping import STOPPING_RULES

from factories import manifest


def _enum(field: str) -> list[str]:
    schema = render_crds()["kubetune.io_studies.yaml"]["spec"]["versions"][0]["schema"]
    node = schema["openAPIV3Schema"]["properties"]["spec"]["properties"][field]
    enum: list[str] = node["properties"]["name"]["enum"]
    return enum


def test_api_names_crd_enum_and_engine_factories_are_one_set() -> None:
    samplers = [e.name for e in SAMPLER_ENTRIES]
    rules = [e.name for e in STOPPING_ENTRIES]
    assert list(SAMPLERS) == samplers == list(Algorithm.REGISTRY) == _enum("algorithm")
    assert list(STOPPING_RULES) == rules == list(EarlyStopping.REGISTRY) == _enum("earlyStopping")
    assert len(set(samplers)) == len(samplers) and len(set(rules)) == len(rules)


@pytest.mark.parametrize("entry", SAMPLER_ENTRIES + STOPPING_ENTRIES, ids=lambda e: e.name)
def test_every_factory_resolves_to_a_function_of_the_documented_shape(entry: Registered) -> None:
    factory = SAMPLERS[entry.name] if entry in SAMPLER_ENTRIES else STOPPING_RULES[entry.name]
    expected = 3 if entry in SAMPLER_ENTRIES else 1  # (spec, space, seed) or (spec)
    assert callable(factory) and len(inspect.signature(factory).parameters) == expected


def test_an_unknown_name_is_refused_naming_every_known_one() -> None:
    with pytest.raises(InvalidStudyError) as refused:
        load_study(manifest(algorithm={"name": "tpe-ish"}))
    (problem,) = refused.value.problems
    assert problem.startswith("spec.algorithm.name: must be one of ")
    assert all(repr(e.name) in problem for e in SAMPLER_ENTRIES)


def test_a_settings_model_of_another_algorithm_is_a_type_error_not_a_wrong_read() -> None:
    spec = load_study(manifest(algorithm={"name": "random"})).spec
    settings_model = next(e.settings for e in SAMPLER_ENTRIES if e.name == "bayesian")
    with pytest.raises(TypeError, match="'random' has RandomSettings, not BayesianSettings"):
        spec.algorithm.settings_as(settings_model)

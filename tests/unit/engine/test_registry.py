"""One registry per field names every algorithm: a Study's accepted names, the CRD's enum, the
settings' validation and the engine's factories all come from it and cannot disagree; each
Study holds its algorithm's own model, with its own settings typed."""

from __future__ import annotations

import inspect

import pytest

from kubetune.api import load_study
from kubetune.api.algorithms import (
    SAMPLERS as SAMPLER_REGISTRY,
)
from kubetune.api.algorithms import (
    STOPPING_RULES as STOPPING_REGISTRY,
)
from kubetune.api.algorithms import (
    AshaStopping,
    AutoAlgorithm,
    GridAlgorithm,
    Registered,
)
from kubetune.api.crd import render_crds
from kubetune.api.errors import InvalidStudyError
from kubetune.api.settings import BayesianSettings, GridSettings
from kubetune.engine.samplers import SAMPLERS
from kubetune.engine.stopping import STOPPING_RULES

from factories import manifest


def _node(field: str) -> dict[str, object]:
    schema = render_crds()["kubetune.io_studies.yaml"]["spec"]["versions"][0]["schema"]
    node: dict[str, object] = schema["openAPIV3Schema"]["properties"]["spec"]["properties"][field]
    return node


def _enum(field: str) -> list[str]:
    enum: list[str] = _node(field)["properties"]["name"]["enum"]  # type: ignore[index]
    return enum


def test_api_names_crd_enum_and_engine_factories_are_one_set() -> None:
    samplers = SAMPLER_REGISTRY.names
    rules = STOPPING_REGISTRY.names
    assert list(SAMPLERS) == samplers == _enum("algorithm")
    assert list(STOPPING_RULES) == rules == _enum("earlyStopping")
    assert len(set(samplers)) == len(samplers) and len(set(rules)) == len(rules)
    assert (SAMPLER_REGISTRY.default, STOPPING_REGISTRY.default) == ("auto", "none")


ENTRIES = SAMPLER_REGISTRY.entries + STOPPING_REGISTRY.entries


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_every_factory_resolves_to_a_function_of_the_documented_shape(entry: Registered) -> None:
    sampler = entry in SAMPLER_REGISTRY.entries
    factory = SAMPLERS[entry.name] if sampler else STOPPING_RULES[entry.name]
    expected = 3 if sampler else 1  # (spec, space, seed) or (spec)
    assert callable(factory) and len(inspect.signature(factory).parameters) == expected


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_each_name_loads_as_its_own_model_with_its_own_settings(entry: Registered) -> None:
    field = "algorithm" if entry in SAMPLER_REGISTRY.entries else "earlyStopping"
    needs = {"asha": {"maxBudget": 9}, "hyperband": {"maxBudget": 9}, "grid": {"gridPoints": 3}}
    needs["pbt"] = {"population": 3, "readyInterval": 2}
    settings = needs.get(entry.name, {})
    spec = load_study(manifest(**{field: {"name": entry.name, "settings": settings}})).spec
    chosen = spec.algorithm if field == "algorithm" else spec.early_stopping
    assert type(chosen) is entry.model and chosen.name == entry.name
    assert type(chosen.settings) is entry.settings


def test_a_left_out_name_is_the_registry_default() -> None:
    spec = load_study(manifest(algorithm={"seed": 7})).spec
    assert isinstance(spec.algorithm, AutoAlgorithm) and spec.algorithm.seed == 7
    assert spec.early_stopping.name == "none" and spec.max_budget is None


def test_an_unknown_name_is_refused_naming_every_known_one() -> None:
    for field, registry in (("algorithm", SAMPLER_REGISTRY), ("earlyStopping", STOPPING_REGISTRY)):
        with pytest.raises(InvalidStudyError) as refused:
            load_study(manifest(**{field: {"name": "tpe-ish"}}))
        (problem,) = refused.value.problems
        assert problem.startswith(f"spec.{field}.name: must be one of ")
        assert all(repr(name) in problem for name in registry.names)


def test_a_bad_setting_is_named_by_its_manifest_path_without_the_union_tag() -> None:
    with pytest.raises(InvalidStudyError) as refused:
        load_study(manifest(algorithm={"name": "grid", "settings": {"gridPoints": 1}}))
    assert refused.value.problems == [
        "spec.algorithm.settings.gridPoints: Input should be greater than or equal to 2"
    ]
    with pytest.raises(InvalidStudyError) as refused:
        load_study(manifest(algorithm={"name": "random", "settings": {"gridPoints": 5}}))
    assert refused.value.problems == [
        "spec.algorithm.settings.gridPoints: unknown field; check its spelling (fields are "
        "camelCase)"
    ]


def test_each_algorithm_answers_for_its_own_settings() -> None:
    grid = load_study(manifest(algorithm={"name": "grid", "settings": {"gridPoints": 4}})).spec
    assert isinstance(grid.algorithm, GridAlgorithm) and grid.algorithm.grid_points == 4
    assert load_study(manifest(algorithm={"name": "random"})).spec.algorithm.grid_points is None
    rung = {"name": "asha", "settings": {"maxBudget": 27, "budgetParameter": "layers"}}
    asha = load_study(manifest(earlyStopping=rung)).spec
    assert isinstance(asha.early_stopping, AshaStopping)
    assert (asha.budget_parameter, asha.max_budget) == ("layers", 27)


def test_a_settings_model_of_another_algorithm_is_a_type_error_not_a_wrong_read() -> None:
    spec = load_study(manifest(algorithm={"name": "random"})).spec
    with pytest.raises(TypeError, match="'random' has RandomSettings, not BayesianSettings"):
        spec.algorithm.settings_as(BayesianSettings)
    grid = load_study(manifest(algorithm={"name": "grid", "settings": {"gridPoints": 3}})).spec
    assert grid.algorithm.settings_as(GridSettings).grid_points == 3

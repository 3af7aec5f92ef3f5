"""Conditional parameters (`when`): which parameters a trial has, how every sampler draws
them, how the GP sees a parameter a trial lacks, and what placeholders of it become."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from kubetune.api import StudySpec, load_study
from kubetune.api.parameters import active_names
from kubetune.controller import manifests
from kubetune.controller.settings import OperatorSettings
from kubetune.controller.workloads import job as job_kind
from kubetune.engine import NewTrial
from kubetune.engine.encoding import INACTIVE, build_space
from kubetune.engine.samplers import SAMPLERS
from kubetune.engine.samplers.bayesian.acquisition import Acquisition
from kubetune.engine.samplers.bayesian.sampler import BayesianSampler
from kubetune.engine.samplers.observed import observations
from kubetune.local.processes import build_command

from factories import history, manifest, trial

#: optimizer -> momentum (sgd only); n_layers -> one width per layer; a nested chain:
#: schedule only for sgd, warmup only for the cosine schedule.
PARAMETERS: list[dict[str, Any]] = [
    {"name": "lr", "type": "float", "min": 1e-4, "max": 0.1, "log": True},
    {"name": "optimizer", "type": "categorical", "values": ["adam", "sgd"]},
    {"name": "momentum", "type": "float", "min": 0.5, "max": 0.99, "when": {"optimizer": ["sgd"]}},
    {
        "name": "schedule",
        "type": "categorical",
        "values": ["step", "cosine"],
        "when": {"optimizer": ["sgd"]},
    },
    {"name": "warmup", "type": "int", "min": 0, "max": 5, "when": {"schedule": ["cosine"]}},
    {"name": "n_layers", "type": "int", "min": 1, "max": 3},
    {
        "name": "units_l2",
        "type": "int",
        "min": 8,
        "max": 64,
        "step": 8,
        "when": {"n_layers": [2, 3]},
    },
    {"name": "units_l3", "type": "int", "min": 8, "max": 64, "step": 8, "when": {"n_layers": [3]}},
]


def conditional_manifest(algorithm: dict[str, Any] | None = None) -> dict[str, Any]:
    document = manifest(parameters=PARAMETERS, algorithm=algorithm or {"name": "random"})
    container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["args"] = [
        "--lr=${trial.params.lr}",
        "--momentum=${trial.params.momentum}",
        "--tag=${trial.params.optimizer}-${trial.params.warmup}",
    ]
    container["env"] = [
        {"name": "MOMENTUM", "value": "${trial.params.momentum}"},
        {"name": "LAYERS", "value": "${trial.params.n_layers}"},
    ]
    return document


def conditional_spec(algorithm: dict[str, Any] | None = None) -> StudySpec:
    return load_study(conditional_manifest(algorithm)).spec


def expected(params: dict[str, Any]) -> set[str]:
    return set(active_names(conditional_spec().parameters, params))


def test_a_trial_has_a_conditional_parameter_only_where_its_chain_holds() -> None:
    parameters = conditional_spec().parameters
    adam = {"lr": 0.01, "optimizer": "adam", "schedule": "cosine", "n_layers": 1}
    assert active_names(parameters, adam) == ["lr", "optimizer", "n_layers"]
    sgd = {"optimizer": "sgd", "schedule": "cosine", "n_layers": 3}
    assert active_names(parameters, sgd) == [
        *("lr", "optimizer", "momentum", "schedule", "warmup"),
        *("n_layers", "units_l2", "units_l3"),
    ]
    # warmup's parent is inactive under adam: so is warmup, whatever schedule says
    assert "warmup" not in active_names(parameters, {**adam, "schedule": "cosine"})


def test_decode_drops_what_is_inactive_and_encode_puts_it_at_the_fixed_input() -> None:
    space = build_space(conditional_spec())
    rng = np.random.default_rng(0)
    seen: set[frozenset[str]] = set()
    for row in rng.random((400, space.size)):
        params = space.decode(row)
        assert set(params) == expected(params)
        seen.add(frozenset(params))
        encoded = space.encode(params)
        for d, u in zip(space.dims, encoded, strict=True):
            assert (u == INACTIVE) if d.param.name not in params else 0 <= u < 1
        assert space.decode(encoded) == params  # round trip, inactive ones staying out
    assert len(seen) == 3 + 2 * 3  # adam x 3 depths, sgd x 2 schedules x 3 depths


def test_the_vectorised_activity_agrees_with_the_rule() -> None:
    space = build_space(conditional_spec())
    units = np.random.default_rng(1).random((500, space.size))
    mask = space.active(units)
    for row, active in zip(units, mask, strict=True):
        names = {d.param.name for d, on in zip(space.dims, active, strict=True) if on}
        assert names == set(space.decode(row))


def test_grid_enumerates_each_distinct_trial_once() -> None:
    spec = conditional_spec({"name": "grid", "settings": {"gridPoints": 2}})
    space = build_space(spec)
    points = list(space.grid(2))
    keys = [space.key(p) for p in points]
    assert len(keys) == len(set(keys))
    for params in points:
        assert set(params) == expected(params)
    # by hand: lr 2 x [adam + sgd x (momentum 2 x (step + cosine x warmup 6))] x layers
    # (1 layer; 2 layers x 8 widths; 3 layers x 8 x 8)
    per_optimizer = 1 + 2 * (1 + 6)
    per_depth = 1 + 8 + 8 * 8
    assert len(points) == space.grid_size(2) == 2 * per_optimizer * per_depth
    sampler = SAMPLERS["grid"](spec, space, 0)
    first = sampler.suggest(history(), 5, np.random.default_rng(0))
    assert first == points[:5]


@pytest.mark.parametrize("name", ["random", "sobol", "bayesian", "tpe"])
def test_every_sampler_draws_only_the_parameters_a_trial_has(name: str) -> None:
    spec = conditional_spec({"name": name, "seed": 3})
    space = build_space(spec)
    sampler = SAMPLERS[name](spec, space, 3)
    rng = np.random.default_rng(3)
    trials = []
    for index in range(16):
        [params] = sampler.suggest(history(*trials), 1, rng)
        assert set(params) == expected(params), params
        score = (params.get("momentum", 0.5) - 0.9) ** 2 + 0.1 * (params["optimizer"] == "adam")
        trials.append(trial(index, params, objective=-score))
    depths = {t.params["n_layers"] for t in trials}
    assert len(depths) > 1


def test_the_gp_sees_an_inactive_parameter_as_one_fixed_input_not_noise() -> None:
    spec = conditional_spec({"name": "bayesian", "seed": 3})
    space = build_space(spec)
    sampler = SAMPLERS["bayesian"](spec, space, 3)
    assert isinstance(sampler, BayesianSampler)
    j = [d.param.name for d in space.dims].index("momentum")
    o = [d.param.name for d in space.dims].index("optimizer")
    units = np.random.default_rng(2).random((50, space.size))
    units[:, o] = 0.25  # adam: momentum inactive, whatever its unit value
    inputs = sampler.inputs(units)
    assert np.all(inputs[:, j] == INACTIVE)
    k = [d.param.name for d in space.dims].index("schedule")
    assert np.all(inputs[:, k] == -1.0)  # a categorical's own "absent" category
    units[:, o] = 0.75  # sgd: momentum active, snapped as any float
    assert np.allclose(sampler.inputs(units)[:, j], units[:, j])


def test_the_acquisition_has_no_slope_along_an_inactive_parameter() -> None:
    spec = conditional_spec({"name": "bayesian", "seed": 3})
    space = build_space(spec)
    sampler = SAMPLERS["bayesian"](spec, space, 3)
    assert isinstance(sampler, BayesianSampler)
    rng = np.random.default_rng(4)
    trials = []
    for index, row in enumerate(rng.random((20, space.size))):
        params = space.decode(row)
        trials.append(trial(index, params, objective=float(np.log10(params["lr"]))))
    names = [d.param.name for d in space.dims]
    # fit and reach the Acquisition the way a proposal does
    from kubetune.engine.samplers.bayesian import sampler as bayesian  # noqa: PLC0415

    observed = observations(history(*trials), space, sampler.goals, sampler.key)
    units = observed.units
    losses = observed.losses[:, 0]
    fit_x = sampler.inputs(units)
    values = bayesian._warp(losses)
    model = bayesian.gp.fit(fit_x, values, sampler.inputs.categorical)
    posterior = bayesian.gp.Posterior(fit_x, values, sampler.inputs.categorical, model)
    acquisition = Acquisition(sampler.inputs, posterior, float(values.min()), np.empty((0, 8)))
    point = sampler.inputs(rng.random((1, space.size)))
    point[0, names.index("optimizer")] = 0.0  # adam
    value, grad = acquisition(point, gradient=True)
    assert grad is not None
    assert grad[0, names.index("momentum")] == 0.0
    moved = point.copy()
    moved[0, names.index("momentum")] = 0.123
    assert acquisition(moved)[0][0] == value[0]


def test_a_placeholder_of_a_parameter_the_trial_lacks_drops_its_argument_and_env_var() -> None:
    document = conditional_manifest()
    study = load_study(document)
    adam = {"lr": 0.01, "optimizer": "adam", "n_layers": 1}
    argv, env, _ = build_command(study, "demo-1", adam, None)
    assert argv[2:] == ["--lr=0.01"]  # --momentum= and --tag= name parameters adam lacks
    assert "MOMENTUM" not in env and env["LAYERS"] == "1"
    sgd = {**adam, "optimizer": "sgd", "momentum": 0.9, "schedule": "cosine", "warmup": 2}
    argv, env, _ = build_command(study, "demo-1", sgd, None)
    assert argv[2:] == ["--lr=0.01", "--momentum=0.9", "--tag=sgd-2"]
    assert env["MOMENTUM"] == "0.9"
    # the operator's Job: the same rule
    owner = {**document, "metadata": {"name": "demo", "namespace": "ns", "uid": "u-1"}}
    owner["spec"]["trialTemplate"]["metadata"] = {
        "annotations": {"m": "m=${trial.params.momentum}"}
    }
    study = load_study(owner)
    trial_obj = manifests.build_trial(owner, NewTrial("demo-3", 3, adam, None))
    trial_obj["metadata"]["uid"] = "t-uid"
    settings = OperatorSettings(secret=b"s", sidecar_image="i", collector_url="http://c:8443")
    job = job_kind.build(study, trial_obj, "tok", settings)
    trainer = job["spec"]["template"]["spec"]["containers"][0]
    assert trainer["command"][-2:] == ["train.py", "--lr=0.01"]
    assert job["metadata"]["annotations"]["m"] == "m="  # outside a list: empty
    names = [e["name"] for e in trainer.get("env", [])]
    assert "MOMENTUM" not in names and "LAYERS" in names


@pytest.mark.parametrize(
    ("parameters", "words"),
    [
        (
            [{"name": "m", "type": "float", "min": 0, "max": 1, "when": {"opt": ["sgd"]}},
             {"name": "opt", "type": "categorical", "values": ["sgd"]}],
            "parameters[0].when.opt: must name a parameter declared before 'm'",
        ),
        (
            [{"name": "opt", "type": "categorical", "values": ["adam", "sgd"]},
             {"name": "m", "type": "float", "min": 0, "max": 1, "when": {"opt": ["SGD"]}}],
            "parameters[1].when.opt: opt never takes 'SGD'; its values are ['adam', 'sgd']",
        ),
        (
            [{"name": "x", "type": "float", "min": 0, "max": 1},
             {"name": "m", "type": "float", "min": 0, "max": 1, "when": {"x": [1]}}],
            "parameters[1].when.x: conditions read categorical or int parameters, not float",
        ),
        (
            [{"name": "n", "type": "int", "min": 1, "max": 3},
             {"name": "m", "type": "float", "min": 0, "max": 1, "when": {"n": [4]}}],
            "parameters[1].when.n: n never takes 4; it takes whole numbers from 1 to 3",
        ),
    ],
)  # fmt: skip
def test_a_bad_condition_is_refused_naming_the_field(
    parameters: list[dict[str, Any]], words: str
) -> None:
    from kubetune.api import InvalidStudyError  # noqa: PLC0415

    with pytest.raises(InvalidStudyError) as refused:
        load_study(manifest(parameters=parameters))
    assert any(words in p for p in refused.value.problems), refused.value.problems


def test_every_combination_of_parents_gives_a_consistent_set() -> None:
    parameters = conditional_spec().parameters
    for optimizer, schedule, layers in itertools.product(
        ["adam", "sgd"], ["step", "cosine"], [1, 2, 3]
    ):
        names = active_names(
            parameters, {"optimizer": optimizer, "schedule": schedule, "n_layers": layers}
        )
        assert ("momentum" in names) == (optimizer == "sgd")
        assert ("warmup" in names) == (optimizer == "sgd" and schedule == "cosine")
        assert ("units_l3" in names) == (layers == 3)

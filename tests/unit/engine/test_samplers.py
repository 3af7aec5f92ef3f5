"""Contract tests over every registered sampler, then what each one promises on its own."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from kubetune.api import StudySpec
from kubetune.engine import TrialState
from kubetune.engine.encoding import Params, Space, build_space
from kubetune.engine.history import History
from kubetune.engine.samplers import SAMPLERS
from kubetune.engine.samplers.bayesian import sampler as bayesian
from kubetune.engine.samplers.bayesian.acquisition import Acquisition
from kubetune.engine.samplers.bayesian.acquisition_search import LOCAL_SIDE, AcquisitionSearch
from kubetune.engine.samplers.bayesian.sampler import BayesianSampler

from factories import history, study, trial

GRID = {"name": "grid", "settings": {"gridPoints": 3}}


PBT = {"name": "pbt", "seed": 5, "settings": {"population": 4, "readyInterval": 3}}


def spec_for(name: str) -> StudySpec:
    algorithm = {"grid": GRID, "pbt": PBT}.get(name, {"name": name, "seed": 5})
    return study(algorithm=algorithm).spec


def in_space(space: Space, params: Params) -> bool:
    for d in space.dims:
        p, v = d.param, params[d.param.name]
        if p.type == "categorical":
            if v not in (p.values or []):
                return False
        elif not (p.min <= v <= p.max) or (p.type == "int" and not isinstance(v, int)):  # type: ignore[operator]
            return False
    return True


def bayesian_sampler() -> tuple[StudySpec, Space, BayesianSampler]:
    spec = spec_for("bayesian")
    space = build_space(spec)
    sampler = SAMPLERS["bayesian"](spec, space, 5)
    assert isinstance(sampler, BayesianSampler)
    return spec, space, sampler


def observed(spec: StudySpec, n: int, seed: int = 0) -> History:
    """n finished trials at random points, scored by a smooth function of the params."""
    space = build_space(spec)
    rng = np.random.default_rng(seed)
    trials = []
    for i in range(n):
        params = space.decode(rng.random(space.size).tolist())
        score = -((np.log10(params["lr"]) + 2.5) ** 2) - 0.1 * params["layers"]
        trials.append(trial(i, params, objective=float(score)))
    return history(*trials)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_handles_an_empty_history(name: str) -> None:
    spec = spec_for(name)
    space = build_space(spec)
    points = SAMPLERS[name](spec, space, 5).suggest(history(), 3, np.random.default_rng(0))
    assert len(points) == 3
    assert all(in_space(space, p) for p in points)


@pytest.mark.parametrize("name", sorted(SAMPLERS))
@pytest.mark.parametrize("n", [0, 3, 12])
def test_every_sampler_is_reproducible_from_seed_and_history(name: str, n: int) -> None:
    spec = spec_for(name)
    space = build_space(spec)
    past = observed(spec, n)
    first = SAMPLERS[name](spec, space, 5).suggest(past, 2, np.random.default_rng([5, n]))
    again = SAMPLERS[name](spec, space, 5).suggest(past, 2, np.random.default_rng([5, n]))
    assert first == again


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_stays_in_bounds_with_history(name: str) -> None:
    spec = spec_for(name)
    space = build_space(spec)
    points = SAMPLERS[name](spec, space, 5).suggest(observed(spec, 15), 4, np.random.default_rng(1))
    assert points
    assert all(in_space(space, p) for p in points)


@pytest.mark.parametrize("name", ["random", "sobol", "bayesian"])
def test_a_different_seed_gives_different_suggestions(name: str) -> None:
    spec = spec_for(name)
    space = build_space(spec)
    a = SAMPLERS[name](spec, space, 1).suggest(history(), 2, np.random.default_rng(1))
    b = SAMPLERS[name](spec, space, 2).suggest(history(), 2, np.random.default_rng(2))
    assert a != b


def test_grid_is_the_exact_cartesian_product_then_exhausted() -> None:
    spec = study(
        algorithm={"name": "grid"},
        parameters=[
            {"name": "a", "type": "int", "min": 1, "max": 3},
            {"name": "b", "type": "float", "min": 0, "max": 1, "step": 0.5},
            {"name": "c", "type": "categorical", "values": ["x", "y"]},
        ],
    ).spec
    space = build_space(spec)
    sampler = SAMPLERS["grid"](spec, space, 0)
    seen: list[Params] = []
    while True:
        past = history(*(trial(i, p, objective=0.0) for i, p in enumerate(seen)))
        batch = sampler.suggest(past, 4, np.random.default_rng(0))
        if not batch:
            break
        seen.extend(batch)
    expected = set(itertools.product([1, 2, 3], [0.0, 0.5, 1.0], ["x", "y"]))
    assert [tuple(p.values()) for p in seen] == sorted(
        expected, key=lambda t: (t[0], t[1], t[2] == "y")
    )
    assert len(seen) == len(expected) == 18


def test_grid_does_not_repeat_a_running_or_failed_point() -> None:
    spec = study(algorithm=GRID).spec
    sampler = SAMPLERS["grid"](spec, build_space(spec), 0)
    first = sampler.suggest(history(), 2, np.random.default_rng(0))
    past = history(
        trial(0, first[0], state=TrialState.RUNNING), trial(1, first[1], state=TrialState.FAILED)
    )
    assert not set(map(str, first)) & set(
        map(str, sampler.suggest(past, 2, np.random.default_rng(0)))
    )


def test_sobol_continues_the_same_sequence_after_a_restart() -> None:
    spec = spec_for("sobol")
    sampler = SAMPLERS["sobol"](spec, build_space(spec), 5)
    four = sampler.suggest(history(), 4, np.random.default_rng(0))
    two = sampler.suggest(
        history(trial(0, four[0]), trial(1, four[1])), 2, np.random.default_rng(9)
    )
    assert two == four[2:]


def test_bayesian_start_up_points_do_not_depend_on_how_trials_were_batched() -> None:
    spec = spec_for("bayesian")
    sampler = SAMPLERS["bayesian"](spec, build_space(spec), 5)
    four = sampler.suggest(history(), 4, np.random.default_rng(0))
    two = sampler.suggest(
        history(trial(0, four[0], state=TrialState.RUNNING, objective=None), trial(1, four[1])),
        2,
        np.random.default_rng(9),
    )
    assert two == four[2:]


def test_a_bayesian_batch_straddling_the_start_up_is_random_up_to_it_then_modelled() -> None:
    spec, space, sampler = bayesian_sampler()
    assert sampler.initial == 7  # 3 dims + 4
    batch = sampler.suggest(observed(spec, 4), 4, np.random.default_rng(1))
    assert batch[:3] == [space.decode(sampler._initial_point(i)) for i in (4, 5, 6)]
    assert batch[3] != space.decode(sampler._initial_point(7))


def test_bayesian_batch_is_spread_not_near_duplicates() -> None:
    spec = spec_for("bayesian")
    space = build_space(spec)
    batch = SAMPLERS["bayesian"](spec, space, 5).suggest(
        observed(spec, 20), 4, np.random.default_rng(3)
    )
    units = np.array([space.encode(p) for p in batch])
    distances = [np.abs(a - b).max() for a, b in itertools.combinations(units, 2)]
    assert len({str(p) for p in batch}) == 4
    assert min(distances) > 0.01


def test_bayesian_searches_one_trial_in_four_globally_the_rest_near_the_believed_best(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec, space, sampler = bayesian_sampler()
    past = observed(spec, 20)
    centres: list[np.ndarray] = []
    near = AcquisitionSearch.maximise_near

    def recording(self: AcquisitionSearch, acquisition: Any, centre: Any, *rest: Any) -> Any:
        centres.append(centre.copy())
        return near(self, acquisition, centre, *rest)

    monkeypatch.setattr(AcquisitionSearch, "maximise_near", recording)
    batch = sampler.suggest(past, 4, np.random.default_rng(3))
    assert batch[:1] == sampler.suggest(past, 1, np.random.default_rng(3))  # trial 20: global
    # asked one at a time as trials finish (the first still running), trial 21 is also local
    running = history(*past.trials, trial(20, batch[0], state=TrialState.RUNNING, objective=None))
    lone = sampler.suggest(running, 1, np.random.default_rng(4))
    assert len(centres) == 4  # trials 21-23 of the batch, then 21 alone
    best = min(past.trials, key=lambda t: -(t.objective or 0.0))  # the study maximises
    numeric = [j for j, d in enumerate(space.dims) if d.choices is None and d.param.type == "float"]
    assert numeric  # lr; ints and categoricals are swept over all their values
    # each centre is the best trial or a point of the same ask (or running) believed better
    candidates = [np.array(space.encode(p))[numeric] for p in [best.params, *batch]]
    for params, centre in zip(batch[1:] + lone, centres, strict=True):
        assert any(np.allclose(centre[numeric], c, atol=1e-9) for c in candidates)
        offset = np.abs(np.array(space.encode(params)) - centre)[numeric]
        assert offset.max() <= LOCAL_SIDE / 2 + 1e-9


def test_bayesian_improvement_is_over_the_best_of_real_and_believed_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec, _, sampler = bayesian_sampler()
    past = observed(spec, 20)
    [lone] = sampler.suggest(past, 1, np.random.default_rng(3))
    bars: list[tuple[float, float, float]] = []

    class Recording(Acquisition):
        def __init__(self, owner: BayesianSampler, posterior: Any, best: float, *rest: Any):
            bars.append((best, float(posterior.y[:20].min()), float(posterior.y[20:].min())))
            super().__init__(owner, posterior, best, *rest)

    monkeypatch.setattr(bayesian, "Acquisition", Recording)
    running = history(*past.trials, trial(20, lone, state=TrialState.RUNNING, objective=None))
    sampler.suggest(running, 1, np.random.default_rng(3))
    [(bar, real, believed)] = bars
    assert believed < real  # the running trial is the model's own pick: it expects to improve
    assert bar == believed


def test_bayesian_ignores_failed_trials() -> None:
    spec = spec_for("bayesian")
    space = build_space(spec)
    base = observed(spec, 13)
    failed = trial(13, space.decode([0.1, 0.1, 0.1]), state=TrialState.FAILED)
    poisoned = history(*base.trials, failed)
    sampler = SAMPLERS["bayesian"](spec, space, 5)
    # Same generator state: a failed trial must not change the model, only the trial count
    # (trials 13 and 14 are both searched near the best trial: neither index is a multiple
    # of GLOBAL_EVERY).
    a = sampler.suggest(base, 1, np.random.default_rng(7))
    b = sampler.suggest(poisoned, 1, np.random.default_rng(7))
    assert a == b


def test_bayesian_avoids_what_is_already_running() -> None:
    spec, _, sampler = bayesian_sampler()
    past = observed(spec, 15)
    [first] = sampler.suggest(past, 1, np.random.default_rng(2))
    running = history(*past.trials, trial(15, first, state=TrialState.RUNNING, objective=None))
    [second] = sampler.suggest(running, 1, np.random.default_rng(2))
    assert second != first


def test_bayesian_finds_the_optimum_region_of_a_smooth_function() -> None:
    spec, _, sampler = bayesian_sampler()
    points = sampler.suggest(observed(spec, 25), 1, np.random.default_rng(0))
    # the optimum is lr = 10^-2.5 with 1 layer; a GP on 25 points should land near it
    assert abs(np.log10(points[0]["lr"]) + 2.5) < 0.5


def test_bayesian_refinement_leaves_ints_to_the_sweep_and_never_ends_worse() -> None:
    """An acquisition whose best x depends on an int k, and whose peak in k (0.52) falls
    between two of k's values, 0.5 (k = 5) and 0.59 (k = 6), as a model interpolating between
    ints does. Climbed as if continuous, k slid to 0.52 and took x with it; snapped back to
    k = 5, it left x in the wrong place. The best the search can give is k = 5 with x at its
    best for k = 5."""
    spec = study(
        parameters=[
            {"name": "x", "type": "float", "min": 0.0, "max": 1.0},
            {"name": "k", "type": "int", "min": 0, "max": 10},
        ],
        algorithm={"name": "bayesian", "seed": 1},
    ).spec
    sampler = SAMPLERS["bayesian"](spec, build_space(spec), 1)
    assert isinstance(sampler, BayesianSampler)

    def best_x(k: np.ndarray) -> np.ndarray:
        return 0.3 + 4.0 * (k - 0.5)

    def acquisition(points: np.ndarray, gradient: bool = False) -> tuple[Any, Any]:
        x, k = points[:, 0], points[:, 1]
        value = -((x - best_x(k)) ** 2) - 10.0 * (k - 0.52) ** 2
        if not gradient:
            return value, None
        d_x = -2.0 * (x - best_x(k))
        d_k = 8.0 * (x - best_x(k)) - 20.0 * (k - 0.52)
        return value, np.stack([d_x, d_k], axis=1)

    start = np.array([0.95, 6.5 / 11])  # k = 6, x far from its best
    refined = sampler.search.refine(acquisition, start)  # type: ignore[arg-type]
    assert refined[1] == 5.5 / 11  # k = 5, on its value: the sweep chose it
    assert refined[0] == pytest.approx(0.3, abs=1e-4)  # x at its best for k = 5
    assert acquisition(refined[None, :])[0][0] == pytest.approx(-10 * 0.02**2, abs=1e-7)
    # and never worse than where it started, whatever the acquisition does
    assert acquisition(refined[None, :])[0][0] >= acquisition(start[None, :])[0][0]

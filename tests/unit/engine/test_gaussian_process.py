"""The bayesian sampler's Gaussian process and acquisition: hand-written gradients checked
against finite differences, the pending-point update against conditioning from scratch."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from kubetune.engine.encoding import build_space
from kubetune.engine.samplers import SAMPLERS
from kubetune.engine.samplers.bayesian import gaussian_process as gp
from kubetune.engine.samplers.bayesian import sampler as bayesian
from kubetune.engine.samplers.bayesian.acquisition import SEPARATION, Acquisition, log_h

from factories import study

CATEGORICAL = np.array([False, False, False, True])


def data(n: int = 30, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4))
    x[:, 3] = rng.integers(0, 3, n)
    y = np.sin(3 * x[:, 0]) + x[:, 1] ** 2 + 0.3 * x[:, 3]
    return x, (y - y.mean()) / y.std()


def numeric_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.array([(f(x + e) - f(x - e)) / (2 * eps) for e in np.eye(len(x)) * eps])


def test_the_posterior_gradient_of_the_hyperparameters_is_exact() -> None:
    x, y = data()
    diffs = gp._differences(x, x, CATEGORICAL)
    theta = np.random.default_rng(2).normal(0, 0.5, 6)
    _, grad = gp._negative_log_posterior(theta, y, diffs)
    expected = numeric_gradient(lambda t: gp._negative_log_posterior(t, y, diffs)[0], theta)
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6)


def test_prediction_gradients_match_finite_differences() -> None:
    x, y = data()
    posterior = gp.Posterior(x, y, CATEGORICAL, gp.fit(x, y, CATEGORICAL))
    points = np.random.default_rng(3).random((5, 4))
    points[:, 3] = 1
    _, _, d_mean, d_var = posterior.predict_with_gradient(points)
    for j in range(3):
        step = np.zeros(4)
        step[j] = 1e-6
        mean_hi, var_hi = posterior.predict(points + step)
        mean_lo, var_lo = posterior.predict(points - step)
        np.testing.assert_allclose(d_mean[:, j], (mean_hi - mean_lo) / 2e-6, atol=1e-5)
        np.testing.assert_allclose(d_var[:, j], (var_hi - var_lo) / 2e-6, atol=1e-4)
    assert np.all(d_mean[:, 3] == 0) and np.all(d_var[:, 3] == 0)


def test_a_pending_point_keeps_the_mean_and_equals_conditioning_from_scratch() -> None:
    x, y = data()
    params = gp.fit(x, y, CATEGORICAL)
    posterior = gp.Posterior(x, y, CATEGORICAL, params)
    pending = np.array([[0.2, 0.3, 0.4, 1.0], [0.8, 0.1, 0.5, 2.0]])
    extended = posterior.with_pending(pending)
    first_mean = posterior.predict(pending[:1])[0]
    second_mean = posterior.with_pending(pending[:1]).predict(pending[1:])[0]
    scratch = gp.Posterior(
        np.vstack([x, pending]), np.concatenate([y, first_mean, second_mean]), CATEGORICAL, params
    )
    probe = np.random.default_rng(4).random((6, 4))
    probe[:, 3] = 0
    np.testing.assert_allclose(extended.predict(probe)[1], scratch.predict(probe)[1], atol=1e-9)
    np.testing.assert_allclose(extended.predict(probe)[0], posterior.predict(probe)[0], atol=1e-9)
    # ...and the variance at the pending points themselves has collapsed
    assert np.all(extended.predict(pending)[1] < 0.01 * posterior.predict(pending)[1])


def test_the_fitted_model_generalises_on_a_smooth_function() -> None:
    x, y = data(40)
    held_x, held_y = data(20, seed=9)
    # the same standardisation as the training data: compare shapes, not offsets
    raw = np.sin(3 * held_x[:, 0]) + held_x[:, 1] ** 2 + 0.3 * held_x[:, 3]
    train_raw = np.sin(3 * data(40)[0][:, 0]) + data(40)[0][:, 1] ** 2 + 0.3 * data(40)[0][:, 3]
    held_y = (raw - train_raw.mean()) / train_raw.std()
    posterior = gp.Posterior(x, y, CATEGORICAL, gp.fit(x, y, CATEGORICAL))
    mean, _ = posterior.predict(held_x)
    residual = np.sum((mean - held_y) ** 2) / np.sum((held_y - held_y.mean()) ** 2)
    assert residual < 0.05  # R^2 > 0.95


def test_category_order_means_nothing_to_the_kernel() -> None:
    x, y = data()
    relabelled = x.copy()
    relabelled[:, 3] = (2 - x[:, 3]) % 3  # 0 <-> 2, 1 stays
    params = gp.fit(x, y, CATEGORICAL)
    a = gp.Posterior(x, y, CATEGORICAL, params)
    b = gp.Posterior(relabelled, y, CATEGORICAL, params)
    probe = np.random.default_rng(5).random((4, 4))
    probe[:, 3] = 0
    flipped = probe.copy()
    flipped[:, 3] = 2
    np.testing.assert_allclose(a.predict(probe)[0], b.predict(flipped)[0], atol=1e-12)


def test_log_expected_improvement_is_exact_where_it_can_be_and_finite_beyond() -> None:
    z = np.linspace(-30, 5, 71)
    exact, slope = log_h(z)
    with np.errstate(divide="ignore"):
        direct = np.log(z * norm.cdf(z) + norm.pdf(z))
    ok = np.isfinite(direct)
    np.testing.assert_allclose(exact[ok], direct[ok], rtol=1e-9)
    np.testing.assert_allclose(slope, numeric_gradient_vector(z), rtol=1e-5)
    far, far_slope = log_h(np.array([-100.0, -1e3, -1e5]))
    assert np.all(np.isfinite(far)) and np.all(np.diff(far) < 0) and np.all(far_slope > 0)


def numeric_gradient_vector(z: np.ndarray) -> np.ndarray:
    return (log_h(z + 1e-6)[0] - log_h(z - 1e-6)[0]) / 2e-6


@pytest.mark.parametrize("kind", ["ei", "pi", "lcb"])
def test_the_acquisition_gradient_matches_finite_differences(kind: str) -> None:
    spec = study(algorithm={"name": "bayesian", "seed": 1, "settings": {"acquisition": kind}}).spec
    space = build_space(spec)
    sampler = SAMPLERS["bayesian"](spec, space, 1)
    assert isinstance(sampler, bayesian.BayesianSampler)
    rng = np.random.default_rng(6)
    units = rng.random((25, space.size))
    losses = np.array([np.sin(5 * u[0]) + u[1] for u in units])
    inputs = sampler.inputs(units)
    values = bayesian._warp(losses)
    posterior = gp.Posterior(
        inputs,
        values,
        sampler.inputs.categorical,
        gp.fit(inputs, values, sampler.inputs.categorical),
    )
    pending = sampler.inputs.to_units(inputs[:2]) + 0.01
    acquisition = Acquisition(sampler.inputs, posterior, float(values.min()), pending)
    point = sampler.inputs(rng.random((1, space.size)))[0]
    _, grad = acquisition(point[None, :], gradient=True)
    assert grad is not None
    numeric = ~sampler.inputs.categorical
    for j in np.flatnonzero(numeric):
        step = np.zeros(space.size)
        step[j] = 1e-6
        hi, _ = acquisition((point + step)[None, :])
        lo, _ = acquisition((point - step)[None, :])
        assert grad[0, j] == pytest.approx((hi[0] - lo[0]) / 2e-6, rel=1e-4, abs=1e-6)


def test_warping_keeps_the_order_and_spreads_the_good_end_of_a_skewed_metric() -> None:
    losses = np.exp(np.random.default_rng(8).normal(0, 1.5, 40))  # log-normal: a long tail
    warped = bayesian._warp(losses)
    assert list(np.argsort(warped)) == list(np.argsort(losses))
    assert abs(warped.mean()) < 1e-9 and warped.std() == pytest.approx(1.0)
    plain = (losses - losses.mean()) / losses.std()
    best = np.argsort(losses)[:10]
    assert np.ptp(warped[best]) > 3 * np.ptp(plain[best])
    assert np.all(bayesian._warp(np.full(5, 2.0)) == 0.0)


def test_model_inputs_are_the_cells_that_decode_gives() -> None:
    """The sampler's vectorised snapping agrees with Dimension.decode/encode for every kind."""
    spec = study(
        parameters=[
            {"name": "f", "type": "float", "min": -2, "max": 3},
            {"name": "lf", "type": "float", "min": 1e-4, "max": 1, "log": True},
            {"name": "sf", "type": "float", "min": 0, "max": 1, "step": 0.25},
            {"name": "i", "type": "int", "min": 1, "max": 7},
            {"name": "li", "type": "int", "min": 1, "max": 1000, "log": True},
            {"name": "c", "type": "categorical", "values": ["a", "b", "c"]},
        ],
        algorithm={"name": "bayesian", "seed": 1},
    ).spec
    space = build_space(spec)
    sampler = SAMPLERS["bayesian"](spec, space, 1)
    assert isinstance(sampler, bayesian.BayesianSampler)
    units = np.random.default_rng(10).random((200, space.size))
    inputs = sampler.inputs(units)
    for row, unit in zip(inputs, units, strict=True):
        params = space.decode(unit.tolist())
        for j, d in enumerate(space.dims):
            if d.param.type == "categorical":
                assert d.param.values is not None
                assert row[j] == d.param.values.index(params[d.param.name])
            else:
                assert row[j] == pytest.approx(d.encode(params[d.param.name]), abs=1e-12)
        assert space.decode(sampler.inputs.to_units(row[None, :])[0].tolist()) == params


def test_a_long_history_is_cut_to_a_bounded_model_keeping_the_best() -> None:
    rng = np.random.default_rng(7)
    inputs, values = rng.random((3000, 3)), rng.normal(size=3000)
    kept_x, kept_y = bayesian._keep_informative(inputs, values, 800, np.random.default_rng(1))
    assert len(kept_y) == 800
    assert set(np.sort(values)[:400]) <= set(kept_y)
    again = bayesian._keep_informative(inputs, values, 800, np.random.default_rng(1))
    assert np.array_equal(again[0], kept_x)


def _sampler_and_results() -> tuple[bayesian.BayesianSampler, np.ndarray, np.ndarray]:
    """A three-input bayesian sampler and 12 results (unit points, values lowest first)."""
    spec = study(algorithm={"name": "bayesian", "seed": 1}).spec
    sampler = SAMPLERS["bayesian"](spec, build_space(spec), 1)
    assert isinstance(sampler, bayesian.BayesianSampler)
    return sampler, np.random.default_rng(11).random((12, 3)), np.linspace(-1, 1, 12)


def test_a_point_within_the_radius_of_a_pending_one_is_never_proposed() -> None:
    sampler, x, y = _sampler_and_results()
    inputs = sampler.inputs(x)
    posterior = gp.Posterior(
        inputs, y, sampler.inputs.categorical, gp.fit(inputs, y, sampler.inputs.categorical)
    )
    pending = np.array([[0.5, 0.5, 0.5]])
    acquisition = Acquisition(sampler.inputs, posterior, -1.0, pending)
    assert acquisition.radius == pytest.approx(SEPARATION * np.sqrt(3))
    assert acquisition.crowds(pending[0] + acquisition.radius / 2)  # 0.87 r away
    assert not acquisition.crowds(pending[0] + acquisition.radius * 0.6)  # 1.04 r away
    assert not Acquisition(sampler.inputs, posterior, -1.0, pending[:0]).crowds(pending[0])
    # a trial already running is penalised, not fenced off (the operator keeps several running)
    near = pending[0] + acquisition.radius / 2
    running = Acquisition(sampler.inputs, posterior, -1.0, pending, running=1)
    assert not running.crowds(near)
    assert running._penalty(near[None, :])[0][0] < -0.5


def test_a_local_pick_searches_around_a_pending_point_the_model_believes_better() -> None:
    sampler, x, y = _sampler_and_results()
    inputs = sampler.inputs(x)
    params = gp.fit(inputs, y, sampler.inputs.categorical)
    best_trial = x[0]  # y is lowest there
    pending = sampler.inputs(np.array([[0.9, 0.9, 0.9]]))

    def believing(value: float) -> gp.Posterior:
        rows, values = np.vstack([inputs, pending]), np.append(y, value)
        return gp.Posterior(rows, values, sampler.inputs.categorical, params)

    alone = gp.Posterior(inputs, y, sampler.inputs.categorical, params)
    assert np.array_equal(sampler._believed_best(alone, 12, best_trial), best_trial)
    assert np.array_equal(sampler._believed_best(believing(-0.5), 12, best_trial), best_trial)
    centre = sampler._believed_best(believing(-1.5), 12, best_trial)
    assert np.allclose(centre, sampler.inputs.to_units(pending)[0])

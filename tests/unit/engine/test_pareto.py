"""Pareto ranks, crowding and hypervolume; the box decomposition and EHVI that `bayesian`
maximises with several objectives, checked against brute force and Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kubetune.engine import pareto
from kubetune.engine.pareto import (
    crowding,
    dominates,
    front_mask,
    hypervolume,
    nondominated_ranks,
)
from kubetune.engine.samplers.bayesian.hypervolume import (
    _log_factor,
    box_decomposition,
    spread_rows,
    thin_front,
)


def test_dominance_needs_no_worse_everywhere_and_better_somewhere() -> None:
    assert dominates(np.array([1.0, 2.0]), np.array([1.0, 3.0]))
    assert not dominates(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    assert not dominates(np.array([0.0, 3.0]), np.array([1.0, 2.0]))


def test_ranks_peel_fronts_in_order_and_equal_rows_share_a_rank() -> None:
    losses = np.array([[0, 2], [1, 1], [2, 0], [1, 2], [2, 2], [1, 1], [3, 3]], dtype=float)
    assert list(nondominated_ranks(losses)) == [0, 0, 0, 1, 2, 0, 3]


def test_crowding_keeps_the_ends_infinite_and_ranks_the_lonely_higher() -> None:
    front = np.array([[0, 4], [1, 3], [1.1, 2.9], [4, 0]], dtype=float)
    distance = crowding(front)
    assert math.isinf(distance[0]) and math.isinf(distance[3])
    assert distance[1] < math.inf and distance[2] < math.inf
    thinned = thin_front(front, 3)
    assert len(thinned) == 3
    assert [0, 4] in thinned.tolist() and [4, 0] in thinned.tolist()
    # one of the close pair (rows 1 and 2) goes; the ends stay; a limit above the size keeps all
    assert spread_rows(front, 3) in ([0, 2, 3], [0, 1, 3])
    assert spread_rows(front, 10) == [0, 1, 2, 3]


def test_two_dimensional_hypervolume_is_the_union_of_rectangles() -> None:
    front = np.array([[1, 3], [2, 2], [3, 1]], dtype=float)
    # reference (4, 4): 3x1 + 2x1 + 1x1 stacked = 6
    assert hypervolume(front, np.array([4.0, 4.0])) == pytest.approx(6.0)
    # dominated and out-of-reference points add nothing
    more = np.vstack([front, [[3, 3], [5, 0]]])
    assert hypervolume(more, np.array([4.0, 4.0])) == pytest.approx(6.0)
    assert hypervolume(np.empty((0, 2)), np.array([4.0, 4.0])) == 0.0


@pytest.mark.parametrize("objectives", [3, 4])
def test_higher_dimensional_hypervolume_matches_a_grid_count(objectives: int) -> None:
    rng = np.random.default_rng(objectives)
    points = rng.random((12, objectives))
    reference = np.full(objectives, 1.0)
    exact = hypervolume(points, reference)
    # count a regular grid of cell centres dominated by some point
    side = 24 if objectives == 3 else 12
    axis = (np.arange(side) + 0.5) / side
    cells = np.stack(np.meshgrid(*[axis] * objectives, indexing="ij"), -1).reshape(-1, objectives)
    covered = np.any(np.all(points[None, :, :] <= cells[:, None, :], axis=2), axis=1)
    assert exact == pytest.approx(covered.mean(), abs=0.06)


@pytest.mark.parametrize("objectives", [2, 3, 4])
def test_the_boxes_give_the_exact_hypervolume_improvement_of_any_point(objectives: int) -> None:
    rng = np.random.default_rng(10 + objectives)
    points = rng.random((14, objectives))
    front = points[nondominated_ranks(points) == 0]
    reference = np.full(objectives, 1.2)
    lower, upper = box_decomposition(front, reference)
    for _ in range(20):
        y = rng.random(objectives) * 1.3 - 0.1
        gained = hypervolume(np.vstack([front, y]), reference) - hypervolume(front, reference)
        boxes = np.prod(np.clip(upper - np.maximum(lower, y), 0, None), axis=1).sum()
        assert boxes == pytest.approx(gained, abs=1e-9)


def test_an_empty_front_leaves_one_box_up_to_the_reference() -> None:
    lower, upper = box_decomposition(np.empty((0, 2)), np.array([1.0, 2.0]))
    assert lower.tolist() == [[-math.inf, -math.inf]]
    assert upper.tolist() == [[1.0, 2.0]]


def _log_ehvi(mean: np.ndarray, sd: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    total = np.zeros(len(lower))
    for j in range(len(mean)):
        log_f, _, _ = _log_factor(
            np.array([[mean[j]]]), np.array([[sd[j]]]), lower[None, :, j], upper[None, :, j]
        )
        total = total + log_f[0]
    return float(np.log(np.exp(total).sum()))


@pytest.mark.parametrize("objectives", [2, 3])
def test_expected_improvement_in_hypervolume_matches_monte_carlo(objectives: int) -> None:
    rng = np.random.default_rng(objectives)
    points = rng.random((10, objectives))
    front = points[nondominated_ranks(points) == 0]
    lower, upper = box_decomposition(front, np.full(objectives, 1.2))
    mean, sd = rng.random(objectives), 0.2 + 0.3 * rng.random(objectives)
    draws = mean + sd * rng.standard_normal((100_000, objectives))
    gains = np.prod(
        np.clip(upper[None] - np.maximum(lower[None], draws[:, None, :]), 0, None), axis=2
    ).sum(1)
    assert math.exp(_log_ehvi(mean, sd, lower, upper)) == pytest.approx(gains.mean(), rel=0.02)


def test_the_log_factor_slopes_match_finite_differences_far_from_the_box_too() -> None:
    lower, upper = np.array([[-math.inf, 0.5]]), np.array([[0.2, 0.9]])
    for mean, sd in ((0.4, 0.3), (6.0, 0.4)):  # the second is many sigmas from both boxes
        log_f, d_mu, d_sigma = _log_factor(np.array([[mean]]), np.array([[sd]]), lower, upper)
        assert np.all(np.isfinite(log_f))
        step = 1e-6
        up = _log_factor(np.array([[mean + step]]), np.array([[sd]]), lower, upper)[0]
        down = _log_factor(np.array([[mean - step]]), np.array([[sd]]), lower, upper)[0]
        assert d_mu[0] == pytest.approx(((up - down) / (2 * step))[0], rel=1e-4, abs=1e-6)
        up = _log_factor(np.array([[mean]]), np.array([[sd + step]]), lower, upper)[0]
        down = _log_factor(np.array([[mean]]), np.array([[sd - step]]), lower, upper)[0]
        assert d_sigma[0] == pytest.approx(((up - down) / (2 * step))[0], rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("objectives", [2, 3])
def test_the_sweep_and_the_peeling_agree_with_the_dominance_matrix(objectives: int) -> None:
    rng = np.random.default_rng(objectives)
    losses = np.round(rng.random((300, objectives)), 1)  # rounded: many ties and equal rows
    by_matrix = nondominated_ranks(losses)
    assert list(front_mask(losses)) == list(by_matrix == 0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pareto, "MATRIX_ROWS", 10)
        assert list(nondominated_ranks(losses)) == list(by_matrix)

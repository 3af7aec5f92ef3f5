"""The `tpe` sampler: its densities, its split, and that it learns where the good trials are."""

from __future__ import annotations

import numpy as np

from kubetune.engine.encoding import build_space
from kubetune.engine.pareto import hypervolume
from kubetune.engine.samplers import SAMPLERS
from kubetune.engine.samplers.tpe.below import MIN_WEIGHT, below_rows, contribution_weights
from kubetune.engine.samplers.tpe.parzen import Parzen, gap_bandwidths
from kubetune.engine.samplers.tpe.sampler import TpeSampler, below_count, candidates

from factories import history, study, trial

PARAMETERS = [
    {"name": "x", "type": "float", "min": 0.0, "max": 1.0},
    {"name": "k", "type": "int", "min": 0, "max": 4},
    {"name": "kind", "type": "categorical", "values": ["a", "b", "c"]},
]


def sampler_for(parameters: list[dict[str, object]] = PARAMETERS) -> TpeSampler:
    spec = study(parameters=parameters, algorithm={"name": "tpe", "seed": 2}).spec
    sampler = SAMPLERS["tpe"](spec, build_space(spec), 2)
    assert isinstance(sampler, TpeSampler)
    return sampler


def test_each_kernel_is_as_wide_as_the_larger_gap_to_its_neighbours_on_each_input() -> None:
    """Crowded good trials give narrow kernels, lone ones wide; the outermost take the gap
    inward; no kernel narrower than 1 / min(100, m + 1) or wider than the box."""
    centres = np.array([[0.50, 0.1], [0.52, 0.9], [0.55, 0.5], [0.90, 0.3]])
    widths = gap_bandwidths(centres)
    floor = 1 / 5
    # input 0, in order 0.50, 0.52, 0.55, 0.90: gaps inward 0.02 (first), max(0.02, 0.03),
    # max(0.03, 0.35), inward 0.35 (last)
    assert np.allclose(widths[:, 0], [max(0.02, floor), max(0.03, floor), 0.35, 0.35])
    # input 1, in order 0.1, 0.3, 0.5, 0.9: first 0.2, then 0.2, 0.4, last 0.4 (row order kept)
    assert np.allclose(widths[:, 1], [0.2, 0.4, 0.4, 0.2])
    many = np.linspace(0.3, 0.31, 200)[:, None]
    assert np.allclose(gap_bandwidths(many), 0.01)  # the floor past 99 trials: 1 / 100
    assert np.allclose(gap_bandwidths(np.array([[0.2]])), 0.8)  # alone: the box's far edge
    assert gap_bandwidths(np.empty((0, 3))).shape == (0, 3)


def test_a_parzen_estimator_is_a_density_on_the_box() -> None:
    """Truncated to the unit box, each numeric kernel keeps its mass inside it: the mixture
    integrates to 1 along a numeric input, and sums to 1 over a categorical's values."""
    sampler = sampler_for()
    centres = np.array([[0.02, 0.5, 0.5], [0.7, 0.1, 0.83], [0.99, 0.9, 0.17]])
    parzen = sampler.parzen([0, 1, 2], centres)
    grid = (np.arange(20000) + 0.5) / 20000
    for j in (0, 1):  # x, and the int k (climbed in the box, snapped on decode)
        for fixed in ([0.3, 0.3, 0.5], [0.9, 0.7, 0.17]):
            points = np.tile(fixed, (len(grid), 1))
            points[:, j] = grid
            along = np.exp(parzen.log_density(points)).mean()
            rest = np.tile(fixed, (3, 1))
            rest[:, 2] = [1 / 6, 1 / 2, 5 / 6]
            # the density along j, divided by the marginal of the other two, is 1
            marginal = _marginal(parzen, fixed, j, grid)
            assert abs(along - marginal) < 1e-3 * marginal
    total = sum(
        np.exp(parzen.log_density(np.array([[0.4, 0.5, (c + 0.5) / 3]])))[0] for c in range(3)
    )
    single = _marginal(parzen, [0.4, 0.5, 0.5], 2, None)
    assert abs(total - single) < 1e-9 * max(single, 1.0)


def _marginal(parzen: Parzen, fixed: list[float], j: int, grid: np.ndarray | None) -> float:
    """The mixture's density at `fixed` with input j integrated out (by the same rule)."""
    m = len(parzen.weights)
    value = 0.0
    for c in range(m):
        piece = Parzen.__new__(Parzen)
        piece.__dict__.update(parzen.__dict__)
        piece.weights = np.full(m, 1e-300)  # one component alone
        piece.weights[c] = 1.0
        if grid is None:
            values = [
                np.exp(piece.log_density(np.array([[*fixed[:2], (v + 0.5) / 3]])))[0]
                for v in range(3)
            ]
            integral = sum(values)
        else:
            points = np.tile(fixed, (len(grid), 1))
            points[:, j] = grid
            integral = float(np.exp(piece.log_density(points)).mean())
        value += parzen.weights[c] * integral
    return value


def test_the_below_group_is_a_tenth_between_one_and_twenty_five() -> None:
    assert [below_count(n) for n in (1, 9, 10, 11, 100, 250, 10_000)] == [1, 1, 1, 2, 10, 25, 25]


def test_a_pick_draws_64_candidates_up_to_1000_trials_and_24_past_them(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """More draws from l while the estimators are small (wells-8d measured it), Optuna's 24
    once each draw's density is a pass over thousands of kernels (the ask's latency)."""
    drawn: list[int] = []
    real = Parzen.sample

    def counting(self: Parzen, count: int, rng: np.random.Generator) -> np.ndarray:
        drawn.append(count)
        return real(self, count, rng)

    monkeypatch.setattr(Parzen, "sample", counting)
    sampler = sampler_for([{"name": "x", "type": "float", "min": 0.0, "max": 1.0}])
    rng = np.random.default_rng(0)
    for size in (50, 1001):
        trials = [
            trial(i, {"x": float(x)}, objective=float(x)) for i, x in enumerate(rng.random(size))
        ]
        sampler.suggest(history(*trials), 1, np.random.default_rng(1))
    assert drawn == [64, 24]
    assert [candidates(n) for n in (1, 1000, 1001)] == [64, 64, 24]


def test_tpe_learns_where_the_good_trials_are() -> None:
    """Over 4 studies of 200 random trials (20 below: l's bandwidths are the gaps between
    those 20, at least 1/21), a batch of 16 picks each: mostly the good kind, near the best x
    and k, and no two picks of a batch alike (the liar). Random picks: a third "b", x 0.3
    from 0.8 in the median."""
    picks = []
    for seed in range(4):
        sampler = sampler_for()
        rng = np.random.default_rng(seed)
        trials = []
        for index, row in enumerate(rng.random((200, sampler.space.size))):
            p = sampler.space.decode(row)
            loss = 2 * (p["x"] - 0.8) ** 2 + 0.2 * abs(p["k"] - 3) + 0.3 * (p["kind"] != "b")
            trials.append(trial(index, p, objective=-loss))
        batch = sampler.suggest(history(*trials), 16, np.random.default_rng(seed))
        assert len({tuple(p.values()) for p in batch}) == 16
        picks += batch
    assert sum(p["kind"] == "b" for p in picks) >= 0.7 * len(picks)
    assert np.median([abs(p["x"] - 0.8) for p in picks]) < 0.12
    assert np.median([p["k"] for p in picks]) == 3


def test_running_trials_push_the_next_pick_away() -> None:
    """A constant liar: a running trial counts as the worst result, so picks avoid its spot."""
    sampler = sampler_for([{"name": "x", "type": "float", "min": 0.0, "max": 1.0}])
    rng = np.random.default_rng(1)
    trials = [
        trial(i, {"x": float(x)}, objective=-abs(float(x) - 0.5))
        for i, x in enumerate(rng.random(100))
    ]
    alone = sampler.suggest(history(*trials), 1, np.random.default_rng(3))[0]["x"]
    from kubetune.engine import TrialState  # noqa: PLC0415

    crowded = trials + [
        trial(100 + i, {"x": 0.5 + d}, state=TrialState.RUNNING)
        for i, d in enumerate(np.linspace(-0.04, 0.04, 9))
    ]
    pushed = sampler.suggest(history(*crowded), 1, np.random.default_rng(3))[0]["x"]
    assert abs(alone - 0.5) < 0.1
    assert abs(pushed - 0.5) > abs(alone - 0.5)


def test_with_several_objectives_below_takes_whole_fronts_then_what_adds_most_hypervolume() -> None:
    """Front 0 (three trials) fits and is taken whole; from front 1 (on a curve) the member
    that alone covers the most hypervolume (a middle one; the study's ranking, by crowding,
    would take an end), then the one that adds the most to it."""
    front0 = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    t = np.linspace(0.0, 1.0, 7)
    front1 = np.column_stack([0.2 + 1.6 * t, 0.2 + 1.6 * (1 - t) ** 2])
    losses = np.vstack([front0, front1, [[4.0, 4.0]]])
    crowded_first = [0, 1, 2, 3, 9, 4, 5, 6, 7, 8, 10]  # ends of each front first
    ranking = np.empty(len(losses))
    ranking[crowded_first] = np.arange(len(losses), dtype=float)
    feasible = np.ones(len(losses), dtype=bool)
    reference = losses.max(axis=0) + 0.1 * np.ptp(losses, axis=0)
    one = below_rows(losses, ranking, feasible, 4)
    assert set(one[:3]) == {0, 1, 2}
    alone = [hypervolume(losses[[row]], reference) for row in range(3, 10)]
    assert one[3] == 3 + int(np.argmax(alone))
    two = below_rows(losses, ranking, feasible, 5)
    assert two[3] == one[3]
    pairs = {row: hypervolume(losses[[one[3], row]], reference) for row in range(3, 10)}
    assert two[4] == max((r for r in pairs if r != one[3]), key=pairs.__getitem__)


def test_below_rows_leave_infeasible_trials_for_last() -> None:
    losses = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    feasible = np.array([False, True, True])
    ranking = np.array([2.0, 0.0, 1.0])  # the study's ranking: feasible first
    assert list(below_rows(losses, ranking, feasible, 2)) == [1, 2]
    assert list(below_rows(losses, ranking, feasible, 3)) == [1, 2, 0]


def test_a_below_trial_weighs_what_it_alone_adds_to_the_front() -> None:
    """Two near-twins share the hypervolume they cover, so each weighs less than a lone one."""
    losses = np.array([[0.0, 1.0], [0.5, 0.5], [0.51, 0.49], [1.0, 0.0]])
    weights = contribution_weights(losses, np.arange(4))
    assert weights.max() == 1.0 and weights.min() >= MIN_WEIGHT
    assert weights[1] < weights[0] and weights[2] < weights[3]


def test_with_several_objectives_each_input_is_its_own_estimator() -> None:
    objectives = [{"metric": "a", "goal": "minimize"}, {"metric": "b", "goal": "minimize"}]
    spec = study(objective=None, objectives=objectives, algorithm={"name": "tpe"}).spec
    several = SAMPLERS["tpe"](spec, build_space(spec), 0)
    assert isinstance(several, TpeSampler)
    assert several.groups == [[0], [1], [2]]
    assert sampler_for().groups == [[0, 1, 2]]

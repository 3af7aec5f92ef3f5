"""Population-based training's decisions (engine/pbt.py): the first generation, exploit and
explore, failed segments, turns, and which checkpoints can go."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from kubetune.engine.decision import Lineage
from kubetune.engine.encoding import build_space
from kubetune.engine.history import History, TrialRecord, TrialState
from kubetune.engine.pbt import (
    COPIED,
    PERTURBED,
    RESAMPLED,
    SAMPLED,
    PbtSettings,
    explore,
    next_segments,
    reachable_checkpoints,
    unreachable_checkpoints,
)

from factories import study, trial

SPACE = build_space(
    study(
        parameters=[
            {"name": "lr", "type": "float", "min": 1e-4, "max": 1e-1, "log": True},
            {"name": "wd", "type": "float", "min": 0.0, "max": 0.1},
            {"name": "width", "type": "int", "min": 1, "max": 8},
            {"name": "act", "type": "categorical", "values": ["relu", "tanh", "gelu"]},
        ]
    ).spec
)
SETTINGS = PbtSettings(population=4, interval=5, quantile=0.25)


def segment(
    index: int,
    member: int,
    generation: int,
    objective: float | None,
    parent: str | None = None,
    state: TrialState = TrialState.SUCCEEDED,
    params: dict[str, Any] | None = None,
) -> TrialRecord:
    params = params or {"lr": 0.01, "wd": 0.05, "width": 4, "act": "tanh"}
    record = trial(index, params, state=state, objective=objective)
    return replace(record, lineage=Lineage(member, parent, generation, {}))


def segments(history: History, wanted: int, seed: int = 0) -> list[Any]:
    return next_segments(SPACE, SETTINGS, history, wanted, True, np.random.default_rng(seed))


def test_the_first_generation_samples_each_member_from_scratch() -> None:
    first = segments(History("demo"), 3)
    assert [s.lineage.member for s in first] == [0, 1, 2]
    assert all(s.lineage.parent is None and s.lineage.generation == 0 for s in first)
    assert all(set(s.lineage.changes.values()) == {SAMPLED} for s in first)
    assert all(s.end_step == 5 for s in first)
    assert len({s.params["lr"] for s in first}) == 3
    assert segments(History("demo"), 3) == first, "the same seed gives the same draws"


def test_the_worst_member_takes_the_best_ones_checkpoint_and_explores_from_its_params() -> None:
    best = {"lr": 0.02, "wd": 0.05, "width": 4, "act": "tanh"}
    history = History(
        "demo",
        (
            segment(0, 0, 0, 0.9, params=best),
            segment(1, 1, 0, 0.5),
            segment(2, 2, 0, 0.7),
            segment(3, 3, 0, 0.1),  # the worst
        ),
    )
    following = {s.lineage.member: s for s in segments(history, 4)}
    worst = following[3]
    assert worst.lineage.parent == "demo-0" and worst.lineage.generation == 1
    assert set(worst.lineage.changes.values()) <= {PERTURBED, RESAMPLED}
    assert worst.params != best and worst.end_step == 10
    for member, parent in ((0, "demo-0"), (1, "demo-1"), (2, "demo-2")):
        kept = following[member]
        assert kept.lineage.parent == parent and kept.lineage.generation == 1
        assert set(kept.lineage.changes.values()) == {COPIED}
        assert kept.params == history.trials[member].params


def test_minimising_turns_the_ranking_around() -> None:
    history = History(
        "demo", tuple(segment(i, i, 0, v) for i, v in enumerate([0.9, 0.5, 0.7, 0.1]))
    )
    following = next_segments(SPACE, SETTINGS, history, 4, False, np.random.default_rng(0))
    exploited = [s for s in following if s.lineage.parent != f"demo-{s.lineage.member}"]
    assert [(s.lineage.member, s.lineage.parent) for s in exploited] == [(0, "demo-3")]


def test_a_failed_segment_starts_again_from_its_members_last_good_checkpoint() -> None:
    history = History(
        "demo",
        (
            segment(0, 0, 0, 0.9),
            segment(1, 1, 0, None, state=TrialState.FAILED),  # never had a good one
            segment(2, 0, 1, None, parent="demo-0", state=TrialState.FAILED),
        ),
    )
    following = {s.lineage.member: s for s in segments(history, 4)}
    assert following[0].lineage.parent == "demo-0" and following[0].lineage.generation == 1
    assert following[0].end_step == 10
    assert following[1].lineage.parent is None and following[1].lineage.generation == 0
    assert following[1].params == history.trials[1].params
    assert {2, 3} <= set(following), "the members not yet started come first"


def test_members_take_turns_when_fewer_run_at_once_than_the_population() -> None:
    history = History(
        "demo",
        (
            segment(0, 0, 0, 0.9),
            segment(1, 1, 0, 0.8),
            segment(2, 2, 0, 0.7),
            segment(3, 3, 0, 0.6),
            segment(4, 0, 1, 0.95, parent="demo-0"),
            segment(5, 1, 1, 0.85, parent="demo-1"),
        ),
    )
    assert [s.lineage.member for s in segments(history, 2)] == [2, 3]
    busy = replace(history.trials[2], state=TrialState.RUNNING)
    history = replace(history, trials=(*history.trials[:2], busy, *history.trials[3:]))
    assert [s.lineage.member for s in segments(history, 2)] == [3, 0]


@pytest.mark.parametrize("seed", range(20))
def test_explore_stays_in_the_space_and_says_what_it_did(seed: int) -> None:
    params = {"lr": 0.1, "wd": 0.0, "width": 1, "act": "relu"}  # at the edges
    rng = np.random.default_rng(seed)
    moved, changes = explore(SPACE, params, PbtSettings(4, 5, resample=0.0), rng)
    assert set(changes.values()) == {PERTURBED}
    assert 1e-4 <= moved["lr"] <= 0.1 and 0.0 <= moved["wd"] <= 0.1
    # x0.8, or x1.2 held at the top; from zero a step of the factor's share of the range
    # (x0.8 held at the bottom); an int moves by at least one; a categorical to a neighbour
    assert moved["lr"] in (pytest.approx(0.08), pytest.approx(0.1))
    assert moved["wd"] in (0.0, pytest.approx(0.02))
    assert moved["width"] in (1, 2)
    assert moved["act"] == "tanh"  # the only neighbour of the first value
    resampled, said = explore(SPACE, params, PbtSettings(4, 5, resample=1.0), rng)
    assert set(said.values()) == {RESAMPLED} and set(resampled) == set(params)


def test_only_checkpoints_no_line_can_reach_are_given_up() -> None:
    history = History(
        "demo",
        (
            segment(0, 0, 0, 0.9),
            segment(1, 1, 0, 0.2),
            segment(2, 0, 1, 0.95, parent="demo-0"),
            segment(3, 1, 1, None, parent="demo-2", state=TrialState.RUNNING),  # exploited 2
            segment(4, 1, 0, 0.3, state=TrialState.FAILED),
        ),
    )
    assert unreachable_checkpoints(history) == ["demo-0", "demo-4"]
    assert unreachable_checkpoints(history, keep=["demo-0"]) == ["demo-4"]


def test_a_member_that_failed_twice_from_one_checkpoint_moves_on_and_no_one_else_goes_there() -> (
    None
):
    base = [
        segment(0, 0, 0, 0.9),
        segment(1, 1, 0, 0.5),
        segment(2, 2, 0, 0.4),
        segment(3, 3, 0, 0.1),
    ]
    once = History("demo", (*base, segment(4, 0, 1, None, "demo-0", TrialState.FAILED)))
    (again,) = [s for s in segments(once, 4) if s.lineage.member == 0]
    assert again.lineage.parent == "demo-0", "one failure: again from the same checkpoint"
    twice = History(
        "demo",
        (
            *base,
            segment(4, 0, 1, None, "demo-0", TrialState.FAILED),
            segment(5, 0, 1, None, "demo-0", TrialState.FAILED),
        ),
    )
    following = {s.lineage.member: s for s in segments(twice, 4)}
    moved = following[0].lineage
    # Member 0 was the best, so no one stronger is left to copy: it starts from scratch.
    assert moved.parent is None and moved.generation == 0
    assert set(moved.changes.values()) == {"resampled"}
    # The worst member would have copied demo-0; with it spoiled, it continues its own line.
    assert following[3].lineage.parent == "demo-3"
    assert all(s.lineage.parent != "demo-0" for s in following.values())


def test_a_running_segment_and_its_parent_are_in_use_and_old_lines_are_not() -> None:
    history = History(
        "demo",
        (
            segment(0, 0, 0, 0.9),
            segment(1, 1, 0, 0.2),
            segment(2, 0, 1, 0.95, parent="demo-0"),
            segment(3, 1, 1, None, parent="demo-2", state=TrialState.RUNNING),
        ),
    )
    # demo-3's pod writes its folder while later pods prune: it must never look unused.
    assert reachable_checkpoints(history) == {"demo-1", "demo-2", "demo-3"}
    assert reachable_checkpoints(history, keep=["demo-0"]) == {
        "demo-0",
        "demo-1",
        "demo-2",
        "demo-3",
    }

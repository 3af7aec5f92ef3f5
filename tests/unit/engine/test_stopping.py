"""Contract tests over every stopping rule, then each rule's verdicts on crafted histories."""

from __future__ import annotations

import pytest

from kubetune.engine import TrialState
from kubetune.engine.stopping import STOPPING_RULES
from kubetune.engine.stopping.asha import rungs
from kubetune.engine.stopping.hyperband import HyperbandRule, bracket_pattern

from factories import history, study, trial

RUNNING = TrialState.RUNNING
SETTINGS = {
    "none": {},
    "median": {"minTrials": 2},
    "asha": {"minBudget": 1, "maxBudget": 9, "reductionFactor": 3},
    "hyperband": {"minBudget": 1, "maxBudget": 9, "reductionFactor": 3},
}


def rule(name: str, goal: str = "maximize", **settings: object):  # type: ignore[no-untyped-def]
    spec = study(
        objective={"metric": "accuracy", "goal": goal},
        earlyStopping={"name": name, "settings": {**SETTINGS[name], **settings}},
    ).spec
    return STOPPING_RULES[name](spec)


def curve(top: float, steps: int = 9) -> list[tuple[int, float]]:
    return [(s, top * s / steps) for s in range(1, steps + 1)]


@pytest.mark.parametrize("name", sorted(STOPPING_RULES))
def test_every_rule_is_silent_on_an_empty_history(name: str) -> None:
    assert rule(name).decide(history()) == []


@pytest.mark.parametrize("name", sorted(STOPPING_RULES))
def test_every_rule_only_stops_running_trials_and_says_why(name: str) -> None:
    trials = [
        trial(i, state=TrialState.SUCCEEDED, objective=0.9, series=curve(0.9)) for i in range(6)
    ]
    trials += [trial(6 + i, state=s, series=curve(0.1, 3)) for i, s in enumerate(TrialState)]
    stops = rule(name).decide(history(*trials))
    names = {t.name: t for t in trials}
    for stop in stops:
        assert names[stop.trial].state == RUNNING
        assert stop.rule == name and stop.reason and stop.step >= 1
    running = f"demo-{6 + list(TrialState).index(TrialState.RUNNING)}"
    assert {s.trial for s in stops} <= {running}
    if name in ("median", "asha"):  # hyperband may deal it to a bracket that judges later
        assert [s.trial for s in stops] == [running]


@pytest.mark.parametrize("name", sorted(STOPPING_RULES))
def test_every_rule_is_deterministic(name: str) -> None:
    trials = [trial(i, state=RUNNING, series=curve(0.1 * (i + 1), 4)) for i in range(8)]
    assert rule(name).decide(history(*trials)) == rule(name).decide(history(*trials))


def test_median_stops_a_trial_below_the_median_of_the_others_at_its_step() -> None:
    peers = [
        trial(i, objective=v, series=[(1, v), (2, v), (3, v)])
        for i, v in enumerate([0.5, 0.6, 0.7])
    ]
    laggard = trial(3, state=RUNNING, series=[(1, 0.3), (2, 0.4)])
    leader = trial(4, state=RUNNING, series=[(1, 0.65), (2, 0.66)])
    [stop] = rule("median").decide(history(*peers, laggard, leader))
    assert (stop.trial, stop.step, stop.value, stop.threshold) == ("demo-3", 2, 0.4, 0.63)
    assert "median 0.63 of 4 other trials" in stop.reason


def test_median_waits_for_start_step_and_enough_peers() -> None:
    peers = [trial(0, objective=0.9, series=[(1, 0.9), (2, 0.9)])]
    laggard = trial(1, state=RUNNING, series=[(1, 0.1), (2, 0.1)])
    assert rule("median", minTrials=2).decide(history(*peers, laggard)) == []
    assert rule("median", minTrials=1, startStep=3).decide(history(*peers, laggard)) == []
    assert len(rule("median", minTrials=1).decide(history(*peers, laggard))) == 1


def test_median_compares_in_the_goal_direction() -> None:
    peers = [trial(i, objective=v, series=[(1, v)]) for i, v in enumerate([0.5, 0.6, 0.7])]
    high_loss = trial(3, state=RUNNING, series=[(1, 0.9)])
    [stop] = rule("median", goal="minimize").decide(history(*peers, high_loss))
    assert stop.trial == "demo-3"


def test_asha_rungs_are_min_times_powers_of_eta_below_max() -> None:
    assert rungs(1, 27, 3) == [1, 3, 9]
    assert rungs(2, 100, 4) == [2, 8, 32]
    assert rungs(0.5, 4, 2) == [1, 2]


def test_asha_keeps_the_top_third_at_a_rung_and_stops_the_rest() -> None:
    values = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    trials = [trial(i, state=RUNNING, series=[(1, v)]) for i, v in enumerate(values)]
    stops = {s.trial: s for s in rule("asha").decide(history(*trials))}
    # trial i is judged against trials 0..i: kept while in the top max(1, n // 3)
    assert set(stops) == {"demo-1", "demo-2", "demo-3", "demo-4", "demo-5"}
    assert stops["demo-5"].threshold == 0.8 and stops["demo-5"].step == 1  # top 2 of 6
    assert "top 1/3" in stops["demo-5"].reason


def test_asha_judges_at_the_highest_rung_reached_with_the_best_value_by_then() -> None:
    strong = [trial(i, objective=0.9, series=[(s, 0.9) for s in range(1, 10)]) for i in range(3)]
    late = trial(3, state=RUNNING, series=[(1, 0.2), (2, 0.5), (3, 0.4), (4, 0.45)])
    [stop] = rule("asha").decide(history(*strong, late))
    assert (stop.step, stop.value, stop.threshold) == (3, 0.5, 0.9)


def test_asha_lets_the_first_trial_pass_and_honours_min_trials() -> None:
    first = trial(0, state=RUNNING, series=[(1, 0.01)])
    assert rule("asha").decide(history(first)) == []
    weak = [trial(0, objective=0.9, series=[(1, 0.9)]), trial(1, state=RUNNING, series=[(1, 0.1)])]
    assert rule("asha", minTrials=3).decide(history(*weak)) == []
    assert len(rule("asha").decide(history(*weak))) == 1


def test_asha_does_not_judge_before_the_first_rung_or_at_the_full_budget() -> None:
    peers = [trial(i, objective=0.9, series=[(s, 0.9) for s in range(1, 10)]) for i in range(3)]
    early = trial(3, state=RUNNING, series=[(0, 0.0)])
    assert rule("asha", minBudget=1).decide(history(*peers, early)) == []


def test_hyperband_deals_more_trials_to_aggressive_brackets() -> None:
    pattern = bracket_pattern(3, 3)
    assert sorted(set(pattern)) == [0, 1, 2]
    assert pattern.count(0) > pattern.count(1) > pattern.count(2)


def test_hyperband_compares_only_within_a_bracket_and_the_last_bracket_never_stops() -> None:
    spec_rule = rule("hyperband")
    assert isinstance(spec_rule, HyperbandRule)
    trials = [
        trial(i, state=RUNNING, series=[(s, 1.0 - 0.1 * i) for s in range(1, 9)]) for i in range(30)
    ]
    stops = spec_rule.decide(history(*trials))
    assert stops
    last = len(spec_rule.steps)
    for stop in stops:
        index = int(stop.trial.split("-")[1])
        bracket = spec_rule.bracket(index)
        assert bracket != last
        assert stop.step in spec_rule.steps[bracket:]
    never = [t for t in trials if spec_rule.bracket(t.index) == last]
    assert never and not {t.name for t in never} & {s.trial for s in stops}

"""Several objectives and constraints through the engine: outcomes, the front, the best
trial, targets, every sampler and every stopping rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from kubetune.api.trial import TrialState
from kubetune.engine import History, Report, StopDecision, TrialRecord, decide
from kubetune.engine.decide import find_best, find_front
from kubetune.engine.encoding import build_space
from kubetune.engine.objectives import Goals
from kubetune.engine.outcome import trial_outcome
from kubetune.engine.samplers import SAMPLERS
from kubetune.engine.stopping import STOPPING_RULES

from factories import study

TWO = [{"metric": "accuracy", "goal": "maximize"}, {"metric": "size", "goal": "minimize"}]
LATENCY = [{"metric": "latency", "max": 20.0}]


def spec(**fields: Any) -> Any:
    base: dict[str, Any] = {"objective": None, "objectives": TWO}
    base.update(fields)
    return study(**base).spec


def done(index: int, state: TrialState = TrialState.SUCCEEDED, **metrics: float) -> TrialRecord:
    return TrialRecord(
        f"demo-{index}",
        index,
        {"lr": 0.01, "layers": 1 + index % 4, "optimizer": "adam"},
        state,
        (Report(None, dict(metrics)),),
        objective=next(iter(metrics.values())) if metrics else None,
        values=dict(metrics),
    )


def curve(index: int, points: list[tuple[int, float, float]]) -> TrialRecord:
    reports = tuple(Report(step, {"accuracy": a, "size": s}) for step, a, s in points)
    return TrialRecord(
        f"demo-{index}",
        index,
        {"lr": 0.01, "layers": 1, "optimizer": "adam"},
        TrialState.RUNNING,
        reports,
    )


def test_a_trial_that_breaks_a_constraint_succeeds_but_is_recorded_infeasible() -> None:
    outcome = trial_outcome(
        spec(constraints=LATENCY),
        [Report(1, {"accuracy": 0.9, "size": 3.0, "latency": 25.0})],
        None,
    )
    assert outcome.state == TrialState.SUCCEEDED
    assert outcome.reason is not None and "latency 25 > max 20 (by 5)" in outcome.reason
    assert [(v.metric, v.bound, v.value) for v in outcome.violations] == [("latency", "max", 25.0)]


def test_a_trial_missing_an_objective_fails_naming_it() -> None:
    outcome = trial_outcome(spec(), [Report(1, {"accuracy": 0.9})], None)
    assert outcome.state == TrialState.FAILED
    assert outcome.reason is not None and "'size' never reported" in outcome.reason


def test_a_constrained_metric_never_reported_makes_the_trial_infeasible() -> None:
    outcome = trial_outcome(
        spec(constraints=LATENCY), [Report(1, {"accuracy": 0.9, "size": 1})], None
    )
    assert outcome.state == TrialState.SUCCEEDED
    assert outcome.reason == "infeasible: latency never reported (constraint max 20)"


def test_the_front_holds_only_feasible_non_dominated_trials_in_trial_order() -> None:
    trials = (
        done(0, accuracy=0.90, size=5.0, latency=10.0),
        done(1, accuracy=0.95, size=8.0, latency=10.0),
        done(2, accuracy=0.85, size=6.0, latency=10.0),  # dominated by 0
        done(3, accuracy=0.99, size=1.0, latency=30.0),  # dominates all, infeasible
        done(4, accuracy=0.80, size=2.0, latency=19.0),
        done(5, TrialState.FAILED),
    )
    chosen = spec(constraints=LATENCY)
    front = find_front(chosen, History("demo", trials))
    assert [m.trial for m in front] == ["demo-0", "demo-1", "demo-4"]
    assert front[1].objectives == {"accuracy": 0.95, "size": 8.0}
    best = find_best(chosen, History("demo", trials))
    assert best is not None and best.trial == "demo-1"  # best feasible by the first objective


def test_a_long_front_is_thinned_by_crowding_and_keeps_its_ends() -> None:
    trials = tuple(done(i, accuracy=i / 100, size=i / 100 + (i % 2) * 1e-4) for i in range(80))
    # along one line every trial is on the front (accuracy up, size up)
    front = find_front(spec(), History("demo", trials), limit=10)
    assert len(front) == 10
    assert {"demo-0", "demo-79"} <= {m.trial for m in front}


def test_targets_on_several_objectives_need_one_trial_to_reach_all_of_them() -> None:
    targeted = spec(
        objectives=[{**TWO[0], "target": 0.9}, {**TWO[1], "target": 2.0}],
        budget={"maxTrials": 20, "parallelism": 1},
    )
    apart = (done(0, accuracy=0.95, size=3.0), done(1, accuracy=0.5, size=1.0))
    assert decide(targeted, History("demo", apart), 0.0).finish is None
    both = (*apart, done(2, accuracy=0.92, size=1.5))
    finish = decide(targeted, History("demo", both), 0.0).finish
    assert finish is not None and finish.reason == "TargetReached"
    assert "demo-2" in finish.message and "size 1.5 (target 2)" in finish.message


def test_goals_rank_feasible_by_front_then_infeasible_by_how_far_outside() -> None:
    goals = Goals(spec(constraints=LATENCY))
    found = [
        {"accuracy": 0.9, "size": 5.0, "latency": 10.0},  # front
        {"accuracy": 0.8, "size": 6.0, "latency": 10.0},  # dominated
        {"accuracy": 0.99, "size": 1.0, "latency": 40.0},  # far outside
        {"accuracy": 0.99, "size": 1.0, "latency": 21.0},  # just outside
        {"accuracy": 0.95, "size": 8.0, "latency": 5.0},  # front
    ]
    keys = goals.ranking_losses(found)
    assert sorted(np.argsort(keys)[:2].tolist()) == [0, 4]
    assert list(np.argsort(keys)[2:]) == [1, 3, 2]


def _constrained_history(count: int) -> History:
    rng = np.random.default_rng(0)
    space = build_space(spec(constraints=LATENCY))
    trials = []
    for index in range(count):
        params = space.decode(list(rng.random(space.size)))
        trials.append(
            done(
                index,
                accuracy=float(rng.random()),
                size=float(rng.random() * 10),
                latency=float(rng.random() * 40),
            )
        )
        trials[-1] = TrialRecord(**{**trials[-1].__dict__, "params": params})
    return History("demo", tuple(trials))


@pytest.mark.parametrize("name", sorted(set(SAMPLERS) - {"pbt"}))  # pbt refuses constraints
def test_every_sampler_handles_several_objectives_and_constraints(name: str) -> None:
    algorithm: dict[str, Any] = {"name": name, "seed": 3}
    if name == "grid":
        algorithm["settings"] = {"gridPoints": 3}
    chosen = spec(constraints=LATENCY, algorithm=algorithm)
    space = build_space(chosen)
    history = _constrained_history(14)
    make = SAMPLERS[name]
    first = make(chosen, space, 3).suggest(history, 3, np.random.default_rng(1))
    again = make(chosen, space, 3).suggest(history, 3, np.random.default_rng(1))
    assert first == again
    assert len(first) == 3
    for params in first:
        assert 1e-4 <= params["lr"] <= 0.1 and params["optimizer"] in ("adam", "sgd")


def _rung_history() -> History:
    earlier = [
        curve(0, [(1, 0.50, 4.0), (3, 0.70, 4.0)]),
        curve(1, [(1, 0.40, 1.0), (3, 0.60, 1.0)]),
        curve(2, [(1, 0.60, 9.0), (3, 0.80, 9.0)]),
        curve(3, [(1, 0.45, 3.0), (3, 0.65, 3.0)]),
        curve(4, [(1, 0.30, 2.0), (3, 0.50, 2.0)]),
    ]
    finished = [TrialRecord(**{**t.__dict__, "state": TrialState.SUCCEEDED}) for t in earlier]
    dominated = curve(5, [(1, 0.20, 5.0), (3, 0.30, 5.0)])  # worse than 0 on both
    lonely = curve(6, [(1, 0.10, 0.5), (3, 0.20, 0.5)])  # the smallest: on the front
    return History("demo", (*finished, dominated, lonely))


RUNGS = {"minBudget": 1, "maxBudget": 9, "reductionFactor": 3}


def test_asha_stops_a_dominated_trial_and_keeps_a_front_member_however_crowded() -> None:
    rule = STOPPING_RULES["asha"](spec(earlyStopping={"name": "asha", "settings": RUNGS}))
    stopped = {s.trial: s for s in rule.decide(_rung_history())}
    assert "demo-5" in stopped and "demo-6" not in stopped
    assert stopped["demo-5"].rule == "asha" and stopped["demo-5"].step == 3
    assert "Pareto rank" in stopped["demo-5"].reason


def test_hyperband_never_stops_a_member_of_its_rungs_front() -> None:
    rule = STOPPING_RULES["hyperband"](spec(earlyStopping={"name": "hyperband", "settings": RUNGS}))
    assert "demo-6" not in {s.trial for s in rule.decide(_rung_history())}


def test_a_rung_rule_ranks_a_trial_breaking_a_constraint_after_every_feasible_one() -> None:
    settings = {"minBudget": 1, "maxBudget": 9, "reductionFactor": 3}
    chosen = spec(constraints=LATENCY, earlyStopping={"name": "asha", "settings": settings})
    rule = STOPPING_RULES["asha"](chosen)

    def with_latency(index: int, acc: float, size: float, latency: float) -> TrialRecord:
        reports = tuple(
            Report(s, {"accuracy": acc, "size": size, "latency": latency}) for s in (1, 3)
        )
        state = TrialState.SUCCEEDED if index < 3 else TrialState.RUNNING
        return TrialRecord(f"demo-{index}", index, {}, state, reports)

    trials = [with_latency(i, 0.5 + i / 10, 5.0 - i, 10.0) for i in range(3)]
    breaking = with_latency(3, 0.99, 0.1, 35.0)  # best on both objectives, far too slow
    stops = rule.decide(History("demo", (*trials, breaking)))
    assert [s.trial for s in stops] == ["demo-3"]
    assert "breaks a constraint" in stops[0].reason


def test_the_median_rule_stops_only_a_trial_the_median_dominates() -> None:
    rule = STOPPING_RULES["median"](
        spec(earlyStopping={"name": "median", "settings": {"minTrials": 3, "startStep": 1}})
    )
    others = [
        TrialRecord(
            f"demo-{i}",
            i,
            {},
            TrialState.SUCCEEDED,
            tuple(Report(s, {"accuracy": 0.5 + i / 10, "size": 3.0 + i}) for s in (1, 2)),
        )
        for i in range(3)
    ]
    worse = curve(3, [(1, 0.40, 6.0), (2, 0.45, 6.0)])
    small = curve(4, [(1, 0.40, 1.0), (2, 0.45, 1.0)])  # poor accuracy, but the smallest
    stops = rule.decide(History("demo", (*others, worse, small)))
    assert [s.trial for s in stops] == ["demo-3"]
    assert "dominates it" in stops[0].reason


def test_an_early_stopped_trial_teaches_the_model_its_values_at_the_stop() -> None:
    goals = Goals(spec())
    stop = StopDecision("demo-0", 2, 0.6, "asha", 0.7, "why")
    record = TrialRecord(
        "demo-0",
        0,
        {},
        TrialState.EARLY_STOPPED,
        (
            Report(1, {"accuracy": 0.5, "size": 2.0}),
            Report(2, {"accuracy": 0.6, "size": 2.5}),
            Report(3, {"accuracy": 0.9, "size": 9.0}),
        ),
        stop=stop,
    )
    assert goals.values(record) == {"accuracy": 0.6, "size": 2.5}


def test_one_objective_with_a_constraint_never_makes_an_infeasible_trial_best() -> None:
    chosen = study(constraints=LATENCY).spec
    trials = (
        done(0, accuracy=0.90, latency=10.0),
        done(1, accuracy=0.99, latency=25.0),  # the highest accuracy, too slow
        done(2, accuracy=0.95, latency=19.0),
    )
    best = find_best(chosen, History("demo", trials))
    assert best is not None and (best.trial, best.objective) == ("demo-2", 0.95)
    assert decide(chosen, History("demo", trials), 0.0).front == ()  # one objective: no front

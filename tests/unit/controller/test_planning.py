"""What the operator writes for each kind of decision, planned without a cluster: new Trials
and the index reserved, early stops, kills when the study ends (target, timeout, too many
failures), the end at maxTrials or an exhausted grid, conditional parameters, a Pareto front
and a warm start in the status, and the events a status change tells: the decisions the
cluster tests (test_operator.py) check end to end."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kubetune.api import Study
from kubetune.controller.planning import plan_actions, plan_status
from kubetune.engine import History, TrialState, decide

from factories import history, study, trial

S, R, F = TrialState.SUCCEEDED, TrialState.RUNNING, TrialState.FAILED
STUDY_OBJ: dict[str, Any] = {
    "apiVersion": "kubetune.io/v1alpha1",
    "kind": "Study",
    "metadata": {"name": "demo", "namespace": "ns", "uid": "u-1", "generation": 1},
}


def with_status(**fields: Any) -> dict[str, Any]:
    return {**STUDY_OBJ, "status": fields}


def statuses(chosen: Study, past: History, obj: dict[str, Any], now: float = 10.0) -> Any:
    return plan_status(obj, chosen, past, decide(chosen.spec, past, now), now)


def test_a_new_study_plans_its_first_trials_owned_and_labelled_and_reserves_their_names() -> None:
    chosen = study(budget={"maxTrials": 5, "parallelism": 2})
    plan = plan_actions(STUDY_OBJ, decide(chosen.spec, history(), 0.0))
    assert [c.trial["metadata"]["name"] for c in plan.creations] == ["demo-0", "demo-1"]
    first = plan.creations[0]
    assert first.trial["metadata"]["labels"]["kubetune.io/study"] == "demo"
    assert first.trial["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert first.event[0] == "TrialCreated" and first.event[1].startswith("demo-0: lr=")
    assert plan.endings == () and not plan.again
    # the status written once they exist moves the counter past them
    created = history(trial(0, state=TrialState.PENDING), trial(1, state=TrialState.PENDING))
    assert statuses(chosen, created, STUDY_OBJ).status["nextTrialIndex"] == 2


def test_a_trial_worse_than_the_median_is_planned_to_stop_early_saying_why() -> None:
    chosen = study(
        earlyStopping={"name": "median", "settings": {"minTrials": 2, "startStep": 1}},
        budget={"maxTrials": 10, "parallelism": 3},
    )
    past = history(
        trial(0, objective=0.9, series=[(1, 0.8), (2, 0.9)]),
        trial(1, objective=0.85, series=[(1, 0.7), (2, 0.85)]),
        trial(2, state=R, series=[(1, 0.2), (2, 0.3)]),
    )
    plan = plan_actions(STUDY_OBJ, decide(chosen.spec, past, 0.0))
    [ending] = plan.endings
    assert ending.trial == "demo-2"
    assert ending.update["phase"] == "EarlyStopped" and ending.update["stop"]["rule"] == "median"
    assert "worse than the median" in ending.update["reason"]
    assert ending.event is not None and ending.event[0] == "TrialStoppedEarly"


def test_reaching_the_target_kills_the_running_trials_then_finishes_the_study() -> None:
    chosen = study(
        objective={"metric": "accuracy", "goal": "maximize", "target": 0.95},
        budget={"maxTrials": 10, "parallelism": 3},
    )
    past = history(trial(0, objective=0.97), trial(1, state=R), trial(2, state=R))
    decision = decide(chosen.spec, past, 0.0)
    plan = plan_actions(STUDY_OBJ, decision)
    assert [(e.trial, e.update["phase"]) for e in plan.endings] == [
        ("demo-1", "Killed"),
        ("demo-2", "Killed"),
    ]
    assert plan.endings[0].update["reason"] == "study finished: TargetReached"
    assert plan.again and plan.creations == ()
    # The status while the kills are under way says Running; once they are written, done.
    running = plan_status(STUDY_OBJ, chosen, past, decision, 1.0)
    assert running.status["phase"] == "Running"
    killed = history(
        trial(0, objective=0.97),
        trial(1, state=TrialState.KILLED),
        trial(2, state=TrialState.KILLED),
    )
    obj = with_status(**running.status)
    done = statuses(chosen, killed, obj)
    assert done.status["phase"] == "Succeeded"
    assert done.status["finishedBecause"] == "TargetReached"
    assert [e[0] for e in done.events] == ["StudyFinished"]
    assert done.events[0][2] == "Normal"


def test_a_better_best_trial_is_told_once_and_an_unchanged_status_is_not_written() -> None:
    chosen = study(budget={"maxTrials": 10, "parallelism": 1})
    past = history(trial(0, objective=0.5), trial(1, state=R))
    first = statuses(chosen, past, STUDY_OBJ)
    assert first.changed and [e[0] for e in first.events] == ["BestTrialImproved"]
    again = statuses(chosen, past, with_status(**first.status))
    assert not again.changed and again.events == ()
    better = history(trial(0, objective=0.5), trial(1, objective=0.8), trial(2, state=R))
    third = statuses(chosen, better, with_status(**first.status))
    assert [e[1].split(":")[0] for e in third.events] == ["demo-1"]
    assert third.status["bestTrial"]["name"] == "demo-1"


def test_too_many_failures_fail_the_study_with_a_warning() -> None:
    chosen = study(budget={"maxTrials": 10, "parallelism": 1, "maxFailedTrials": 1})
    past = history(trial(0, state=F), trial(1, state=F))
    done = statuses(chosen, past, with_status(phase="Running"))
    assert done.status["phase"] == "Failed"
    assert done.status["finishedBecause"] == "TooManyFailures"
    assert done.events[-1][0] == "StudyFinished" and done.events[-1][2] == "Warning"


def test_the_reserved_index_never_comes_back_after_a_trial_is_deleted() -> None:
    chosen = study(budget={"maxTrials": 10, "parallelism": 2})
    # demo-1 was deleted by hand; the status stored 3 as the next index
    past = replace(history(trial(0, objective=0.5), trial(2, state=R)), next_index=3)
    plan = plan_actions(STUDY_OBJ, decide(chosen.spec, past, 0.0))
    assert [c.trial["metadata"]["name"] for c in plan.creations] == ["demo-3"]
    created = replace(past, trials=(*past.trials, trial(3, state=TrialState.PENDING)))
    assert statuses(chosen, created, STUDY_OBJ).status["nextTrialIndex"] == 4


def test_the_timeout_kills_the_running_trials_then_finishes_with_the_best_so_far() -> None:
    chosen = study(budget={"maxTrials": 10, "parallelism": 2, "timeout": "1h"})
    past = history(trial(0, objective=0.7), trial(1, state=R), trial(2, state=R), started_at=0.0)
    decision = decide(chosen.spec, past, 3601.0)
    plan = plan_actions(STUDY_OBJ, decision)
    assert [(e.trial, e.update["phase"]) for e in plan.endings] == [
        ("demo-1", "Killed"),
        ("demo-2", "Killed"),
    ]
    assert plan.endings[0].update["reason"] == "study finished: Timeout"
    assert plan.creations == () and plan.again
    killed = history(
        trial(0, objective=0.7),
        trial(1, state=TrialState.KILLED),
        trial(2, state=TrialState.KILLED),
        started_at=0.0,
    )
    done = statuses(chosen, killed, with_status(phase="Running"), now=3602.0)
    assert done.status["phase"] == "Succeeded" and done.status["finishedBecause"] == "Timeout"
    assert done.status["bestTrial"]["name"] == "demo-0"
    assert "budget.timeout (1h)" in done.events[-1][1]


def test_the_last_trial_ending_finishes_the_study_at_max_trials() -> None:
    chosen = study(budget={"maxTrials": 3, "parallelism": 2})
    past = history(trial(0, objective=0.2), trial(1, objective=0.9), trial(2, objective=0.4))
    plan = plan_actions(STUDY_OBJ, decide(chosen.spec, past, 0.0))
    assert plan == plan_actions(STUDY_OBJ, decide(chosen.spec, past, 0.0))  # pure
    assert plan.creations == () and plan.endings == ()
    done = statuses(chosen, past, with_status(phase="Running"))
    assert done.status["phase"] == "Succeeded"
    assert done.status["finishedBecause"] == "MaxTrialsReached"
    assert done.status["progress"] == "3/3" and done.status["trials"]["succeeded"] == 3
    assert done.status["completionTime"]


def test_a_grid_of_categoricals_ends_when_every_combination_was_tried() -> None:
    chosen = study(
        parameters=[{"name": "opt", "type": "categorical", "values": ["adam", "sgd"]}],
        algorithm={"name": "grid"},
        budget={"maxTrials": 10, "parallelism": 2},
    )
    first = plan_actions(STUDY_OBJ, decide(chosen.spec, history(), 0.0))
    assert sorted(c.trial["spec"]["params"]["opt"] for c in first.creations) == ["adam", "sgd"]
    tried = history(
        trial(0, {"opt": "adam"}, objective=0.5), trial(1, {"opt": "sgd"}, objective=0.6)
    )
    assert plan_actions(STUDY_OBJ, decide(chosen.spec, tried, 0.0)).creations == ()
    done = statuses(chosen, tried, with_status(phase="Running"))
    assert done.status["finishedBecause"] == "GridExhausted" and done.status["phase"] == "Succeeded"


def test_a_conditional_parameter_reaches_only_the_trials_that_have_it() -> None:
    chosen = study(
        parameters=[
            {"name": "opt", "type": "categorical", "values": ["adam", "sgd"]},
            {"name": "momentum", "type": "float", "min": 0.5, "max": 0.9, "when": {"opt": ["sgd"]}},
        ],
        budget={"maxTrials": 20, "parallelism": 20},
    )
    plan = plan_actions(STUDY_OBJ, decide(chosen.spec, history(), 0.0))
    params = [c.trial["spec"]["params"] for c in plan.creations]
    assert {p["opt"] for p in params} == {"adam", "sgd"}
    assert all(("momentum" in p) == (p["opt"] == "sgd") for p in params)


def test_several_objectives_put_the_feasible_front_in_the_status() -> None:
    chosen = study(
        objective=None,
        objectives=[
            {"metric": "accuracy", "goal": "maximize"},
            {"metric": "size", "goal": "minimize"},
        ],
        constraints=[{"metric": "latency", "max": 20.0}],
        budget={"maxTrials": 10, "parallelism": 1},
    )

    def done(index: int, accuracy: float, size: float, latency: float) -> Any:
        values = {"accuracy": accuracy, "size": size, "latency": latency}
        return replace(trial(index, objective=accuracy), values=values)

    past = history(
        done(0, 0.9, 10.0, 5.0),  # front
        done(1, 0.8, 5.0, 5.0),  # front
        done(2, 0.7, 8.0, 5.0),  # dominated by 1
        done(3, 0.99, 1.0, 50.0),  # best of all but infeasible
    )
    status = statuses(chosen, past, STUDY_OBJ).status
    assert sorted(m["name"] for m in status["paretoFront"]) == ["demo-0", "demo-1"]
    assert status["paretoFrontSize"] == 2
    assert status["paretoFront"][0]["objectives"].keys() == {"accuracy", "size"}


def test_a_warm_start_summary_is_kept_in_the_status_beside_the_decision() -> None:
    chosen = study(budget={"maxTrials": 5, "parallelism": 1})
    past = history(trial(0, objective=0.5))
    warm = [{"study": "earlier", "used": 8, "ignored": 0}]
    told = plan_status(STUDY_OBJ, chosen, past, decide(chosen.spec, past, 0.0), 0.0, warm)
    assert told.status["warmStart"] == warm

"""What the operator writes for each kind of decision, planned without a cluster: new Trials
and the index reserved, early stops, kills when the study ends, the status and its events."""

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

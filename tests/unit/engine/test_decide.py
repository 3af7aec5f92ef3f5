"""The study state machine: what to create, what to stop, when the study ends and why."""

from __future__ import annotations

from kubetune.engine import History, TrialState, decide
from kubetune.engine.decide import study_seed

from factories import history, study, trial

S, F, R, K = TrialState.SUCCEEDED, TrialState.FAILED, TrialState.RUNNING, TrialState.KILLED


def test_a_new_study_fills_parallelism_with_deterministically_named_trials() -> None:
    spec = study(budget={"maxTrials": 5, "parallelism": 3}).spec
    decision = decide(spec, history(), now=0)
    assert [n.name for n in decision.create] == ["demo-0", "demo-1", "demo-2"]
    assert decision.next_suggestions == tuple(n.params for n in decision.create)
    assert decision.finish is None


def test_the_same_history_gives_the_same_decision() -> None:
    spec = study(algorithm={"name": "bayesian"}).spec
    past = history(
        *(
            trial(
                i,
                {"lr": 0.01 * (i + 1), "layers": 1 + i % 4, "optimizer": "adam"},
                objective=0.1 * i,
            )
            for i in range(6)
        )
    )
    assert decide(spec, past, 5) == decide(spec, past, 5)


def test_parallelism_counts_running_and_pending_trials() -> None:
    spec = study(budget={"maxTrials": 10, "parallelism": 3}).spec
    past = history(trial(0, state=R), trial(1, state=TrialState.PENDING), trial(2, objective=0.5))
    decision = decide(spec, past, 0)
    assert [n.name for n in decision.create] == ["demo-3"]


def test_max_trials_bounds_creation_and_then_finishes_the_study() -> None:
    spec = study(budget={"maxTrials": 3, "parallelism": 5}).spec
    assert len(decide(spec, history(), 0).create) == 3
    running = history(trial(0, objective=0.5), trial(1, state=R), trial(2, state=R))
    decision = decide(spec, running, 0)
    assert decision.create == () and decision.finish is None
    done = history(trial(0, objective=0.5), trial(1, objective=0.7), trial(2, objective=0.6))
    decision = decide(spec, done, 0)
    assert decision.finish is not None and decision.finish.reason == "MaxTrialsReached"
    assert decision.finish.succeeded and decision.best is not None
    assert (decision.best.trial, decision.best.objective) == ("demo-1", 0.7)


def test_killed_trials_do_not_use_up_the_budget() -> None:
    spec = study(budget={"maxTrials": 2, "parallelism": 2}).spec
    decision = decide(spec, history(trial(0, objective=0.1), trial(1, state=K)), 0)
    assert [n.name for n in decision.create] == ["demo-2"]


def test_reaching_the_target_finishes_at_once_and_kills_running_trials() -> None:
    spec = study(objective={"metric": "accuracy", "goal": "maximize", "target": 0.95}).spec
    decision = decide(spec, history(trial(0, objective=0.96), trial(1, state=R)), 0)
    assert decision.finish is not None and decision.finish.reason == "TargetReached"
    assert decision.kill == ("demo-1",) and decision.create == ()


def test_a_minimised_target_is_reached_from_above() -> None:
    spec = study(objective={"metric": "loss", "goal": "minimize", "target": 0.1}).spec
    assert decide(spec, history(trial(0, objective=0.2)), 0).finish is None
    assert decide(spec, history(trial(0, objective=0.05)), 0).finish is not None


def test_too_many_failures_fail_the_study() -> None:
    spec = study(budget={"maxTrials": 10, "parallelism": 2, "maxFailedTrials": 1}).spec
    assert decide(spec, history(trial(0, state=F)), 0).finish is None
    decision = decide(spec, history(trial(0, state=F), trial(1, state=F), trial(2, state=R)), 0)
    assert decision.finish is not None
    assert (decision.finish.reason, decision.finish.succeeded) == ("TooManyFailures", False)
    assert decision.kill == ("demo-2",)


def test_timeout_finishes_with_what_succeeded() -> None:
    spec = study(budget={"maxTrials": 10, "timeout": "1m30s"}).spec
    past = history(trial(0, objective=0.4), trial(1, state=R), started_at=100.0)
    assert decide(spec, past, now=189.0).finish is None
    decision = decide(spec, past, now=190.0)
    assert decision.finish is not None
    assert (decision.finish.reason, decision.finish.succeeded) == ("Timeout", True)


def test_a_study_where_nothing_succeeded_ends_failed() -> None:
    spec = study(budget={"maxTrials": 2, "maxFailedTrials": 5}).spec
    decision = decide(spec, history(trial(0, state=F), trial(1, state=F)), 0)
    assert decision.finish is not None and not decision.finish.succeeded


def test_an_exhausted_grid_finishes_the_study_before_max_trials() -> None:
    spec = study(
        algorithm={"name": "grid"},
        parameters=[{"name": "x", "type": "int", "min": 1, "max": 2}],
        budget={"maxTrials": 10, "parallelism": 4},
    ).spec
    first = decide(spec, history(), 0)
    assert [n.params for n in first.create] == [{"x": 1}, {"x": 2}]
    done = history(trial(0, {"x": 1}, objective=0.1), trial(1, {"x": 2}, objective=0.2))
    decision = decide(spec, done, 0)
    assert decision.finish is not None and decision.finish.reason == "GridExhausted"


def test_stopping_decisions_free_their_slots_in_the_same_decision() -> None:
    spec = study(
        earlyStopping={"name": "asha", "settings": {"maxBudget": 9}},
        budget={"maxTrials": 10, "parallelism": 2},
    ).spec
    past = history(trial(0, state=R, series=[(1, 0.9)]), trial(1, state=R, series=[(1, 0.1)]))
    decision = decide(spec, past, 0)
    assert [s.trial for s in decision.stop] == ["demo-1"]
    assert [n.name for n in decision.create] == ["demo-2"]
    assert decision.create[0].budget == 9


def test_the_seed_defaults_to_one_derived_from_the_study_name() -> None:
    unseeded = study(algorithm={"name": "random"}).spec
    assert study_seed(unseeded, "a") == study_seed(unseeded, "a") != study_seed(unseeded, "b")
    assert study_seed(study(algorithm={"name": "random", "seed": 4}).spec, "a") == 4


def test_a_deleted_trial_never_gives_its_name_to_a_new_one() -> None:
    """The operator rebuilds the history from the Trials it finds; one deleted by hand
    leaves a gap, and the stored next index keeps the new trial off every used name."""
    spec = study(budget={"maxTrials": 4, "parallelism": 2}).spec
    gap = history(trial(0, objective=0.1), trial(2, state=R))  # demo-1 was deleted
    decision = decide(spec, gap, 0)
    assert [n.name for n in decision.create] == ["demo-3"]
    last_deleted = History(
        study="demo", trials=(trial(0, objective=0.1),), started_at=0.0, next_index=3
    )
    decision = decide(spec, last_deleted, 0)
    assert [n.name for n in decision.create] == ["demo-3", "demo-4"]


def test_what_a_new_trial_is_drawn_from_follows_its_index_not_the_trial_count() -> None:
    spec = study(budget={"maxTrials": 9, "parallelism": 1}).spec
    whole = history(trial(0, objective=0.1), trial(1, objective=0.2))
    gap = History(study="demo", trials=(trial(0, objective=0.1),), started_at=0.0, next_index=2)
    assert decide(spec, whole, 0).create[0].params == decide(spec, gap, 0).create[0].params

"""The verdict on a trial whose workload ended: the one rule every shell applies."""

from __future__ import annotations

from kubetune.engine import Report, TrialState
from kubetune.engine.outcome import trial_outcome

from factories import study


def test_a_trial_that_ended_well_succeeds_with_the_last_objective_it_reported() -> None:
    reports = [Report(1, {"accuracy": 0.5}), Report(2, {"accuracy": 0.7, "loss": 0.1})]
    outcome = trial_outcome(study().spec, reports, None)
    assert (outcome.state, outcome.objective, outcome.reason) == (TrialState.SUCCEEDED, 0.7, None)


def test_a_trial_that_never_reported_its_objective_fails_saying_where_it_was_looked_for() -> None:
    outcome = trial_outcome(study().spec, [Report(1, {"loss": 0.1})], None)
    assert outcome.state == TrialState.FAILED and outcome.objective is None
    assert outcome.reason == (
        "objective metric 'accuracy' never reported (no line of its output reported it in "
        "format 'kubetune')"
    )
    source = {"prometheus": {"url": "http://prom:9090", "query": 'acc{trial="${trial.name}"}'}}
    outcome = trial_outcome(study(metrics=source).spec, [], None)
    assert outcome.reason is not None and "Prometheus query returned no sample" in outcome.reason


def test_a_workload_that_failed_fails_the_trial_with_its_own_reason_whatever_it_reported() -> None:
    outcome = trial_outcome(study().spec, [Report(1, {"accuracy": 0.9})], "exit code 3: boom")
    assert (outcome.state, outcome.objective, outcome.reason) == (
        TrialState.FAILED,
        None,
        "exit code 3: boom",
    )

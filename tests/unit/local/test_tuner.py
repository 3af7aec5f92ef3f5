from __future__ import annotations

import pytest

from kubetune.engine import TrialState
from kubetune.local.tuner import StudyFinishedError, Tuner

from factories import manifest


def test_ask_tell_runs_a_study_to_max_trials_and_finds_the_best() -> None:
    tuner = Tuner.from_manifest(
        manifest(budget={"maxTrials": 8, "parallelism": 1}), clock=lambda: 0.0
    )
    while not tuner.finished:
        asked = tuner.ask()
        tuner.tell(asked.name, -abs(asked.params["lr"] - 0.01))
    assert len(tuner.history.trials) == 8
    best = tuner.best
    assert best is not None
    assert best.objective == max(
        t.objective for t in tuner.history.trials if t.objective is not None
    )
    with pytest.raises(StudyFinishedError):
        tuner.ask()


def test_asks_without_tells_get_distinct_trials() -> None:
    tuner = Tuner.from_manifest(manifest(budget={"maxTrials": 4, "parallelism": 1}))
    names = [tuner.ask().name for _ in range(3)]
    assert names == ["demo-0", "demo-1", "demo-2"]


def test_report_returns_the_stop_decision_and_ends_the_trial() -> None:
    spec = manifest(
        earlyStopping={"name": "asha", "settings": {"maxBudget": 9}},
        budget={"maxTrials": 4, "parallelism": 1},
    )
    tuner = Tuner.from_manifest(spec)
    good = tuner.ask()
    assert tuner.report(good.name, 1, accuracy=0.9) is None
    tuner.tell(good.name, accuracy=0.95)
    bad = tuner.ask()
    stop = tuner.report(bad.name, 1, accuracy=0.1)
    assert stop is not None and stop.rule == "asha"
    assert tuner.history.trials[1].state == TrialState.EARLY_STOPPED
    with pytest.raises(ValueError, match="already EarlyStopped"):
        tuner.tell(bad.name, 0.2)


def test_tell_failed_and_unknown_trials() -> None:
    tuner = Tuner.from_manifest(manifest())
    asked = tuner.ask()
    tuner.tell(asked.name, failed=True)
    assert tuner.history.trials[0].state == TrialState.FAILED
    with pytest.raises(KeyError, match="ask"):
        tuner.tell("nope", 1.0)


def test_tell_without_a_value_takes_the_last_report_or_fails_as_every_shell_does() -> None:
    tuner = Tuner.from_manifest(manifest(budget={"maxTrials": 4, "parallelism": 2}))
    reported, silent = tuner.ask(), tuner.ask()
    tuner.report(reported.name, 1, accuracy=0.4)
    tuner.report(reported.name, 2, accuracy=0.6)
    tuner.tell(reported.name)
    tuner.tell(silent.name)
    first, second = tuner.history.trials
    assert (first.state, first.objective) == (TrialState.SUCCEEDED, 0.6)
    assert second.state == TrialState.FAILED
    assert (
        second.reason is not None and "objective metric 'accuracy' never reported" in second.reason
    )

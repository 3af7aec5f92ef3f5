"""Study and Trial objects read into records and written from their status models; readers
judge trials with the engine's goals, as the operator's decisions do."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from kubetune.api.study import EARLY_STOPS_SHOWN, StudyStatus
from kubetune.engine import Decision, History, StopDecision, TrialRecord, TrialState
from kubetune.engine.decision import FrontMember
from kubetune.engine.ledger import TrialLedger
from kubetune.records.judged import Judged
from kubetune.records.study_status import build_study_status, study_status_patch
from kubetune.records.trials import trial_record, trial_status_patch

SPEC: dict[str, Any] = {
    "objectives": [{"metric": "score", "goal": "maximize"}, {"metric": "size", "goal": "minimize"}],
    "constraints": [{"metric": "latency", "max": 20}],
}


def trial(index: int, phase: str = "Succeeded", **values: float) -> dict[str, Any]:
    return {
        "metadata": {"name": f"s-{index}"},
        "spec": {"index": index, "params": {"x": index}},
        "status": {"phase": phase, "reports": [{"step": 1, "metrics": values}]},
    }


def test_a_trial_status_patch_keeps_only_what_is_given_and_clears_what_is_none() -> None:
    patch = trial_status_patch({"phase": "Running", "jobName": "s-1", "reason": None})
    assert patch == {"phase": "Running", "jobName": "s-1", "reason": None}


@pytest.mark.parametrize(
    "bad",
    [
        {"phaze": "Running"},  # a misspelt field: the API server would prune it in silence
        {"phase": "Finished"},  # not a phase
        {"lastSeq": "seven"},  # mistyped
        {"earlierPods": ["p"] * 102},  # past the schema's bound
    ],
)
def test_a_trial_status_patch_the_crd_would_not_keep_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        trial_status_patch(bad)


def test_a_study_status_patch_is_checked_against_its_model() -> None:
    assert study_status_patch({"warmStart": [], "phase": "Running"}) == {
        "warmStart": [],
        "phase": "Running",
    }
    with pytest.raises(ValidationError):
        study_status_patch({"bestTrail": None})


def _history(records: list[TrialRecord]) -> History:
    return History(study="s", trials=tuple(records), started_at=0.0)


def test_the_study_status_is_a_valid_model_and_leaves_fields_it_does_not_own() -> None:
    stopped = TrialRecord(
        "s-2",
        2,
        {"x": 2},
        TrialState.EARLY_STOPPED,
        stop=StopDecision("s-2", 3, 0.1, "median", 0.5, "below the median"),
    )
    records = [
        TrialRecord("s-0", 0, {"x": 0}, TrialState.SUCCEEDED, objective=1.0),
        TrialRecord("s-1", 1, {"x": 1}, TrialState.RUNNING),
        stopped,
    ]
    decision = Decision(front=(FrontMember("s-0", {"x": 0}, {"score": 1.0, "size": 2.0}),))
    status = build_study_status({}, _history(records), decision, 10, 3, 0.0, "score")
    assert "warmStart" not in status  # the warm-start room's field is not overwritten
    assert status["completionTime"] is None and status["finishedBecause"] is None  # cleared
    assert status["trials"]["earlyStopped"] == 1 and status["trials"]["running"] == 1
    assert [s["trial"] for s in status["earlyStopped"]] == ["s-2"]
    assert status["paretoFrontSize"] == 1
    StudyStatus.model_validate(status)  # what is written is what the CRD's schema describes


def test_the_stop_list_from_a_ledger_equals_the_one_counted_whatever_the_finish_order() -> None:
    ledger = TrialLedger()
    for index in (5, 1, 3, 0):
        stop = StopDecision(f"s-{index}", index, 0.1, "median", 0.5, "why")
        ledger.put(TrialRecord(f"s-{index}", index, {}, TrialState.EARLY_STOPPED, stop=stop))
        ledger.put(TrialRecord(f"s-{index + 10}", index + 10, {}, TrialState.SUCCEEDED))
        kept = ledger.history("s", 0.0, None)
        counted = History(study="s", trials=kept.trials, started_at=0.0)
        assert counted.tally is None and kept.tally is not None
        by_ledger = build_study_status({}, kept, Decision(), 10, 1, 0.0, "score")
        by_count = build_study_status({}, counted, Decision(), 10, 1, 0.0, "score")
        assert by_ledger == by_count
    assert [s["trial"] for s in by_ledger["earlyStopped"]] == ["s-0", "s-1", "s-3", "s-5"]


def test_readers_judge_trials_as_the_engine_does() -> None:
    trials = [
        trial(0, score=0.9, size=3.0, latency=10),
        trial(1, score=0.8, size=1.0, latency=10),
        trial(2, score=0.7, size=2.0, latency=10),  # dominated by 1
        trial(3, score=0.99, size=0.5, latency=30),  # would dominate all; infeasible
        trial(4, score=0.95, size=0.5),  # never reported the constrained metric: infeasible
        trial(5, phase="Failed"),
    ]
    judged = Judged(SPEC)
    assert [judged.feasible(t) for t in trials] == [True, True, True, False, False, False]
    assert [name for name, _ in judged.front(trials)] == ["s-0", "s-1"]
    assert judged.values(trials[1]) == {"score": 0.8, "size": 1.0, "latency": 10}
    assert trial_record(trials[1]).params == {"x": 1}


def test_the_study_lists_the_latest_early_stops_only_and_counts_them_all() -> None:
    records = [
        TrialRecord(
            f"s-{i}",
            i,
            {},
            TrialState.EARLY_STOPPED,
            stop=StopDecision(f"s-{i}", 1, 0.1, "asha", 0.5, "not in the top third at rung 1"),
        )
        for i in range(EARLY_STOPS_SHOWN + 100)
    ]
    status = build_study_status({}, _history(records), Decision(), 10_000, 1, 0.0, "score")
    assert status["trials"]["earlyStopped"] == EARLY_STOPS_SHOWN + 100
    assert [s["trial"] for s in status["earlyStopped"]] == [
        f"s-{i}" for i in range(100, EARLY_STOPS_SHOWN + 100)
    ]
    StudyStatus.model_validate(status)  # within the schema's bound

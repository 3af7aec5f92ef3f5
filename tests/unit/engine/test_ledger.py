"""A `TrialLedger`'s history decides exactly as a history rebuilt from scratch does, through
every kind of change a shell makes (new trials, reports, finishes, repairs, deletions)."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

import pytest

from kubetune.api.study import StudySpec
from kubetune.engine import History, Report, StopDecision, TrialRecord, TrialState, decide
from kubetune.engine.decide import feasible_results, find_best, find_front
from kubetune.engine.ledger import TrialLedger

from factories import study

GIVEN = [{"params": {"lr": 0.001, "layers": 2, "optimizer": "sgd"}}]
TWO = [
    {"metric": "accuracy", "goal": "maximize", "target": 0.995},
    {"metric": "size", "goal": "minimize"},
]
FINISHED = (
    TrialState.SUCCEEDED,
    TrialState.FAILED,
    TrialState.KILLED,
    TrialState.EARLY_STOPPED,
)


def specs() -> dict[str, StudySpec]:
    budget = {"maxTrials": 60, "parallelism": 4, "maxFailedTrials": 30}
    return {
        "one objective, target, warm start": study(
            objective={"metric": "accuracy", "goal": "maximize", "target": 0.995},
            budget=budget,
            warmStart={"trials": GIVEN},
        ).spec,
        "two objectives and a constraint": study(
            objective=None,
            objectives=TWO,
            constraints=[{"metric": "latency", "max": 20.0}],
            budget=budget,
        ).spec,
        "grid": study(
            algorithm={"name": "grid", "settings": {"gridPoints": 3}},
            budget={"maxTrials": 30, "parallelism": 3, "maxFailedTrials": 30},
        ).spec,
        "sobol": study(algorithm={"name": "sobol", "seed": 3}, budget=budget).spec,
        "tpe, two objectives and a constraint": study(
            objective=None,
            objectives=TWO,
            constraints=[{"metric": "latency", "max": 20.0}],
            algorithm={"name": "tpe", "seed": 4, "settings": {"nInitialPoints": 4}},
            budget=budget,
        ).spec,
        "bayesian, a constraint": study(
            algorithm={"name": "bayesian", "seed": 5, "settings": {"nInitialPoints": 4}},
            constraints=[{"metric": "latency", "max": 20.0}],
            budget={"maxTrials": 24, "parallelism": 3, "maxFailedTrials": 30},
        ).spec,
    }


def finished_record(record: TrialRecord, rng: random.Random) -> TrialRecord:
    state = rng.choices(FINISHED, weights=(70, 8, 7, 15))[0]
    # Coarse values, so ties (equal best, equal points on the front) happen often; the
    # target (0.995) is reached now and then.
    metrics = {
        "accuracy": rng.choice([0.5, 0.8, 0.9, 0.95, 0.97, 0.99] * 30 + [0.999]),
        "size": float(rng.randint(1, 5)),
        "latency": float(rng.choice([5, 15, 25])),
    }
    if state == TrialState.EARLY_STOPPED:
        stop = StopDecision(record.name, 1, metrics["accuracy"], "median", 0.9, "worse")
        return replace(record, state=state, reports=(Report(1, metrics),), stop=stop)
    if state == TrialState.SUCCEEDED:
        return replace(
            record,
            state=state,
            reports=(Report(1, metrics),),
            objective=metrics["accuracy"],
            values=metrics,
        )
    return replace(record, state=state, reason="it ended")


def same_decisions(spec: StudySpec, ledger: TrialLedger, now: float) -> Any:
    kept = ledger.history("demo", started_at=0.0)
    counted = History("demo", tuple(kept.trials), 0.0)
    assert kept.tally is not None and counted.tally is None
    by_ledger = decide(spec, kept, now)
    assert by_ledger == decide(spec, counted, now)
    assert find_best(spec, kept) == find_best(spec, counted)
    assert find_front(spec, kept, limit=3) == find_front(spec, counted, limit=3)
    assert feasible_results(spec, kept) == feasible_results(spec, counted)
    assert kept.active == counted.active
    assert kept.next_trial_index == counted.next_trial_index
    return by_ledger


@pytest.mark.parametrize("name", list(specs()))
@pytest.mark.parametrize("seed", range(4))
def test_a_ledger_decides_as_a_history_rebuilt_from_scratch(name: str, seed: int) -> None:
    spec = specs()[name]
    rng = random.Random(seed)
    ledger = TrialLedger()
    for step in range(80):
        decision = same_decisions(spec, ledger, float(step))
        if decision.finish is not None:
            break
        for new in decision.create:
            ledger.put(TrialRecord(new.name, new.index, dict(new.params), TrialState.PENDING))
        for stop in decision.stop:
            record = ledger.get(stop.trial)
            assert record is not None
            ledger.put(replace(record, state=TrialState.EARLY_STOPPED, stop=stop))
        records = ledger.history("demo").trials
        change = rng.random()
        if change < 0.05 and records:  # a shell repairs a finished trial's record
            record = rng.choice(records)
            if record.state.finished:
                ledger.put(finished_record(record, rng))
        elif change < 0.08 and records:  # a trial is lost (deleted by hand)
            ledger.discard(rng.choice(records).name)
        for record in ledger.history("demo").active:
            if record.state == TrialState.PENDING:
                ledger.put(replace(record, state=TrialState.RUNNING))
            elif rng.random() < 0.6:
                ledger.put(finished_record(record, rng))
        if step % 7 == 0:  # an old history asked after newer ones were taken
            stale = ledger.history("demo", started_at=0.0)
            same_decisions(spec, ledger, float(step))
            assert decide(spec, stale, 0.0) == decide(spec, History("demo", stale.trials, 0.0), 0.0)


def test_a_record_put_again_unchanged_costs_nothing_and_changes_nothing() -> None:
    record = TrialRecord("demo-0", 0, {"lr": 0.01}, TrialState.SUCCEEDED, objective=0.9)
    ledger = TrialLedger([record])
    before = ledger.history("demo")
    ledger.put(replace(record))
    after = ledger.history("demo")
    assert after.trials is before.trials  # the same snapshot: nothing was rebuilt
    assert after.tally is not None and after.tally.generation == 0


def test_trials_put_out_of_order_are_kept_in_index_order() -> None:
    ledger = TrialLedger()
    for index in (3, 0, 2, 1):
        ledger.put(TrialRecord(f"demo-{index}", index, {}, TrialState.RUNNING))
    history = ledger.history("demo")
    assert [t.index for t in history.trials] == [0, 1, 2, 3]
    assert [t.index for t in history.active] == [0, 1, 2, 3]
    assert history.next_trial_index == 4


def test_replacing_the_trials_of_a_ledgers_history_drops_its_tally() -> None:
    ledger = TrialLedger([TrialRecord("demo-0", 0, {}, TrialState.RUNNING)])
    history = ledger.history("demo")
    other = replace(history, trials=(TrialRecord("demo-5", 5, {}, TrialState.SUCCEEDED),))
    assert other.tally is None
    assert other.active == [] and other.next_trial_index == 6


def test_of_equal_trials_the_first_is_best_and_on_the_front_whatever_order_they_finished() -> None:
    spec = specs()["two objectives and a constraint"]
    values = {"accuracy": 0.9, "size": 2.0, "latency": 5.0}
    ledger = TrialLedger()
    for index in (2, 0, 1):  # created in this order, finished in the order 1, 2, 0
        ledger.put(TrialRecord(f"demo-{index}", index, {"lr": 0.01}, TrialState.RUNNING))
    for index in (1, 2, 0):
        record = ledger.get(f"demo-{index}")
        assert record is not None
        ledger.put(
            replace(
                record,
                state=TrialState.SUCCEEDED,
                reports=(Report(1, values),),
                objective=0.9,
                values=values,
            )
        )
    history = ledger.history("demo")
    best = find_best(spec, history)
    assert best is not None and best.trial == "demo-0"
    assert [m.trial for m in find_front(spec, history)] == ["demo-0", "demo-1", "demo-2"]

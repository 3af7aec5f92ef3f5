"""The stopping rules' book (`stopping/book.py`): fed finished trials once and kept by the
ledger between decisions, the rules decide exactly as a plain count over every trial's
reports does, whatever order trials finish in."""

from __future__ import annotations

import random
import statistics
from dataclasses import replace

import pytest

from kubetune.api.settings import MedianSettings, RungSettings
from kubetune.api.study import StudySpec
from kubetune.engine import History, Report, TrialRecord, TrialState
from kubetune.engine.decision import StopDecision
from kubetune.engine.ledger import TrialLedger
from kubetune.engine.stopping import STOPPING_RULES
from kubetune.engine.stopping.base import Direction
from kubetune.engine.stopping.book import Column, kth
from kubetune.engine.stopping.hyperband import HyperbandRule

from factories import study

RUNG = {"minBudget": 1, "maxBudget": 9, "reductionFactor": 3, "minTrials": 2}
TWO = [{"metric": "accuracy", "goal": "maximize"}, {"metric": "loss", "goal": "minimize"}]


def spec(name: str, goal: str = "maximize", two: bool = False) -> StudySpec:
    settings = {"minTrials": 3, "startStep": 2} if name == "median" else RUNG
    if two:
        return study(
            objective=None,
            objectives=TWO,
            constraints=[{"metric": "latency", "max": 20.0}] if name != "median" else [],
            earlyStopping={"name": name, "settings": settings},
        ).spec
    return study(
        objective={"metric": "accuracy", "goal": goal},
        earlyStopping={"name": name, "settings": settings},
    ).spec


def reports(rng: random.Random) -> tuple[Report, ...]:
    """Coarse values (ties are common), steps skipped, now and then out of order or none."""
    steps = sorted(rng.sample(range(1, 12), rng.randint(1, 6)))
    if rng.random() < 0.1:
        rng.shuffle(steps)
    found = []
    for step in steps:
        metrics = {
            "accuracy": rng.choice([0.1, 0.3, 0.5, 0.7, 0.9]),
            "loss": float(rng.randint(1, 4)),
            "latency": float(rng.choice([10, 30])),
        }
        found.append(Report(None if rng.random() < 0.05 else step, metrics))
    return tuple(found)


def naive_median(spec: StudySpec, history: History) -> list[tuple[str, int, float, float]]:
    """The rule as first written (one objective): every trial's reports read every time."""
    settings = spec.early_stopping.settings_as(MedianSettings)
    direction = Direction(spec.primary.metric, spec.primary.goal)
    found = []
    for trial in history.by_state(TrialState.RUNNING):
        series = trial.series(direction.metric)
        if not series or series[-1][0] < settings.start_step:
            continue
        step = series[-1][0]
        value = direction.best_by(trial, step)
        others = [
            v
            for other in history.trials
            if other.name != trial.name and (v := direction.best_by(other, step)) is not None
        ]
        if value is None or len(others) < settings.min_trials:
            continue
        median = statistics.median(others)
        if direction.worse(value, median):
            found.append((trial.name, step, value, median))
    return found


def naive_rungs(
    spec: StudySpec, history: History, rule: object
) -> list[tuple[str, int, float, float]]:
    """asha and hyperband (one objective) as first written: the earlier peers of its group."""
    direction = Direction(spec.primary.metric, spec.primary.goal)
    settings = spec.early_stopping.settings_as(RungSettings)
    eta = settings.reduction_factor
    found = []
    for trial in history.by_state(TrialState.RUNNING):
        steps = rule.steps  # type: ignore[attr-defined]
        peers = list(history.trials)
        if isinstance(rule, HyperbandRule):
            bracket = rule.bracket(trial.index)
            steps = steps[bracket:]
            peers = [t for t in peers if rule.bracket(t.index) == bracket]
        series = trial.series(direction.metric)
        reached = [r for r in steps if series and series[-1][0] >= r]
        if not reached:
            continue
        rung = reached[-1]
        value = direction.best_by(trial, rung)
        if value is None:
            continue
        values = [value] + [
            v
            for peer in peers
            if peer.index < trial.index and (v := direction.best_by(peer, rung)) is not None
        ]
        if len(values) < settings.min_trials:
            continue
        cutoff = direction.ranked(values)[max(1, len(values) // eta) - 1]
        if direction.worse(value, cutoff):
            found.append((trial.name, rung, value, cutoff))
    return found


def brief(stops: list[StopDecision]) -> list[tuple[str, int, float, float]]:
    return [(s.trial, s.step, s.value, s.threshold) for s in stops]


def drive(spec: StudySpec, seed: int, check: object) -> int:
    """A study of 60 trials at 6 at a time: reports arrive, trials finish in random order,
    and after each change the ledger's decision is checked; how many stops were seen."""
    rng = random.Random(seed)
    ledger = TrialLedger()
    running: list[TrialRecord] = []
    made, stops = 0, 0
    while made < 60 or running:
        while len(running) < 6 and made < 60:
            record = TrialRecord(f"t-{made}", made, {}, TrialState.RUNNING)
            running.append(record)
            ledger.put(record)
            made += 1
        pick = rng.randrange(len(running))
        record = replace(running[pick], reports=reports(rng))
        if rng.random() < 0.5:  # it finishes (now and then without a report)
            state = rng.choice([TrialState.SUCCEEDED, TrialState.EARLY_STOPPED, TrialState.FAILED])
            record = replace(record, state=state, reports=record.reports * (rng.random() > 0.1))
            running.pop(pick)
        else:
            running[pick] = record
        ledger.put(record)
        kept = ledger.history("s", 0.0)
        counted = History(study="s", trials=kept.trials, started_at=0.0)
        assert kept.tally is not None and counted.tally is None
        stops += check(kept, counted)  # type: ignore[operator]
    return stops


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("goal", ["maximize", "minimize"])
@pytest.mark.parametrize("name", ["median", "asha", "hyperband"])
def test_one_objective_rules_decide_as_a_plain_count(name: str, goal: str, seed: int) -> None:
    study_spec = spec(name, goal)

    def check(kept: History, counted: History) -> int:
        rule = STOPPING_RULES[name](study_spec)
        by_book = brief(rule.decide(kept))
        naive = (
            naive_median(study_spec, counted)
            if name == "median"
            else naive_rungs(study_spec, counted, rule)
        )
        assert by_book == naive
        assert brief(rule.decide(counted)) == naive
        return len(naive)

    assert drive(study_spec, seed, check) > 0  # the rule did stop trials along the way


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("name", ["median", "asha", "hyperband"])
def test_two_objectives_decide_the_same_from_the_ledger_as_counted(name: str, seed: int) -> None:
    study_spec = spec(name, two=True)

    def check(kept: History, counted: History) -> int:
        rule = STOPPING_RULES[name](study_spec)
        by_book = rule.decide(kept)
        assert by_book == rule.decide(counted)
        return len(by_book)

    assert drive(study_spec, seed, check) > 0


def test_kth_of_a_column_less_some_keys_plus_others() -> None:
    rng = random.Random(7)
    for _ in range(300):
        held = [float(rng.randint(0, 9)) for _ in range(rng.randint(0, 30))]
        column = Column()
        for index, key in enumerate(held):
            column.add(index, key)
        removed = rng.sample(held, rng.randint(0, min(4, len(held))))
        added = [float(rng.randint(0, 9)) for _ in range(rng.randint(0, 4))]
        members = sorted(held + added)
        for key in removed:
            members.remove(key)
        for k in range(1, len(members) + 1):
            assert kth(column, removed, added, k) == members[k - 1]

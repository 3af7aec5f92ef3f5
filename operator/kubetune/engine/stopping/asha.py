"""`asha`: asynchronous successive halving in its stopping form.

Every trial runs with the full budget; at each rung (minBudget * eta^k < maxBudget) a trial
continues only if its best value by the rung is in the top 1/eta of the trials that reached
that rung before it (lower index) plus itself, at least one always passing. Comparing with
earlier trials only keeps the rule stateless and the first trials from being judged alone.
A trial is judged at the highest rung it has reached.
"""

from __future__ import annotations

import math

from kubetune.api.settings import RungSettings
from kubetune.api.study import StudySpec
from kubetune.engine.decision import StopDecision
from kubetune.engine.history import History, TrialRecord, TrialState
from kubetune.engine.stopping.base import Direction


def rungs(min_budget: float, max_budget: float, eta: int) -> list[int]:
    """Rung steps below the full budget: ceil(min * eta^k) < max."""
    steps: list[int] = []
    budget = min_budget
    while budget < max_budget - 1e-9:
        step = math.ceil(budget - 1e-9)
        if not steps or step > steps[-1]:
            steps.append(step)
        budget *= eta
    return steps


class RungJudge:
    """Successive halving over a fixed set of rungs and a chosen group of trials."""

    def __init__(self, direction: Direction, settings: RungSettings, rule: str) -> None:
        self.direction = direction
        self.settings = settings
        self.rule = rule

    def judge(
        self, trial: TrialRecord, peers: list[TrialRecord], steps: list[int]
    ) -> StopDecision | None:
        series = trial.series(self.direction.metric)
        if not series:
            return None
        reached = [r for r in steps if series[-1][0] >= r]
        if not reached:
            return None
        rung = reached[-1]
        value = self.direction.best_by(trial, rung)
        if value is None:
            return None
        values = [value] + [
            v
            for peer in peers
            if peer.index < trial.index and (v := self.direction.best_by(peer, rung)) is not None
        ]
        if len(values) < self.settings.min_trials:
            return None
        eta = self.settings.reduction_factor
        keep = max(1, len(values) // eta)
        cutoff = self.direction.ranked(values)[keep - 1]
        if not self.direction.worse(value, cutoff):
            return None
        return StopDecision(
            trial=trial.name,
            step=rung,
            value=value,
            rule=self.rule,
            threshold=cutoff,
            reason=f"{self.direction.metric} {value:.6g} at rung {rung} is not in the top "
            f"1/{eta} ({keep} of {len(values)}) of trials at that rung; cut-off {cutoff:.6g}",
        )


class AshaRule:
    def __init__(self, direction: Direction, settings: RungSettings) -> None:
        self.judge = RungJudge(direction, settings, "asha")
        self.steps = rungs(settings.min_budget, settings.max_budget, settings.reduction_factor)

    def decide(self, history: History) -> list[StopDecision]:
        peers = list(history.trials)
        stops = [
            self.judge.judge(trial, peers, self.steps)
            for trial in history.by_state(TrialState.RUNNING)
        ]
        return [s for s in stops if s is not None]


def build(spec: StudySpec) -> AshaRule:
    settings = spec.early_stopping.settings_as(RungSettings)
    return AshaRule(Direction(spec.objective.metric, spec.objective.goal), settings)

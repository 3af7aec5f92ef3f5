"""The stopping-rule interface: one method, no state between calls.

`decide(history)` looks at every trial's reports and returns a `StopDecision` for each
*running* trial that should end now, with the rule, step, value and threshold that justify it.
Shared helpers here turn a trial's series into "best value by step s", in the loss direction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from kubetune.api.study import StudySpec
from kubetune.engine.decision import StopDecision
from kubetune.engine.history import History, TrialRecord


class StoppingRule(Protocol):
    def decide(self, history: History) -> list[StopDecision]: ...


StoppingFactory = Callable[[StudySpec], StoppingRule]


class Direction:
    """Compares metric values the way the study's goal means them."""

    def __init__(self, metric: str, goal: str) -> None:
        self.metric = metric
        self.maximize = goal == "maximize"

    def best(self, values: list[float]) -> float:
        return max(values) if self.maximize else min(values)

    def worse(self, value: float, than: float) -> bool:
        return value < than if self.maximize else value > than

    def best_by(self, trial: TrialRecord, step: int) -> float | None:
        """The trial's best value by `step`, or None if it has not reached `step`.

        A trial that reports sparsely (every 5 epochs, say) is judged at a rung it jumped past
        by its first report after the rung."""
        series = trial.series(self.metric)
        if not series or max(s for s, _ in series) < step:
            return None
        values = [v for s, v in series if s <= step] or [series[0][1]]
        return self.best(values)

    def ranked(self, values: list[float]) -> list[float]:
        return sorted(values, reverse=self.maximize)


def directions(spec: StudySpec) -> list[Direction]:
    """One per objective, in order."""
    return [Direction(o.metric, o.goal) for o in spec.goals]


class NoStopping:
    def decide(self, history: History) -> list[StopDecision]:
        return []


def build_none(spec: StudySpec) -> NoStopping:
    return NoStopping()

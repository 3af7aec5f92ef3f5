"""`median`: stop a trial whose best value by step s is worse than the median of the others'.

The others are every trial (finished, stopped or running) that has reached step s; their
value is their best by step s too, so the comparison is like for like. Judged at the trial's
latest step only, so a verdict never depends on when the engine happened to be called.

Several objectives: the median is taken per objective, and a trial stops only when that
median point dominates it (worse than or equal to the median on every objective, worse on
one): a trial that is good at anything goes on. Constraints are left to the final verdict
(a median of a constraint metric says nothing about its bound).
"""

from __future__ import annotations

import statistics

from kubetune.api.settings import MedianSettings
from kubetune.api.study import StudySpec
from kubetune.engine.decision import StopDecision
from kubetune.engine.history import History, TrialRecord, TrialState
from kubetune.engine.stopping.base import Direction, directions


class MedianRule:
    def __init__(
        self,
        direction: Direction,
        settings: MedianSettings,
        others: list[Direction] | None = None,
    ) -> None:
        self.direction = direction
        self.settings = settings
        self.all_directions = others or [direction]

    def decide(self, history: History) -> list[StopDecision]:
        if len(self.all_directions) > 1:
            return self._decide_pareto(history)
        stops: list[StopDecision] = []
        for trial in history.by_state(TrialState.RUNNING):
            step = self._judged_step(trial)
            if step is None:
                continue
            value = self.direction.best_by(trial, step)
            others = [
                v
                for other in history.trials
                if other.name != trial.name
                and (v := self.direction.best_by(other, step)) is not None
            ]
            if value is None or len(others) < self.settings.min_trials:
                continue
            median = statistics.median(others)
            if self.direction.worse(value, median):
                stops.append(
                    StopDecision(
                        trial=trial.name,
                        step=step,
                        value=value,
                        rule="median",
                        threshold=median,
                        reason=f"best {self.direction.metric} {value:.6g} by step {step} is "
                        f"worse than the median {median:.6g} of {len(others)} other trials",
                    )
                )
        return stops

    def _judged_step(self, trial: TrialRecord) -> int | None:
        """The trial's latest step, once it is past `startStep`; None before."""
        series = trial.series(self.direction.metric)
        if not series or series[-1][0] < self.settings.start_step:
            return None
        return series[-1][0]

    def _decide_pareto(self, history: History) -> list[StopDecision]:
        stops: list[StopDecision] = []
        for trial in history.by_state(TrialState.RUNNING):
            step = self._judged_step(trial)
            if step is None:
                continue
            own = [d.best_by(trial, step) for d in self.all_directions]
            if any(v is None for v in own):
                continue
            others = []
            for other in history.trials:
                if other.name == trial.name:
                    continue
                values = [d.best_by(other, step) for d in self.all_directions]
                if all(v is not None for v in values):
                    others.append(values)
            if len(others) < self.settings.min_trials:
                continue
            medians = [statistics.median(column) for column in zip(*others, strict=True)]
            worse = [
                d.worse(v, m)
                for d, v, m in zip(self.all_directions, own, medians, strict=True)
                if v is not None
            ]
            equal_or_worse = all(
                v == m or d.worse(v, m)
                for d, v, m in zip(self.all_directions, own, medians, strict=True)
                if v is not None
            )
            if equal_or_worse and any(worse):
                said = ", ".join(
                    f"{d.metric} {v:.6g} (median {m:.6g})"
                    for d, v, m in zip(self.all_directions, own, medians, strict=True)
                    if v is not None
                )
                stops.append(
                    StopDecision(
                        trial=trial.name,
                        step=step,
                        value=float(own[0] or 0.0),
                        rule="median",
                        threshold=medians[0],
                        reason=f"by step {step} the median of {len(others)} other trials "
                        f"dominates it: {said}",
                    )
                )
        return stops


def build(spec: StudySpec) -> MedianRule:
    settings = spec.early_stopping.settings_as(MedianSettings)
    every = directions(spec)
    return MedianRule(every[0], settings, every)

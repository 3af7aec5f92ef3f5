"""`median`: stop a trial whose best value by step s is worse than the median of the others'.

The others are every trial (finished, stopped or running) that has reached step s; their
value is their best by step s too, so the comparison is like for like. Judged at the trial's
latest step only, so a verdict never depends on when the engine happened to be called.
"""

from __future__ import annotations

import statistics

from kubetune.api.settings import MedianSettings
from kubetune.api.study import StudySpec
from kubetune.engine.decision import StopDecision
from kubetune.engine.history import History, TrialState
from kubetune.engine.stopping.base import Direction


class MedianRule:
    def __init__(self, direction: Direction, settings: MedianSettings) -> None:
        self.direction = direction
        self.settings = settings

    def decide(self, history: History) -> list[StopDecision]:
        stops: list[StopDecision] = []
        for trial in history.by_state(TrialState.RUNNING):
            series = trial.series(self.direction.metric)
            if not series:
                continue
            step = series[-1][0]
            if step < self.settings.start_step:
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


def build(spec: StudySpec) -> MedianRule:
    settings = spec.early_stopping.settings_as(MedianSettings)
    return MedianRule(Direction(spec.objective.metric, spec.objective.goal), settings)

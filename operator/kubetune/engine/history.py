"""Frozen records of a study's trials and their reports: everything the engine may look at.

A shell rebuilds a `History` from what it stored (Trial objects on the cluster, the results
file locally) before every decision; the engine keeps nothing between calls.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from kubetune.api.parameters import ParamValue
from kubetune.engine.decision import StopDecision


class TrialState(enum.StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    EARLY_STOPPED = "EarlyStopped"
    KILLED = "Killed"

    @property
    def active(self) -> bool:
        return self in (TrialState.PENDING, TrialState.RUNNING)


@dataclass(frozen=True)
class Report:
    step: int | None
    metrics: Mapping[str, float]


@dataclass(frozen=True)
class TrialRecord:
    name: str
    index: int
    params: Mapping[str, ParamValue]
    state: TrialState = TrialState.PENDING
    reports: tuple[Report, ...] = ()
    objective: float | None = None
    reason: str | None = None
    stop: StopDecision | None = None
    budget: float | None = None

    def series(self, metric: str) -> list[tuple[int, float]]:
        """(step, value) of each report carrying `metric`; a report without a step counts as
        the next position (1, 2, ...), so trials that never pass `step` can still be compared."""
        points: list[tuple[int, float]] = []
        for report in self.reports:
            if metric in report.metrics:
                step = report.step if report.step is not None else len(points) + 1
                points.append((step, report.metrics[metric]))
        return points


@dataclass(frozen=True)
class History:
    study: str
    trials: tuple[TrialRecord, ...] = ()
    started_at: float | None = None

    def by_state(self, *states: TrialState) -> list[TrialRecord]:
        return [t for t in self.trials if t.state in states]

    @property
    def active(self) -> list[TrialRecord]:
        return [t for t in self.trials if t.state.active]


def final_objective(reports: tuple[Report, ...] | list[Report], metric: str) -> float | None:
    """A finished trial's objective: the last value it reported (the model it ended with)."""
    for report in reversed(reports):
        if metric in report.metrics:
            return report.metrics[metric]
    return None

"""What a trial achieved, as the study's objectives and constraints read it.

One place turns a trial's record into the values of its objectives (as losses, every goal
turned into minimise), its constraint violations and whether it is feasible, so the best
trial, the Pareto front, the samplers and the stopping rules all agree on them. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from kubetune.api.goals import Constraint, Objective
from kubetune.api.trial import TrialState
from kubetune.engine.history import Report, TrialRecord
from kubetune.engine.pareto import crowding, nondominated_ranks

CHEBYSHEV_AUGMENT = 0.05


@dataclass(frozen=True)
class Violation:
    """A broken constraint and by how much (`value` NaN: the metric was never reported)."""

    metric: str
    bound: str  # "max" | "min"
    limit: float
    value: float

    @property
    def by(self) -> float:
        return abs(self.value - self.limit)

    def describe(self) -> str:
        if math.isnan(self.value):
            return f"{self.metric} never reported (constraint {self.bound} {self.limit:g})"
        sign = ">" if self.bound == "max" else "<"
        return (
            f"{self.metric} {self.value:.6g} {sign} {self.bound} {self.limit:g} (by {self.by:.6g})"
        )

    def as_dict(self) -> dict[str, object]:
        value = None if math.isnan(self.value) else self.value
        return {"metric": self.metric, "bound": self.bound, "limit": self.limit, "value": value}


def final_values(
    reports: tuple[Report, ...] | list[Report], metrics: tuple[str, ...]
) -> dict[str, float]:
    """The last value each metric was reported with (the model the trial ended with)."""
    values: dict[str, float] = {}
    for report in reversed(reports):
        for metric in metrics:
            if metric not in values and metric in report.metrics:
                values[metric] = report.metrics[metric]
    return values


def values_by(trial: TrialRecord, metrics: tuple[str, ...], step: int) -> dict[str, float]:
    """Each metric's latest value at or before `step` (what an early-stopped trial stood at)."""
    values: dict[str, float] = {}
    for metric in metrics:
        series = [(s, v) for s, v in trial.series(metric) if s <= step] or trial.series(metric)[:1]
        if series:
            values[metric] = series[-1][1]
    return values


class GoalsSpec(Protocol):
    """The part of a study's spec that judges its trials: a `StudySpec`, or only its goals
    (`records.judged.SpecGoals`, for a reader of a stored Study)."""

    @property
    def goals(self) -> list[Objective]: ...

    @property
    def constraints(self) -> list[Constraint]: ...

    @property
    def primary(self) -> Objective: ...


class Goals:
    """The study's objectives and constraints, built once from the spec."""

    def __init__(self, spec: GoalsSpec) -> None:
        self.objectives = spec.goals
        self.metrics = tuple(o.metric for o in self.objectives)
        self.signs = np.array([1.0 if o.goal == "minimize" else -1.0 for o in self.objectives])
        self.constraints = tuple(spec.constraints)
        self.measured = self.metrics + tuple(c.metric for c in self.constraints)

    @property
    def multi(self) -> bool:
        return len(self.metrics) > 1

    def values(self, trial: TrialRecord) -> dict[str, float] | None:
        """What a model learns from this trial: a succeeded one's final values, an
        early-stopped one's values at its stop (what got it stopped), None for the rest."""
        if trial.state == TrialState.SUCCEEDED:
            found = dict(trial.values) or final_values(trial.reports, self.measured)
            if trial.objective is not None:
                found.setdefault(self.metrics[0], trial.objective)
        elif trial.state == TrialState.EARLY_STOPPED and trial.stop is not None:
            found = values_by(trial, self.measured, trial.stop.step)
        else:
            return None
        if any(m not in found for m in self.metrics):
            return None
        return found

    def losses(self, values: Mapping[str, float]) -> np.ndarray:
        """The objectives as a vector to minimise."""
        return np.asarray(self.signs * np.array([values[m] for m in self.metrics], dtype=float))

    def violations(self, values: Mapping[str, float]) -> list[Violation]:
        broken: list[Violation] = []
        for constraint in self.constraints:
            value = values.get(constraint.metric)
            for bound, limit in (("max", constraint.max), ("min", constraint.min)):
                if limit is None:
                    continue
                if value is None:
                    broken.append(Violation(constraint.metric, bound, limit, math.nan))
                elif (value > limit) if bound == "max" else (value < limit):
                    broken.append(Violation(constraint.metric, bound, limit, value))
        return broken

    def feasible(self, values: Mapping[str, float]) -> bool:
        return not self.violations(values)

    def ranking_losses(self, found: Sequence[Mapping[str, float]]) -> np.ndarray:
        """One number per trial whose order is the study's "better": feasible trials first,
        by the objective (one) or by Pareto rank then crowding (several: the lonelier of two
        on one front first, as NSGA-II keeps them), then infeasible ones by how far outside.
        For samplers that use the order only (`tpe`'s split)."""
        losses = np.array([self.losses(v) for v in found], dtype=float)
        outside = np.array([self.violation_total(v) for v in found], dtype=float)
        return self.ranking_keys(losses.reshape(len(found), len(self.metrics)), outside)

    def ranking_keys(self, losses: np.ndarray, outside: np.ndarray) -> np.ndarray:
        """`ranking_losses` from each trial's losses (rows) and `violation_total` (0 when
        feasible), for a caller that keeps them as arrays."""
        count = len(outside)
        keys = np.zeros(count)
        feasible = outside == 0
        index = np.flatnonzero(feasible)
        if len(index):
            kept = losses[index]
            if not self.multi:
                order = np.argsort(kept[:, 0], kind="stable")
            else:
                # Past a few thousand, only the best fifth is told apart (tpe reads the best
                # tenth at most); the rest share a rank.
                ranks = nondominated_ranks(kept, enough=max(50, len(kept) // 5))
                lonely = np.zeros(len(index))
                for rank in np.unique(ranks):
                    members = ranks == rank
                    lonely[members] = crowding(kept[members])
                order = np.lexsort((-lonely, ranks))
            keys[index[order]] = np.arange(len(index), dtype=float)
        infeasible = np.flatnonzero(~feasible)
        if len(infeasible):
            ranked = infeasible[np.argsort(outside[infeasible], kind="stable")]
            keys[ranked] = len(index) + np.arange(len(ranked), dtype=float)
        return keys

    def scalarised(self, found: Sequence[Mapping[str, float]], weights: np.ndarray) -> np.ndarray:
        """Several objectives as one loss per trial: each scaled to [0, 1] over the trials
        seen, then the augmented Chebyshev sum max(w f) + 0.05 sum(w f) (ParEGO, Knowles
        2006). Every point of a convex or concave front minimises it for some weights, which
        a weighted sum cannot promise."""
        losses = np.array([self.losses(v) for v in found])
        low, high = losses.min(axis=0), losses.max(axis=0)
        scaled = (losses - low) / np.where(high > low, high - low, 1.0)
        weighted = scaled * weights
        return np.asarray(weighted.max(axis=1) + CHEBYSHEV_AUGMENT * weighted.sum(axis=1))

    def violation_total(self, values: Mapping[str, float]) -> float:
        """How far outside its constraints a trial is, each scaled by its limit's size (0 when
        feasible); a metric never reported counts as far outside."""
        total = 0.0
        for violation in self.violations(values):
            scale = max(abs(violation.limit), 1e-12)
            total += 1e6 if math.isnan(violation.value) else violation.by / scale
        return total

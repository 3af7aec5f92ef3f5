"""`Standing`: what a study's finished trials add up to under its goals (the feasible ones,
the best, the Pareto front, the first to reach every target), folded in one trial at a time.

`decide` needs these at every call. Counted from scratch they cost a pass over every finished
trial, which at 10,000 trials is most of a decision; a shell that keeps a `TrialLedger` lets
the engine keep one `Standing` per goals and feed it only the trials finished since the last
decision. Every answer is the one a full pass in trial order gives: ties go to the lowest
index, whatever order the trials finished in.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from kubetune.engine.history import History, TrialRecord, TrialState
from kubetune.engine.objectives import Goals, GoalsSpec

Values = dict[str, float]


def goals_key(spec: GoalsSpec) -> Hashable:
    """What a standing depends on: the objectives (with targets) and the constraints."""
    return (
        "standing",
        tuple((o.metric, o.goal, o.target) for o in spec.goals),
        tuple((c.metric, c.min, c.max) for c in spec.constraints),
    )


class Standing:
    def __init__(self, spec: GoalsSpec) -> None:
        self.goals = Goals(spec)
        self.primary = spec.primary.metric
        self.maximize = spec.primary.goal == "maximize"
        self.targets = [o for o in spec.goals if o.target is not None]
        #: Succeeded trials that reported every objective and broke no constraint.
        self.feasible: list[tuple[TrialRecord, Values]] = []
        self.best: tuple[TrialRecord, float] | None = None
        #: The feasible trials nothing feasible dominates, with their losses.
        self.front: list[tuple[TrialRecord, Values, np.ndarray]] = []
        #: The lowest-index feasible trial that reaches every target.
        self.reached: tuple[TrialRecord, Values] | None = None

    def add(self, record: TrialRecord) -> None:
        if record.state != TrialState.SUCCEEDED:
            return
        values = self.goals.values(record)
        if values is None or not self.goals.feasible(values):
            return
        self.feasible.append((record, values))
        self._add_best(record, values[self.primary])
        if self.goals.multi:
            self._add_to_front(record, values)
        first = self.reached is None or record.index < self.reached[0].index
        if self.targets and first and self._reaches(values):
            self.reached = (record, values)

    def _add_best(self, record: TrialRecord, value: float) -> None:
        if self.best is None:
            self.best = (record, value)
            return
        kept, best = self.best
        better = value > best if self.maximize else value < best
        if better or (value == best and record.index < kept.index):
            self.best = (record, value)

    def _add_to_front(self, record: TrialRecord, values: Values) -> None:
        losses = self.goals.losses(values)
        if self.front:
            held = np.array([member[2] for member in self.front])
            if np.any(np.all(held <= losses, axis=1) & np.any(held < losses, axis=1)):
                return
            beaten = np.all(losses <= held, axis=1) & np.any(losses < held, axis=1)
            self.front = [m for m, out in zip(self.front, beaten, strict=True) if not out]
        self.front.append((record, values, losses))

    def _reaches(self, values: Values) -> bool:
        return all(
            values[o.metric] >= o.target if o.goal == "maximize" else values[o.metric] <= o.target
            for o in self.targets
            if o.target is not None
        )


def standing(spec: GoalsSpec, history: History) -> Standing:
    """The study's standing: from the ledger's memo when the history has one, else counted."""
    if history.tally is not None:
        kept = history.tally.folded(goals_key(spec), lambda: Standing(spec))
        if kept is not None:
            return kept
    counted = Standing(spec)
    for trial in history.trials:
        counted.add(trial)
    return counted

"""A stored study's trials as the engine judges them, for readers (the dashboard, its exports,
the CLI's plots): which are feasible, what each achieved, which are on the front. The answers
are `engine.objectives.Goals`' and `engine.standing.Standing`'s, the ones the operator's
decisions use, so a view never disagrees with the study's status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubetune.api.goals import Constraint, Objective
from kubetune.engine import TrialRecord
from kubetune.engine.objectives import Goals
from kubetune.engine.standing import Standing
from kubetune.records.trials import trial_record

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class SpecGoals:
    """The objectives and constraints of a Study's spec, parsed through their models (the
    rest of the spec is not needed to judge a trial, and is not parsed)."""

    goals: list[Objective]
    constraints: list[Constraint]

    @property
    def primary(self) -> Objective:
        return self.goals[0]

    @classmethod
    def of(cls, spec: Obj) -> SpecGoals:
        objectives = spec.get("objectives") or [spec["objective"]]
        return cls(
            goals=[Objective.model_validate(o, strict=False) for o in objectives],
            constraints=[
                Constraint.model_validate(c, strict=False) for c in spec.get("constraints") or []
            ],
        )


class Judged:
    """A study's goals, and its trials read once into records."""

    def __init__(self, spec: Obj) -> None:
        self.spec = SpecGoals.of(spec)
        self.goals = Goals(self.spec)
        self._records: dict[str, TrialRecord] = {}

    def record(self, trial: Obj) -> TrialRecord:
        name = trial["metadata"]["name"]
        found = self._records.get(name)
        if found is None:
            found = self._records[name] = trial_record(trial)
        return found

    def values(self, trial: Obj) -> dict[str, float] | None:
        """What the trial achieved (a succeeded one's final values, an early-stopped one's at
        its stop), None when it has no value of every objective."""
        return self.goals.values(self.record(trial))

    def feasible(self, trial: Obj) -> bool:
        """Whether it counts: every objective reported and no constraint broken."""
        values = self.values(trial)
        return values is not None and self.goals.feasible(values)

    def front(self, trials: Iterable[Obj]) -> list[tuple[str, dict[str, float]]]:
        """The feasible trials nothing feasible dominates (the engine's `Standing`)."""
        standing = Standing(self.spec)
        for trial in sorted(trials, key=lambda t: t["spec"]["index"]):
            standing.add(self.record(trial))
        return [(record.name, dict(values)) for record, values, _ in standing.front]

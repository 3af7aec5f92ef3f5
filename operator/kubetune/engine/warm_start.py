"""Earlier studies' trials made into evidence for this one (`spec.warmStart.studies`). Pure.

Both shells read an earlier study their own way (the operator through the API server, the
local runner from a results file) and hand its trials here, so what counts is decided once:
a finished trial that a model learns from (succeeded, or stopped early at a recorded step)
whose params fit this study's space exactly (`api.warm_start.misfit`: the same parameters,
values in range) and that reported every objective of this study. Anything else is skipped,
counted, with the first reason kept to tell the user. Metric names and goals are this study's:
an earlier study that minimised `loss` seeds one that minimises `loss`, whatever it called
its own objective.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from kubetune.api.study import StudySpec
from kubetune.api.trial import TrialState
from kubetune.api.warm_start import misfit
from kubetune.engine.history import TrialRecord
from kubetune.engine.objectives import Goals

LEARNED_STATES = (TrialState.SUCCEEDED, TrialState.EARLY_STOPPED)


@dataclass(frozen=True)
class PriorSource:
    """What one earlier study gave: how many of its finished trials were used, how many
    skipped, and why the first skipped one was."""

    study: str
    used: int
    skipped: int
    why: str | None = None

    def describe(self) -> str:
        said = f"{self.study}: {self.used} trials learned from"
        if self.skipped:
            said += f", {self.skipped} skipped (first: {self.why})"
        return said


def fit_prior(
    spec: StudySpec, study: str, trials: Iterable[TrialRecord]
) -> tuple[tuple[TrialRecord, ...], PriorSource]:
    """The finished trials of earlier study `study` that this study can learn from, renamed
    `STUDY/TRIAL` so they never collide with this study's own."""
    goals = Goals(spec)
    pinned = spec.budget_parameter
    used: list[TrialRecord] = []
    skipped, why = 0, None
    for trial in trials:
        if trial.state not in LEARNED_STATES:
            continue  # running, failed or killed: nothing to learn, nothing to say
        params = {k: v for k, v in trial.params.items() if k != pinned}
        problem = misfit(spec.parameters, params, pinned)
        reason = None
        if problem is not None:
            reason = f"{trial.name}: params.{problem[0]}: {problem[1]}"
        elif goals.values(trial) is None:
            reason = f"{trial.name}: did not report {', '.join(goals.metrics)}"
        if reason is not None:
            skipped += 1
            why = why or reason
            continue
        used.append(replace(trial, name=f"{study}/{trial.name}", params=params))
    return tuple(used), PriorSource(study, len(used), skipped, why)

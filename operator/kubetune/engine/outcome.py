"""How a trial whose workload has ended is recorded: the one rule every shell applies.

The operator (a Job or pod ended), the local runner (a process exited) and the ask/tell
`Tuner` (`tell()`) all call `trial_outcome`, so a trial that ran to the end without
reporting its objective fails with the same reason everywhere. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kubetune.api.study import StudySpec
from kubetune.api.trial import TrialState
from kubetune.engine.history import Report, final_objective


@dataclass(frozen=True)
class Outcome:
    state: TrialState
    objective: float | None = None
    reason: str | None = None


def never_reported(spec: StudySpec) -> str:
    """Why a trial that ended well has no objective, naming where it was looked for."""
    metric = spec.objective.metric
    source = spec.metrics
    where = (
        "the Prometheus query returned no sample"
        if source.prometheus is not None
        else f"no line of its output reported it in format {source.format!r}"
    )
    return f"objective metric {metric!r} never reported ({where})"


def trial_outcome(spec: StudySpec, reports: Sequence[Report], failure: str | None) -> Outcome:
    """The verdict on a trial whose workload ended: `failure` is the shell's reason when the
    workload itself failed (an exit code, a Job condition), None when it ended well.

    A workload that ended well succeeds with the last value of the objective it reported
    (the model it ended with); without one, the trial fails and says why."""
    if failure is not None:
        return Outcome(TrialState.FAILED, reason=failure)
    objective = final_objective(reports, spec.objective.metric)
    if objective is None:
        return Outcome(TrialState.FAILED, reason=never_reported(spec))
    return Outcome(TrialState.SUCCEEDED, objective=objective)

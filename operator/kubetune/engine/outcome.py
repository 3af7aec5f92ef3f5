"""How a trial whose workload has ended is recorded: the one rule every shell applies.

The operator (a Job or pod ended), the local runner (a process exited) and the ask/tell
`Tuner` (`tell()`) all call `trial_outcome`, so a trial that ran to the end without
reporting its objective fails with the same reason everywhere. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kubetune.api.study import StudySpec
from kubetune.api.trial import TrialState
from kubetune.engine.history import Report
from kubetune.engine.objectives import Goals, Violation, final_values


@dataclass(frozen=True)
class Outcome:
    state: TrialState
    objective: float | None = None
    reason: str | None = None
    #: Final value of each objective and constraint metric it reported.
    values: dict[str, float] = field(default_factory=dict)
    #: Constraints it broke: it succeeded but is infeasible (never best, never on the front).
    violations: tuple[Violation, ...] = ()


def never_reported(spec: StudySpec, missing: Sequence[str] | None = None) -> str:
    """Why a trial that ended well has no objective, naming where it was looked for."""
    names = list(missing) if missing else [spec.primary.metric]
    where = spec.metrics.describe()
    label = "objective metric" if len(names) == 1 else "objective metrics"
    return f"{label} {', '.join(map(repr, names))} never reported ({where})"


def trial_outcome(spec: StudySpec, reports: Sequence[Report], failure: str | None) -> Outcome:
    """The verdict on a trial whose workload ended: `failure` is the shell's reason when the
    workload itself failed (an exit code, a Job condition), None when it ended well.

    A workload that ended well succeeds with the last value of each objective it reported
    (the model it ended with); without one, the trial fails and says why. One that breaks a
    constraint (or never reports a constrained metric) still succeeds, recorded infeasible
    with the constraints it broke in its reason."""
    if failure is not None:
        return Outcome(TrialState.FAILED, reason=failure)
    goals = Goals(spec)
    values = final_values(list(reports), goals.measured)
    missing = [m for m in goals.metrics if m not in values]
    if missing:
        return Outcome(TrialState.FAILED, reason=never_reported(spec, missing), values=values)
    broken = tuple(goals.violations(values))
    reason = None
    if broken:
        reason = "infeasible: " + "; ".join(v.describe() for v in broken)
    return Outcome(
        TrialState.SUCCEEDED,
        objective=values[goals.metrics[0]],
        reason=reason,
        values=values,
        violations=broken,
    )

"""The engine: search space, samplers, stopping rules and the study state machine.

Pure by contract: no I/O, no clock (callers pass `now`), no environment, no global random
state (every draw comes from a generator seeded by the study seed and the next trial's index).
`decide(spec, history, now)` is the one door in; both shells call it the same way.
"""

from kubetune.engine.decide import decide
from kubetune.engine.decision import Best, Decision, Finish, Lineage, NewTrial, StopDecision
from kubetune.engine.history import History, Report, TrialRecord, TrialState

__all__ = [
    "Best",
    "Decision",
    "Finish",
    "History",
    "Lineage",
    "NewTrial",
    "Report",
    "StopDecision",
    "TrialRecord",
    "TrialState",
    "decide",
]

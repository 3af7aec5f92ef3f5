"""What the engine hands back to a shell: trials to create, trials to stop, and why.

Plain frozen values; a shell renders them (Trial objects, Jobs, processes, status) and never
has to re-derive a reason, a threshold or a best trial on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kubetune.api.parameters import ParamValue

Params = Mapping[str, ParamValue]


@dataclass(frozen=True)
class Lineage:
    """Where a population-based trial (one training segment) comes from: its member of the
    population, the trial whose checkpoint it continues (None: it starts from scratch), how
    many segments its line has trained before it, and what became of each parameter
    (`sampled` at the start, else `copied`, `perturbed` or `resampled`)."""

    member: int
    parent: str | None
    generation: int
    changes: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """In words, as both shells show it: `member 3, from pbt-4 (perturbed)`."""
        if self.parent is None:
            return f"member {self.member}, from scratch"
        how = ", ".join(sorted(set(self.changes.values())))
        return f"member {self.member}, from {self.parent} ({how})"


@dataclass(frozen=True)
class NewTrial:
    name: str
    index: int
    params: Params
    budget: float | None
    lineage: Lineage | None = None
    #: pbt: the study's checkpoints a line may still continue from as this segment is made
    #: (`engine.pbt.reachable_checkpoints`); those of earlier trials not listed are garbage.
    checkpoints_in_use: tuple[str, ...] = ()


@dataclass(frozen=True)
class StopDecision:
    """An early stop with everything a user needs to audit it."""

    trial: str
    step: int
    value: float
    rule: str
    threshold: float
    reason: str


@dataclass(frozen=True)
class Finish:
    """Why the study is over. `succeeded` picks the Study's final phase."""

    reason: str  # MaxTrialsReached | TargetReached | GridExhausted | TooManyFailures | Timeout
    succeeded: bool
    message: str


@dataclass(frozen=True)
class Best:
    trial: str
    params: Params
    objective: float


@dataclass(frozen=True)
class FrontMember:
    """A feasible trial no other feasible trial dominates."""

    trial: str
    params: Params
    objectives: Mapping[str, float]


@dataclass(frozen=True)
class Decision:
    create: tuple[NewTrial, ...] = ()
    stop: tuple[StopDecision, ...] = ()
    kill: tuple[str, ...] = ()
    finish: Finish | None = None
    best: Best | None = None
    #: The Pareto front of a study with several objectives (empty with one), at most
    #: `FRONT_LIMIT` members, thinned by crowding so its spread is kept.
    front: tuple[FrontMember, ...] = ()
    next_suggestions: tuple[Params, ...] = field(default=())
    #: pbt: finished segments whose checkpoints no line can continue from any more (the best
    #: trial's is kept); a shell deletes their folders, and may be told the same name again.
    drop_checkpoints: tuple[str, ...] = ()

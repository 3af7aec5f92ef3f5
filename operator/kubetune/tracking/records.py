"""What a tracking sink is told: a study opened and closed, its trials opened, reporting and
closed. Plain frozen values; `key` names the study across restarts (a Study's uid, a results
file), so that a sink finds what it wrote before instead of writing it twice."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kubetune.api.parameters import ParamValue


@dataclass(frozen=True)
class StudyOpened:
    key: str
    study: str
    experiment: str
    time: float
    #: The study's settings, flattened (objective, algorithm, budget, ...): a run's params.
    settings: Mapping[str, str] = field(default_factory=dict)
    #: Said of the study as tags (its namespace, where its results are).
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialOpened:
    key: str
    trial: str
    params: Mapping[str, ParamValue]
    time: float


@dataclass(frozen=True)
class Reported:
    key: str
    trial: str
    step: int
    metrics: Mapping[str, float]
    time: float


@dataclass(frozen=True)
class TrialClosed:
    key: str
    trial: str
    state: str
    reason: str | None
    objective: float | None
    time: float


@dataclass(frozen=True)
class StudyClosed:
    key: str
    time: float
    #: Why it ended (MaxTrialsReached, ...), or None: interrupted, to be resumed.
    reason: str | None
    best: str | None = None
    best_objective: float | None = None
    best_params: Mapping[str, ParamValue] = field(default_factory=dict)
    front_size: int = 0


Record = StudyOpened | TrialOpened | Reported | TrialClosed | StudyClosed

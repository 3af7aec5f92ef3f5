"""A study's trials as plain records, and as a pandas DataFrame when pandas is installed.

Both `Client` (Trials on the cluster) and `tune(backend="local")` (the results file, read as
the same documents by `dashboard.local`) produce these, so a notebook handles both the same.
Which trials are best and which are on the front is the Study status's word (the engine's),
never worked out again here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class TrialResult:
    """One trial: its parameters, phase, objective, every metric's final value, and why it
    ended as it did."""

    name: str
    index: int
    state: str
    params: dict[str, Any]
    objective: float | None = None
    values: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    reports: int = 0

    @classmethod
    def of(cls, trial: Obj) -> TrialResult:
        spec, status = trial["spec"], trial.get("status") or {}
        return cls(
            name=trial["metadata"]["name"],
            index=int(spec["index"]),
            state=str(status.get("phase") or "Pending"),
            params=dict(spec.get("params") or {}),
            objective=status.get("objective"),
            values=dict(status.get("values") or {}),
            reason=status.get("reason"),
            reports=len(status.get("reports") or []),
        )

    def row(self) -> dict[str, Any]:
        """One flat dict: parameters as `params_NAME`, as `Tuner.to_rows` and Optuna's
        trials_dataframe name them; each metric's final value under its own name."""
        return {
            "name": self.name,
            "index": self.index,
            "state": self.state,
            "objective": self.objective,
            **self.values,
            **{f"params_{k}": v for k, v in self.params.items()},
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Best:
    """The best trial as the Study's status names it (several objectives: the first's best)."""

    name: str
    params: dict[str, Any]
    objective: float


@dataclass(frozen=True)
class FrontMember:
    """A trial on the Pareto front of a study with several objectives."""

    name: str
    params: dict[str, Any]
    objectives: dict[str, float]


def best_of(status: Obj) -> Best | None:
    found = status.get("bestTrial")
    if not found:
        return None
    return Best(found["name"], dict(found.get("params") or {}), float(found["objective"]))


def front_of(status: Obj) -> list[FrontMember]:
    return [
        FrontMember(m["name"], dict(m.get("params") or {}), dict(m.get("objectives") or {}))
        for m in status.get("paretoFront") or []
    ]


def trial_results(trials: Sequence[Obj]) -> list[TrialResult]:
    return sorted((TrialResult.of(t) for t in trials), key=lambda r: r.index)


def dataframe(results: Sequence[TrialResult]) -> Any:
    """The trials as a pandas DataFrame indexed by trial name; pandas is an optional extra."""
    try:
        import pandas  # noqa: PLC0415
    except ImportError:
        raise ImportError(
            "a DataFrame needs pandas: pip install 'kubetune[notebook]' (or pandas); "
            "the same records are in .trials() as dicts via TrialResult.row()"
        ) from None
    frame = pandas.DataFrame([r.row() for r in results])
    return frame.set_index("name") if not frame.empty else frame


@dataclass(frozen=True)
class StudyResult:
    """What a finished (or running) study holds, from either backend: its status, its trials,
    and the best trial or the front the status names."""

    name: str
    #: "local" (a results folder) or "cluster" (a namespace).
    backend: str
    #: The results folder, or the Study's namespace.
    where: str
    status: dict[str, Any]
    trials: list[TrialResult]

    @property
    def phase(self) -> str:
        return str(self.status.get("phase") or "Created")

    @property
    def best(self) -> Best | None:
        return best_of(self.status)

    @property
    def best_params(self) -> dict[str, Any] | None:
        return None if self.best is None else self.best.params

    @property
    def best_value(self) -> float | None:
        return None if self.best is None else self.best.objective

    @property
    def pareto(self) -> list[FrontMember]:
        return front_of(self.status)

    def dataframe(self) -> Any:
        return dataframe(self.trials)

    def __repr__(self) -> str:
        best = self.best
        said = f", best {best.objective:.6g} {best.params}" if best is not None else ""
        return (
            f"StudyResult({self.name!r}, {self.backend} {self.where}, {self.phase}, "
            f"{len(self.trials)} trials{said})"
        )

"""`Tuner`: the engine behind an ask/tell API, for a notebook or a loop of your own.

    from kubetune.local.tuner import Tuner
    tuner = Tuner.from_file("examples/quickstart.yaml")
    while not tuner.finished:
        trial = tuner.ask()
        for epoch in range(1, 11):
            if tuner.report(trial.name, step=epoch, accuracy=train_one_epoch(trial.params)):
                break                      # the stopping rule ended this trial
        else:
            tuner.tell(trial.name, accuracy=evaluate())
    print(tuner.best)

Same engine, same seed, same suggestions as `kubetune run` and the operator. The Tuner holds
the trials in memory (it is a shell, like the runner); the engine still decides everything.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from kubetune.api import StudySpec, load_study
from kubetune.api.parameters import ParamValue
from kubetune.engine import Best, Decision, History, Report, StopDecision, TrialRecord, TrialState
from kubetune.engine import decide as engine_decide
from kubetune.engine.decide import find_best
from kubetune.engine.outcome import trial_outcome


class StudyFinishedError(RuntimeError):
    """`ask()` after the study is over (maxTrials, target, grid exhausted, ...)."""


@dataclass(frozen=True)
class Asked:
    name: str
    params: Mapping[str, ParamValue]
    budget: float | None


class Tuner:
    def __init__(
        self, spec: StudySpec, study: str = "study", clock: Callable[[], float] = time.time
    ) -> None:
        self.spec = spec
        self.study = study
        self.clock = clock
        self.started_at = clock()
        self._trials: dict[str, TrialRecord] = {}
        self._finish_reason: str | None = None

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], **kwargs: Any) -> Tuner:
        study = load_study(dict(manifest))
        return cls(study.spec, study.name, **kwargs)

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> Tuner:
        return cls.from_manifest(yaml.safe_load(Path(path).read_text()), **kwargs)

    @property
    def history(self) -> History:
        trials = tuple(sorted(self._trials.values(), key=lambda t: t.index))
        return History(study=self.study, trials=trials, started_at=self.started_at)

    def _decide(self, spec: StudySpec | None = None) -> Decision:
        return engine_decide(spec or self.spec, self.history, self.clock())

    @property
    def finished(self) -> bool:
        """True once the engine says the study is over and no asked trial is still open."""
        return self._decide().finish is not None and not self.history.active

    @property
    def best(self) -> Best | None:
        return find_best(self.spec, self.history)

    def ask(self) -> Asked:
        """One new trial. Open trials do not block it: parallelism is yours to manage here."""
        open_count = len(self.history.active)
        budget = self.spec.budget.model_copy(update={"parallelism": open_count + 1})
        decision = self._decide(self.spec.model_copy(update={"budget": budget}))
        if not decision.create:
            reason = decision.finish.message if decision.finish else "no suggestion available"
            raise StudyFinishedError(reason)
        new = decision.create[0]
        self._trials[new.name] = TrialRecord(
            new.name, new.index, dict(new.params), TrialState.RUNNING, budget=new.budget
        )
        return Asked(new.name, dict(new.params), new.budget)

    def report(self, name: str, step: int, **metrics: float) -> StopDecision | None:
        """Record an intermediate report; returns the stop decision if the trial should end."""
        trial = self._open(name)
        trial = replace(trial, reports=(*trial.reports, Report(step, dict(metrics))))
        self._trials[name] = trial
        for stop in self._decide().stop:
            if stop.trial == name:
                self._trials[name] = replace(
                    trial, state=TrialState.EARLY_STOPPED, stop=stop, reason=stop.reason
                )
                return stop
        return None

    def tell(
        self, name: str, value: float | None = None, *, failed: bool = False, **metrics: float
    ) -> None:
        """Finish a trial: with its objective (`tell(name, 0.93)` or by metric name), with
        nothing (its last `report()` of the objective counts), or failed."""
        trial = self._open(name)
        metric = self.spec.objective.metric
        objective = value if value is not None else metrics.get(metric)
        reports = trial.reports
        if objective is not None or metrics:
            told = {**metrics, **({metric: objective} if objective is not None else {})}
            reports = (*reports, Report(None, told))
        outcome = trial_outcome(self.spec, reports, "told failed" if failed else None)
        self._trials[name] = replace(
            trial,
            state=outcome.state,
            objective=outcome.objective,
            reason=outcome.reason,
            reports=reports,
        )

    def _open(self, name: str) -> TrialRecord:
        trial = self._trials.get(name)
        if trial is None:
            raise KeyError(f"no trial named {name!r}; ask() returns the names")
        if not trial.state.active:
            raise ValueError(f"trial {name} is already {trial.state.value}")
        return trial

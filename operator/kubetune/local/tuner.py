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

Same engine, same seed, same suggestions as `kubetune run` and the operator. The Tuner keeps
its trials as the runner does, as results-file events (in memory, or in a file when given
one), so `Tuner.from_results("kubetune-runs/STUDY")` continues a `kubetune run` study, and
`kubetune run --resume` continues one a Tuner wrote. Values are checked before they are
recorded: a NaN, an infinity or a string is refused with an error and the trial stays open.

With MLFLOW_TRACKING_URI set (or `tracking_uri=`), the study is logged in MLflow as
`kubetune run` logs it, from a thread of its own; `tuner.close()` waits for the last records.

`spec.warmStart` works as in `kubetune run`: hand-given trials are asked first, and earlier
studies are read from `RUNS/NAME/results.jsonl` (`runs_dir`; by default the folder that holds
this study's results folder, or `kubetune-runs` when the Tuner keeps its trials in memory), so
a notebook learns from what `kubetune run` or another Tuner wrote there.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kubetune.api import StudySpec, load_study
from kubetune.api.parameters import ParamValue
from kubetune.engine import (
    Best,
    Decision,
    History,
    Lineage,
    StopDecision,
    TrialRecord,
    TrialState,
)
from kubetune.engine import decide as engine_decide
from kubetune.engine.decide import find_best
from kubetune.engine.outcome import trial_outcome
from kubetune.engine.warm_start import PriorSource
from kubetune.local.documents import parse_documents
from kubetune.local.results import ResultsFile, TrialRow
from kubetune.local.warm_start import load_prior
from kubetune.metrics.lines import BadValue, parse_number
from kubetune.tracking import setup
from kubetune.tracking.diff import StudyTrack
from kubetune.tracking.sink import BackgroundSink, Summary


class StudyFinishedError(RuntimeError):
    """`ask()` after the study is over (maxTrials, target, grid exhausted, ...)."""


@dataclass(frozen=True)
class Asked:
    name: str
    params: Mapping[str, ParamValue]
    budget: float | None
    #: algorithm pbt: the member, and the trial whose checkpoint to continue from (`parent`,
    #: None: from scratch); keeping checkpoints by trial name is the caller's, here.
    lineage: Lineage | None = None


class Tuner:
    def __init__(
        self,
        spec: StudySpec,
        study: str = "study",
        clock: Callable[[], float] = time.time,
        results: ResultsFile | None = None,
        runs_dir: str | Path | None = None,
        tracking_uri: str | None = None,
    ) -> None:
        self.spec = spec
        self.study = study
        self.clock = clock
        #: Where the trials are kept; `path` None keeps them in memory only.
        self.results = results if results is not None else ResultsFile(None)
        #: Earlier studies' trials this one learns from, and what each gave (`warmStart`).
        #: Read before anything is written: a missing study must not leave a results file.
        self.prior: tuple[TrialRecord, ...] = ()
        self.warm_start: list[PriorSource] = []
        if spec.warm_start.studies:
            self.prior, self.warm_start = load_prior(spec, _runs_dir(self.results, runs_dir))
        manifest = {
            "apiVersion": "kubetune.io/v1alpha1",
            "kind": "Study",
            "metadata": {"name": study},
            "spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        }
        # A new session: trials the last one left open run again, under the same names.
        self.results.write("study", clock(), manifest=manifest)
        self.sink, self.track = self._open_tracking(tracking_uri, manifest)
        self._asking: tuple[int, StudySpec] | None = None

    def _open_tracking(
        self, uri: str | None, manifest: dict[str, Any]
    ) -> tuple[BackgroundSink | None, StudyTrack | None]:
        """MLflow at `uri`, else at MLFLOW_TRACKING_URI when set (its client an extra)."""
        environ = {setup.URI_VARIABLE: uri} if uri else os.environ
        sink = setup.open_sink(environ)  # TrackingUnavailableError when the client is missing
        if sink is None:
            return None, None
        where = self.results.path
        key = (
            f"local:{where.resolve()}@{self.results.opened_at}"
            if where is not None
            else f"memory:{uuid.uuid4().hex}"
        )
        tags = {"kubetune.results": str(where.resolve())} if where is not None else {}
        return sink, setup.open_track(load_study(manifest), key, sink, tags)

    def _tracked(self, finished: bool = False) -> None:
        if self.track is None:
            return
        history = self.history
        if not finished:
            self.track.observe(history, self.clock())
            return
        decision = self._decide()
        finish = decision.finish if not history.active else None
        self.track.observe(history, self.clock(), finish, decision.best, len(decision.front))

    def close(self, deadline: float = 10.0) -> Summary | None:
        """Let the tracking server take what is still queued (up to `deadline` seconds, not
        waiting for one that is down); how many records were written and lost, or None when
        nothing is tracked. The Tuner keeps working without tracking afterwards."""
        if self.sink is None:
            return None
        summary = self.sink.close(deadline)
        self.sink = self.track = None
        return summary

    @classmethod
    def from_manifest(
        cls, manifest: Mapping[str, Any], results: str | Path | None = None, **kwargs: Any
    ) -> Tuner:
        """A new study; `results` names a results file to keep it in (a new one)."""
        study = load_study(dict(manifest))
        store = None
        if results is not None:
            path = _results_path(results)
            if path.exists() and path.stat().st_size:
                raise ValueError(f"{path} already holds a study; continue it with from_results")
            store = ResultsFile(path)
        return cls(study.spec, study.name, results=store, **kwargs)

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> Tuner:
        documents = parse_documents(Path(path).read_bytes(), str(path))
        studies = [d for d in documents if isinstance(d, dict) and d.get("kind") == "Study"]
        if len(studies) != 1:
            raise ValueError(f"{path} must hold exactly one Study, found {len(studies)}")
        return cls.from_manifest(studies[0], **kwargs)

    @classmethod
    def from_results(cls, path: str | Path, **kwargs: Any) -> Tuner:
        """Continue a study from its results file (or the folder `kubetune run` wrote)."""
        file = _results_path(path)
        if not file.is_file():
            raise ValueError(f"no results file at {file}")
        results = ResultsFile.load(file)  # a ResultsError (a ValueError) names the line
        study = load_study(results.manifest or {})
        results.check_against(study.spec)
        return cls(study.spec, study.name, results=results, **kwargs)

    # ----- what the study knows -------------------------------------------------------------

    @property
    def history(self) -> History:
        found = self.results.history(self.study, self.clock())
        return replace(found, prior=self.prior) if self.prior else found

    @property
    def trials(self) -> list[TrialRecord]:
        return list(self.history.trials)

    def _decide(self, spec: StudySpec | None = None) -> Decision:
        return engine_decide(spec or self.spec, self.history, self.clock())

    @property
    def finished(self) -> bool:
        """True once the engine says the study is over and no asked trial is still open."""
        history = self.history
        return self._decide().finish is not None and not history.active

    @property
    def best(self) -> Best | None:
        return find_best(self.spec, self.history)

    @property
    def best_params(self) -> dict[str, ParamValue] | None:
        best = self.best
        return None if best is None else dict(best.params)

    @property
    def best_value(self) -> float | None:
        best = self.best
        return None if best is None else best.objective

    def to_rows(self) -> list[dict[str, Any]]:
        """One flat dict per trial (`pandas.DataFrame(tuner.to_rows())`); parameters are
        `params_NAME` columns, as in Optuna's trials_dataframe."""
        return [
            {
                "name": row.name,
                "index": row.index,
                "state": row.state.value,
                "objective": row.objective,
                "reason": row.reason,
                "reports": len(row.reports),
                "attempt": row.attempt,
                **{f"params_{k}": v for k, v in row.params.items()},
            }
            for row in self.results.rows()
        ]

    # ----- ask, report, tell ------------------------------------------------------------------

    def ask(self) -> Asked:
        """One trial to run: first any an earlier session left unfinished (same name and
        params), else a new one. Open trials do not block it: parallelism is yours here."""
        now = self.clock()
        history = self.history
        waiting = history.by_state(TrialState.PENDING)
        if waiting:
            row = self.results.trials[waiting[0].name]
            self.results.write("started", now, trial=row.name, attempt=row.attempt)
            self._tracked()
            return Asked(row.name, dict(row.params), row.budget, row.lineage)
        decision = engine_decide(self._asking_spec(len(history.active)), history, now)
        if not decision.create:
            reason = decision.finish.message if decision.finish else "no suggestion available"
            raise StudyFinishedError(reason)
        new = decision.create[0]
        self.results.created(now, new)
        self.results.write("started", now, trial=new.name)
        self._tracked()
        return Asked(new.name, dict(new.params), new.budget, new.lineage)

    def _asking_spec(self, open_count: int) -> StudySpec:
        """The spec with room for one more trial than are open: parallelism is the caller's.
        Kept while the count stays the same (a copy of the spec per ask costs more than the
        decision it feeds)."""
        cached = self._asking
        if cached is None or cached[0] != open_count:
            budget = self.spec.budget.model_copy(update={"parallelism": open_count + 1})
            cached = (open_count, self.spec.model_copy(update={"budget": budget}))
            self._asking = cached
        return cached[1]

    def report(self, name: str, step: int, **metrics: float) -> StopDecision | None:
        """Record an intermediate report; returns the stop decision if the trial should end."""
        self._open(name)
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"report({name!r}): step must be a whole number >= 0, not {step!r}")
        checked = _checked(name, "report", metrics)
        self.results.write("report", self.clock(), trial=name, step=step, metrics=checked)
        for stop in self._decide().stop:
            if stop.trial == name:
                self.results.finished_trial(
                    self.clock(), name, TrialState.EARLY_STOPPED, stop.reason, stop=stop
                )
                self._tracked(finished=True)
                return stop
        self._tracked()
        return None

    def tell(
        self, name: str, value: float | None = None, *, failed: bool = False, **metrics: float
    ) -> None:
        """Finish a trial: with its objective (`tell(name, 0.93)` or by metric name), with
        nothing (its last `report()` of the objective counts), or failed."""
        row = self._open(name)
        metric = self.spec.primary.metric
        told = dict(metrics)
        if value is not None:
            told[metric] = value
        checked = _checked(name, "tell", told)  # before anything is written
        if checked:
            self.results.write("report", self.clock(), trial=name, step=None, metrics=checked)
        outcome = trial_outcome(self.spec, row.reports, "told failed" if failed else None)
        self.results.finished_trial(
            self.clock(),
            name,
            outcome.state,
            outcome.reason,
            outcome.objective,
            values=outcome.values,
        )
        self._tracked(finished=True)

    def _open(self, name: str) -> TrialRow:
        row = self.results.trials.get(name)
        if row is None:
            raise KeyError(f"no trial named {name!r}; ask() returns the names")
        if row.state == TrialState.PENDING:
            raise ValueError(f"trial {name} was left open by an earlier session; ask() for it")
        if row.state != TrialState.RUNNING:
            raise ValueError(f"trial {name} is already {row.state.value}")
        return row


def _checked(name: str, call: str, metrics: Mapping[str, Any]) -> dict[str, float]:
    values: dict[str, float] = {}
    for metric, raw in metrics.items():
        value = parse_number(metric, raw) if isinstance(raw, int | float) else None
        if value is None or isinstance(value, BadValue):
            why = value.reason if isinstance(value, BadValue) else "not a number"
            raise ValueError(
                f"{call}({name!r}): {metric}={raw!r} is refused ({why}); the trial is unchanged "
                "(pass a finite float, or tell(name, failed=True))"
            )
        values[metric] = value
    return values


def _runs_dir(results: ResultsFile, given: str | Path | None) -> Path:
    """Where earlier studies' results folders are looked for, as `kubetune run` looks."""
    if given is not None:
        return Path(given)
    if results.path is not None:
        return results.path.resolve().parent.parent
    return Path("kubetune-runs")


def _results_path(path: str | Path) -> Path:
    given = Path(path)
    return given / "results.jsonl" if given.is_dir() or given.suffix != ".jsonl" else given

"""A study in MLflow, through MLflow's own client (`kubetune[mlflow]`, mlflow-skinny).

The layout: an experiment named after the study (or `spec.tracking.mlflow.experiment`); a
parent run for the study, named after it, its settings as params and, when it ends, its best
trial, front size and finish reason as tags; one nested run per trial (tag
`mlflow.parentRunId`), named after the trial, its params, every reported metric at its step,
its state and reason as tags, its start and end times.

Runs are found again by their tags (`kubetune.key`, the study's identity across restarts,
and `kubetune.trial`): a shell that restarts, or a study resumed, writes into the runs it
wrote before, and a metric point a run already has (same key, step and value) is not written
twice. Called from the sink's thread only; every failure is raised for the sink to retry,
except what the server refuses for good (`PermanentError`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, overload

from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from kubetune.tracking.records import (
    Record,
    Reported,
    StudyClosed,
    StudyOpened,
    TrialClosed,
    TrialOpened,
)
from kubetune.tracking.sink import PermanentError

TrialRecord = TrialOpened | Reported | TrialClosed

KEY_TAG = "kubetune.key"
KIND_TAG = "kubetune.kind"
TRIAL_TAG = "kubetune.trial"
PARENT_TAG = "mlflow.parentRunId"
#: Error codes no retry can change (MLflow's own names for them).
_REFUSALS = {"INVALID_PARAMETER_VALUE", "BAD_REQUEST", "INVALID_STATE", "RESOURCE_DOES_NOT_EXIST"}
#: A trial's end as a run's status.
_STATUSES = {"Succeeded": "FINISHED", "EarlyStopped": "FINISHED", "Failed": "FAILED"}
_TEXT_LIMIT = 5000
WORKERS = 4  # a tag's value; MLflow takes 8000
_PARAM_LIMIT = 6000


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


@dataclass
class _TrialRun:
    run_id: str
    #: Points the run had before this writer wrote to it (loaded once per metric).
    had: dict[str, set[tuple[int, float]]] = field(default_factory=dict)
    found: bool = False
    status: str = "RUNNING"
    #: Params not sent yet: they go with the run's next metrics or tags (one request less).
    params: list[Param] = field(default_factory=list)


@dataclass
class _StudyRuns:
    experiment_id: str
    run_id: str
    trials: dict[str, _TrialRun]


class MlflowWriter:
    def __init__(self, tracking_uri: str | None = None) -> None:
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.studies: dict[str, _StudyRuns] = {}
        self.opened: dict[str, StudyOpened] = {}
        #: Trials are written side by side: a run's requests wait on the server, not the CPU.
        self.pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="mlflow")

    def write(self, records: Sequence[Record]) -> None:
        """In order for each trial, trials side by side: the study's run first (it is every
        trial run's parent), then each trial's records on `WORKERS` threads (a trial's
        metrics gathered into one request, sent with its end), then the study's end.
        Idempotent: a retry of the same records skips what a run already has."""
        try:
            for record in records:
                if isinstance(record, StudyOpened):
                    self.opened[record.key] = record
            for key in dict.fromkeys(r.key for r in records):
                self._study(key)
            trials: dict[tuple[str, str], list[TrialRecord]] = {}
            for record in records:
                if isinstance(record, TrialOpened | Reported | TrialClosed):
                    trials.setdefault((record.key, record.trial), []).append(record)
            for _ in self.pool.map(self._write_trial, trials.values()):
                pass  # raises the first failure
            for record in records:
                if isinstance(record, StudyClosed):
                    self._close_study(record)
        except MlflowException as error:
            if getattr(error, "error_code", None) in _REFUSALS:
                raise PermanentError(f"{error.error_code}: {error.message}"[:300]) from None
            raise

    def _write_trial(self, records: list[TrialRecord]) -> None:
        first = records[0]
        run = self._trial(first.key, first.trial, {}, None, create=False)
        pending: list[Metric] = []
        for record in records:
            if isinstance(record, TrialOpened):
                run = self._trial(record.key, record.trial, record.params, record.time)
                if run.status != "RUNNING":  # ended by an interruption, running again
                    self.client.update_run(run.run_id, status="RUNNING")
                    run.status = "RUNNING"
                continue
            run = run or self._trial(record.key, record.trial, {}, None)
            if isinstance(record, Reported):
                pending += self._new_points(run, record)
            else:
                self._close_trial(run, record, pending)
                pending = []
        if run is not None and (pending or run.params):
            self._flush(run, pending)

    def _new_points(self, run: _TrialRun, record: Reported) -> list[Metric]:
        points = []
        for name, value in record.metrics.items():
            if run.found and name not in run.had:
                history = self.client.get_metric_history(run.run_id, name)
                run.had[name] = {(m.step, m.value) for m in history}
            if (record.step, value) in run.had.get(name, ()):
                continue
            points.append(Metric(name, value, _ms(record.time), record.step))
        return points

    def _flush(self, run: _TrialRun, metrics: list[Metric], tags: Sequence[RunTag] = ()) -> None:
        """The metrics (in requests of at most 1000, MLflow's limit) and tags; each sent
        point is remembered, so a retry of the batch skips it."""
        chunks = [metrics[at : at + 1000] for at in range(0, len(metrics), 1000)] or [[]]
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            if chunk or run.params or (last and tags):
                self.client.log_batch(
                    run.run_id, metrics=chunk, params=run.params, tags=list(tags) if last else []
                )
                run.params = []
            for metric in chunk:
                run.had.setdefault(metric.key, set()).add((metric.step, metric.value))

    # ----- runs, found or made -------------------------------------------------------------

    def _study(self, key: str) -> _StudyRuns:
        known = self.studies.get(key)
        if known is not None:
            return known
        opened = self.opened.get(key)
        if opened is None:
            raise PermanentError(f"no StudyOpened for {key} before its records")
        experiment = self._experiment(opened.experiment)
        found = list(self._search(experiment, f"tags.`{KEY_TAG}` = '{_quoted(key)}'"))
        parent = next((r for r in found if r.data.tags.get(KIND_TAG) == "study"), None)
        trials = {
            r.data.tags[TRIAL_TAG]: _TrialRun(r.info.run_id, found=True, status=r.info.status)
            for r in found
            if r.data.tags.get(KIND_TAG) == "trial" and TRIAL_TAG in r.data.tags
        }
        if parent is None:
            tags = {KEY_TAG: key, KIND_TAG: "study", "kubetune.study": opened.study}
            tags.update(opened.tags)
            run = self.client.create_run(
                experiment, start_time=_ms(opened.time), tags=tags, run_name=opened.study
            )
            run_id = run.info.run_id
            params = [Param(k[:250], v[:_PARAM_LIMIT]) for k, v in opened.settings.items()]
            for chunk in _chunks(params, 100):
                self.client.log_batch(run_id, params=chunk)
        else:
            run_id = parent.info.run_id
            if parent.info.status != "RUNNING":
                self.client.update_run(run_id, status="RUNNING")  # resumed
        runs = self.studies[key] = _StudyRuns(experiment, run_id, trials)
        return runs

    def _experiment(self, name: str) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            if found.lifecycle_stage == "deleted":
                self.client.restore_experiment(found.experiment_id)
            return str(found.experiment_id)
        try:
            return str(self.client.create_experiment(name))
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            again = self.client.get_experiment_by_name(name)  # another writer made it
            assert again is not None
            return str(again.experiment_id)

    def _search(self, experiment: str, query: str) -> Iterator[Any]:
        token = None
        while True:
            page = self.client.search_runs([experiment], query, max_results=1000, page_token=token)
            yield from page
            token = page.token
            if not token:
                return

    @overload
    def _trial(
        self, key: str, trial: str, params: Mapping[str, Any], start: float | None
    ) -> _TrialRun: ...
    @overload
    def _trial(
        self, key: str, trial: str, params: Mapping[str, Any], start: float | None, create: bool
    ) -> _TrialRun | None: ...
    def _trial(
        self,
        key: str,
        trial: str,
        params: Mapping[str, Any],
        start: float | None,
        create: bool = True,
    ) -> _TrialRun | None:
        """The trial's run: known, found, or (`create`) made now, without params when the
        record that opened it was lost."""
        runs = self._study(key)
        known = runs.trials.get(trial)
        if known is not None or not create:
            return known
        tags = {
            PARENT_TAG: runs.run_id,
            KEY_TAG: key,
            KIND_TAG: "trial",
            TRIAL_TAG: trial,
            "kubetune.study": self.opened[key].study,
        }
        run = self.client.create_run(
            runs.experiment_id,
            start_time=_ms(start) if start is not None else None,
            tags=tags,
            run_name=trial,
        )
        made = runs.trials[trial] = _TrialRun(run.info.run_id)
        made.params = [Param(k, str(v)[:_PARAM_LIMIT]) for k, v in params.items()]
        return made

    # ----- what happens to them --------------------------------------------------------------

    def _close_trial(self, run: _TrialRun, record: TrialClosed, metrics: list[Metric]) -> None:
        tags = [RunTag("kubetune.state", record.state)]
        if record.reason:
            tags.append(RunTag("kubetune.reason", record.reason[:_TEXT_LIMIT]))
        if record.objective is not None:
            tags.append(RunTag("kubetune.objective", repr(record.objective)))
        self._flush(run, metrics, tags)
        status = _STATUSES.get(record.state, "KILLED")
        self.client.set_terminated(run.run_id, status=status, end_time=_ms(record.time))
        run.status = status

    def _close_study(self, record: StudyClosed) -> None:
        runs = self._study(record.key)
        if record.reason is None:  # interrupted: the next session reopens it
            self.client.set_terminated(runs.run_id, "KILLED", end_time=_ms(record.time))
            return
        tags = {"kubetune.finish_reason": record.reason}
        tags["kubetune.pareto_front_size"] = str(record.front_size)
        if record.best is not None:
            tags["kubetune.best_trial"] = record.best
            tags["kubetune.best_objective"] = repr(record.best_objective)
            tags["kubetune.best_params"] = json.dumps(dict(record.best_params))[:_TEXT_LIMIT]
        self.client.log_batch(runs.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        self.client.set_terminated(runs.run_id, "FINISHED", end_time=_ms(record.time))


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _chunks(items: list[Param], size: int) -> Iterator[list[Param]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

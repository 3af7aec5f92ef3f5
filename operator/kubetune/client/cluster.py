"""`kubetune.Client`: Studies on a cluster from Python, for notebooks and scripts.

Everything goes through the API server as `kubectl` would: the Study is validated there (its
CEL rules' messages come back as `StudyRejectedError` naming the field), the operator runs it,
and the client reads the Study's status and Trials, which hold every answer (best trial, front,
why each trial ended). Reading needs get, list and watch on studies and trials, and pods' logs
for `logs`; nothing else, so a read-only identity does everything but `create` and `delete`.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubetune.api.study import API_VERSION, FINISHED_STUDY_PHASES
from kubetune.client.bar import Bar, best_note
from kubetune.client.errors import StudyFailedError, StudyNotFoundError, translate
from kubetune.client.results import (
    Best,
    FrontMember,
    TrialResult,
    best_of,
    dataframe,
    front_of,
    trial_results,
)
from kubetune.controller.kube import API_ERRORS, Kube, context_namespace
from kubetune.controller.manifests import TRIAL_LABEL, WORKLOAD_LABEL
from kubetune.controller.workloads.registry import KINDS
from kubetune.metrics.wire import rank_zero

Obj = dict[str, Any]
#: Trial phases after which nothing changes.
FINAL_TRIAL_PHASES = frozenset({"Succeeded", "Failed", "EarlyStopped", "Killed"})
#: How long one watch request lasts before the client checks the Study and watches again.
WATCH_SECONDS = 10


@dataclass(frozen=True)
class TrialEvent:
    """A trial seen for the first time, or in a new phase."""

    trial: str
    phase: str
    previous: str | None
    params: dict[str, Any]
    objective: float | None
    reason: str | None


def study_document(study: Any) -> Obj:
    """A Study as the API takes it, from a dict, a YAML file's path or the pydantic model."""
    if isinstance(study, str | Path):
        from kubetune.local.documents import parse_documents  # noqa: PLC0415

        path = Path(study)
        documents = parse_documents(path.read_bytes(), str(path))
        found = [d for d in documents if isinstance(d, dict) and d.get("kind") == "Study"]
        if len(found) != 1:
            raise ValueError(
                f"{path} must hold exactly one document of kind: Study, found {len(found)}"
            )
        return found[0]
    if isinstance(study, Mapping):
        return {"apiVersion": API_VERSION, "kind": "Study", **study}
    dump = getattr(study, "model_dump", None)
    if dump is None:
        raise TypeError(f"create() takes a dict, a YAML file's path or a Study, not {study!r}")
    document: Obj = dump(mode="json", by_alias=True, exclude_none=True)
    return document


def finished_count(status: Mapping[str, Any]) -> int:
    counts = status.get("trials") or {}
    return sum(int(counts.get(k) or 0) for k in ("succeeded", "failed", "earlyStopped", "killed"))


def failure_message(name: str, status: Mapping[str, Any]) -> str:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") == "Failed"]
    why = conditions[-1].get("message") if conditions else None
    return f"Study {name!r} failed: {status.get('finishedBecause') or 'Failed'}" + (
        f": {why}" if why else ""
    )


class Client:
    """Studies in one namespace of one cluster: the current kubeconfig context's (or the pod's
    own identity in a cluster), or the `kubeconfig` file and `context` named."""

    def __init__(
        self,
        namespace: str | None = None,
        *,
        kubeconfig: str | Path | None = None,
        context: str | None = None,
    ) -> None:
        config = str(kubeconfig) if kubeconfig is not None else None
        try:
            self.kube = Kube(kubeconfig=config, context=context)
            self.namespace = namespace or context_namespace(config, context)
        except LookupError as error:
            raise StudyNotFoundError(str(error)) from None

    def _call(self, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except API_ERRORS as error:
            raise translate(error, what) from None

    # ----- studies ---------------------------------------------------------------------------

    def create(self, study: Any) -> Obj:
        """Create a Study from a dict, a YAML file's path or a `kubetune.api.Study`; returns the
        object the API server stored. Refused specs raise StudyRejectedError naming the field."""
        document = study_document(study)
        name = (document.get("metadata") or {}).get("name", "?")
        created: Obj = self._call(
            f"Study {name!r}", self.kube.create_study, self.namespace, document
        )
        return created

    def get(self, name: str) -> Obj:
        found: Obj | None = self._call(
            f"Study {name!r}", self.kube.fetch_study, self.namespace, name
        )
        if found is None:
            raise StudyNotFoundError(f"no Study {name!r} in namespace {self.namespace!r}")
        return found

    def list(self) -> builtins.list[Obj]:
        found: builtins.list[Obj] = self._call(
            f"the Studies of {self.namespace!r}", self.kube.list_studies, self.namespace
        )
        return found

    def delete(self, name: str, wait: bool = False, timeout: float = 60) -> None:
        """Delete a Study and, by owner, its Trials and their workloads; with `wait`, return
        once the API server no longer has it."""
        if not self._call(f"Study {name!r}", self.kube.delete_study, self.namespace, name):
            raise StudyNotFoundError(f"no Study {name!r} in namespace {self.namespace!r}")
        deadline = time.monotonic() + timeout
        while wait and self._call(f"Study {name!r}", self.kube.fetch_study, self.namespace, name):
            if time.monotonic() > deadline:
                raise TimeoutError(f"Study {name!r} still exists {timeout:g} s after its delete")
            time.sleep(0.5)

    def status(self, name: str) -> Obj:
        status: Obj = self.get(name).get("status") or {}
        return status

    def wait(
        self, name: str, timeout: float | None = None, progress: bool = True, poll: float = 1.0
    ) -> Obj:
        """Wait until the Study finishes and return its status; raise StudyFailedError with the
        reason when it fails, TimeoutError after `timeout` seconds. `progress`: a bar of trials
        finished (tqdm's, when installed) with the best so far."""
        study = self.get(name)
        total = int(study["spec"].get("budget", {}).get("maxTrials") or 0)
        metric = str((study["spec"].get("objective") or study["spec"]["objectives"][0])["metric"])
        deadline = None if timeout is None else time.monotonic() + timeout
        with Bar(name, total, enabled=progress) as bar:
            while True:
                status = study.get("status") or {}
                budget = int(study["spec"].get("budget", {}).get("maxTrials") or total)
                bar.update(
                    finished_count(status), best_note(metric, status.get("bestTrial")), budget
                )
                if status.get("phase") == "Succeeded":
                    return dict(status)
                if status.get("phase") == "Failed":
                    raise StudyFailedError(
                        failure_message(name, status), status.get("finishedBecause"), status
                    )
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(
                        f"Study {name!r} still {status.get('phase', 'Created')} "
                        f"({status.get('progress') or '0/' + str(total)}) after {timeout:g} s"
                    )
                time.sleep(poll)
                study = self.get(name)

    def watch(self, name: str, timeout: float | None = None) -> Iterator[TrialEvent]:
        """Each trial as it appears and each phase it enters, until the Study finishes and
        every trial has ended (or `timeout` seconds pass)."""
        seen: dict[str, str] = {}
        version: str | None = None
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            seconds = WATCH_SECONDS
            if deadline is not None:
                seconds = max(1, min(seconds, int(deadline - time.monotonic()) + 1))
            try:
                for kind, trial in self.kube.watch_trials(self.namespace, name, version, seconds):
                    if kind == "ERROR":  # e.g. 410 Gone: start again from the current list
                        version = None
                        break
                    version = trial["metadata"].get("resourceVersion") or version
                    event = self._event(kind, trial, seen)
                    if event is not None:
                        yield event
            except API_ERRORS as error:
                raise translate(error, f"the Trials of Study {name!r}") from None
            status = self.status(name)
            if status.get("phase") in FINISHED_STUDY_PHASES and all(
                p in FINAL_TRIAL_PHASES for p in seen.values()
            ):
                return
            if deadline is not None and time.monotonic() > deadline:
                return

    @staticmethod
    def _event(kind: str, trial: Obj, seen: dict[str, str]) -> TrialEvent | None:
        name = trial["metadata"]["name"]
        if kind == "DELETED":
            seen.pop(name, None)
            return None
        status = trial.get("status") or {}
        phase = str(status.get("phase") or "Pending")
        previous = seen.get(name)
        if previous == phase:
            return None
        seen[name] = phase
        return TrialEvent(
            trial=name,
            phase=phase,
            previous=previous,
            params=dict(trial["spec"].get("params") or {}),
            objective=status.get("objective"),
            reason=status.get("reason"),
        )

    # ----- what a study learned ----------------------------------------------------------------

    def best(self, name: str) -> Best | None:
        """The best trial so far (None before one succeeds), as the Study's status says."""
        return best_of(self.status(name))

    def pareto(self, name: str) -> builtins.list[FrontMember]:
        """Several objectives: the trials on the Pareto front, as the Study's status says."""
        return front_of(self.status(name))

    def trials(self, name: str) -> builtins.list[TrialResult]:
        self.get(name)  # a missing Study is an error, not an empty list
        found = self._call(
            f"the Trials of Study {name!r}", self.kube.list_trials, self.namespace, name
        )
        return trial_results(found)

    def dataframe(self, name: str) -> Any:
        """`trials(name)` as a pandas DataFrame, one row per trial (pandas: an optional extra)."""
        return dataframe(self.trials(name))

    def logs(self, trial: str, tail: int | None = None) -> str:
        """What the trial's trainer printed: its reporting pod's latest attempt."""
        return trial_logs(self.kube, self.namespace, trial, tail)


def _reports(labels: Mapping[str, str]) -> bool:
    kind = KINDS.get(labels.get(WORKLOAD_LABEL, ""))
    return kind.reports(labels) if kind is not None else rank_zero(labels)


def trial_logs(kube: Kube, namespace: str, trial: str, tail: int | None = None) -> str:
    """The trainer's output of a trial's reporting pod (a JobSet's or TrainJob's trial has
    several: rank 0 reports, by its kind's rule), its latest attempt."""
    what = f"the logs of Trial {trial!r}"
    try:
        pods = kube.list_pods(namespace, f"{TRIAL_LABEL}={trial}")
    except API_ERRORS as error:
        raise translate(error, what) from None
    if not pods:
        raise StudyNotFoundError(
            f"Trial {trial!r} has no pod (not yet, or no more: a Job's pods go with it)"
        )
    reporting = [p for p in pods if _reports(p["metadata"].get("labels") or {})] or pods
    pod = max(reporting, key=lambda p: p["metadata"].get("creationTimestamp") or "")
    container = pod["spec"]["containers"][0]["name"]
    try:
        return kube.fetch_logs(namespace, pod["metadata"]["name"], container, tail)
    except API_ERRORS as error:
        raise translate(error, f"the logs of pod {pod['metadata']['name']}") from None

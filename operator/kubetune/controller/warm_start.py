"""The operator's read of earlier studies for `spec.warmStart.studies`.

An earlier study is a Study of that name in the same namespace, read through the API server
with the operator's own RBAC (it already gets Studies and lists Trials everywhere it works);
its own Trials (owned by its uid) are handed to `engine.warm_start.fit_prior`, which decides
what is learned from. Only a finished Study is read: one still running would change under the
new study's decisions. A finished Study's trials no longer change, so they are kept per uid
(an optimisation: the API server can always rebuild them) and read once.

Before the new study has a trial, a name that is not there yet, or a study still running, holds
it back (`Waiting`: the study loop says so on the Study and looks again); after, an earlier
study deleted meanwhile is learned without, and the Study's status shows it gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubetune.api.study import FINISHED_STUDY_PHASES, StudySpec
from kubetune.controller.kube import Kube, Obj
from kubetune.engine.history import TrialRecord
from kubetune.engine.warm_start import PriorSource, fit_prior
from kubetune.records.trials import owned_by, trial_record

#: Seconds between looks while a study waits for an earlier one.
WAIT_SECONDS = 10.0


class Waiting(Exception):  # noqa: N818 (a state, not a failure)
    """The study cannot start yet: an earlier study it learns from is missing or running."""


@dataclass(frozen=True)
class Prior:
    trials: tuple[TrialRecord, ...]
    sources: tuple[PriorSource, ...]

    def status(self) -> list[dict[str, Any]]:
        return [
            {
                "study": s.study,
                "used": s.used,
                "skipped": s.skipped,
                **({"firstSkipped": s.why} if s.why else {}),
            }
            for s in self.sources
        ]


class WarmStartReader:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        #: (namespace, name) -> (uid, the trials as records): finished studies only.
        self._finished: dict[tuple[str, str], tuple[str, tuple[TrialRecord, ...]]] = {}

    def prior(self, study: Obj, spec: StudySpec, begun: bool) -> Prior:
        """What `study` learns from; raises `Waiting` while it must not start yet."""
        namespace = study["metadata"]["namespace"]
        trials: list[TrialRecord] = []
        sources: list[PriorSource] = []
        for index, name in enumerate(spec.warm_start.studies):
            records, missing = self._records(namespace, name, index, begun)
            if records is None:
                sources.append(PriorSource(name, 0, 0, f"{missing}; learned without it"))
                continue
            used, source = fit_prior(spec, name, records)
            trials += used
            sources.append(source)
        return Prior(tuple(trials), tuple(sources))

    def _records(
        self, namespace: str, name: str, index: int, begun: bool
    ) -> tuple[tuple[TrialRecord, ...] | None, str | None]:
        """The earlier study's trials, or None and why, once this study has begun."""
        field = f"spec.warmStart.studies[{index}]"
        earlier = self.kube.fetch_study(namespace, name)
        if earlier is None:
            self._finished.pop((namespace, name), None)
            if begun:
                return None, "the Study is gone"
            raise Waiting(
                f"{field}: no Study {name!r} in namespace {namespace!r}; waiting for it "
                "(create it, or fix the name: warmStart cannot change, so recreate this Study)"
            )
        uid = earlier["metadata"]["uid"]
        known = self._finished.get((namespace, name))
        if known is not None and known[0] == uid:
            return known[1], None
        phase = (earlier.get("status") or {}).get("phase", "Created")
        if phase not in FINISHED_STUDY_PHASES:
            if begun:
                return None, f"the Study is {phase} now"
            raise Waiting(
                f"{field}: Study {name!r} is {phase}; a warm start learns from finished studies, "
                "so this one starts when it ends"
            )
        records = tuple(
            trial_record(t) for t in self.kube.list_trials(namespace, name) if owned_by(t, uid)
        )
        self._finished[(namespace, name)] = (uid, records)
        return records, None

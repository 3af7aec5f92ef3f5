"""The one interface every kind of trial workload offers: what `registry` holds per kind.

A kind is a module with a builder (the trial's workload object, from its Study and Trial:
pure) and a room (its objects' and pods' watch events, read as trial phases). The rest of
the operator reaches a kind only through this: the study loop builds, the handlers hand
events to the room, the heal pass asks the room what went missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from kubetune.api.study import Study
from kubetune.controller.kube import Kube, Obj
from kubetune.controller.phases import TrialPhases
from kubetune.controller.settings import OperatorSettings

#: (study, trial object, collector token, settings) -> the trial's workload object.
Builder = Callable[[Study, Mapping[str, Any], str, OperatorSettings], dict[str, Any]]
#: (kube, study, namespace) -> why a trial of this Study cannot run here, or None: what only
#: the cluster can say and the API server would not refuse (a TrainJob's runtime).
Preflight = Callable[[Kube, Study, str], str | None]


class Room(Protocol):
    """A kind's events, read as trial phases (handed to `TrialPhases`)."""

    def on_workload(self, workload: Obj) -> None: ...

    def on_workload_deleted(self, workload: Obj) -> None: ...

    def on_pod(self, pod: Obj) -> None: ...

    def on_pod_deleted(self, pod: Obj) -> None: ...

    def heal(self, study: Obj, trials: list[Obj], api_version: str, plural: str) -> None:
        """Fail the running trials whose workload is gone with no event seen."""


@dataclass(frozen=True)
class WorkloadKind:
    #: The name its pods carry (manifests.WORKLOAD_LABEL) and its room is found by.
    name: str
    build: Builder
    room: Callable[[Kube, TrialPhases], Room]
    #: Whether a pod of this kind's trial, with these labels, is the one that reports (whose
    #: logs `kubetune logs` shows).
    reports: Callable[[Mapping[str, str]], bool]
    #: The API group/version/plural its objects are watched at; None for the kinds that are
    #: only known from each Study (`conditions`).
    watched: tuple[str, str, str] | None = None
    preflight: Preflight | None = None

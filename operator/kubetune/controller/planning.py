"""A pass's plan: what the operator writes for a decision, as data. Pure: no API calls, no
clock, no randomness, so every decision the study loop acts on is tested without a cluster
(tests/unit/controller/test_planning.py).

A pass observes (the Study and its Trials from the caches, `cache.py`), decides (the engine),
plans here, writes (`studies.StudyLoop`), observes again and plans the status:
- `plan_actions`: the trials to end (stopped early, killed when the study finishes), the
  Trials to create with their events;
- `plan_status`: the Study's whole status after the writes (with `nextTrialIndex` past the
  new Trials), and the events a change of it tells (a better best trial, the study finished).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubetune.api.study import FINISHED_STUDY_PHASES, Study
from kubetune.api.trial import TrialState
from kubetune.controller import manifests
from kubetune.engine import Decision, History
from kubetune.engine.samplers.auto import choose
from kubetune.records.study_status import build_study_status

Obj = dict[str, Any]
#: (reason, message, type) of a Kubernetes Event on the Study.
Event = tuple[str, str, str]


@dataclass(frozen=True)
class Ending:
    """A running trial to end: the status fields to write and the event that says why."""

    trial: str
    update: Obj
    event: Event | None = None


@dataclass(frozen=True)
class Creation:
    """A Trial to create, and what its creation tells."""

    trial: Obj
    event: Event


@dataclass(frozen=True)
class Plan:
    endings: tuple[Ending, ...] = ()
    creations: tuple[Creation, ...] = ()
    #: One more pass right after this one: the killed trials' own events are no news.
    again: bool = False


@dataclass(frozen=True)
class StatusPlan:
    status: Obj
    events: tuple[Event, ...] = field(default=())
    #: Whether the status differs from the one stored (no write otherwise).
    changed: bool = True


def plan_actions(study_obj: Mapping[str, Any], decision: Decision) -> Plan:
    endings = [
        Ending(
            stop.trial,
            {"phase": TrialState.EARLY_STOPPED.value, "reason": stop.reason, "stop": stop.__dict__},
            ("TrialStoppedEarly", f"{stop.trial}: {stop.reason}", "Normal"),
        )
        for stop in decision.stop
    ]
    if decision.kill:
        assert decision.finish is not None
        reason = f"study finished: {decision.finish.reason}"
        endings += [
            Ending(name, {"phase": TrialState.KILLED.value, "reason": reason})
            for name in decision.kill
        ]
    creations = tuple(
        Creation(
            manifests.build_trial(study_obj, new),
            (
                "TrialCreated",
                f"{new.name}: {render(new.params)}"
                + (f"; {new.lineage.describe()}" if new.lineage else ""),
                "Normal",
            ),
        )
        for new in decision.create
    )
    # The counter (`nextTrialIndex`) moves past the new trials with the status written after
    # they exist (`plan_status`), not before and not in a write of its own: a pass that dies
    # in between leaves no gap in the names (the next one numbers from the highest Trial
    # there is) and the counter still keeps a deleted Trial's name from coming back.
    return Plan(tuple(endings), creations, again=bool(decision.kill))


def plan_status(
    study_obj: Mapping[str, Any],
    study: Study,
    history: History,
    decision: Decision,
    now: float,
    warm_start: list[Obj] | None = None,
) -> StatusPlan:
    previous = study_obj.get("status") or {}
    new = build_study_status(
        previous,
        history,
        decision,
        # the hand-given warm-start trials run on top of maxTrials
        study.spec.budget.max_trials + len(study.spec.warm_start.trials),
        study_obj["metadata"].get("generation"),
        now,
        study.spec.primary.metric,
        choose(study.spec),
    )
    if warm_start is not None:
        new["warmStart"] = warm_start
    events: list[Event] = []
    before = (previous.get("bestTrial") or {}).get("name")
    best = new.get("bestTrial")
    if best and best["name"] != before:
        events.append(
            (
                "BestTrialImproved",
                f"{best['name']}: objective {best['objective']:.6g} with {render(best['params'])}",
                "Normal",
            )
        )
    if new["phase"] in FINISHED_STUDY_PHASES and previous.get("phase") != new["phase"]:
        assert decision.finish is not None
        kind = "Normal" if new["phase"] == "Succeeded" else "Warning"
        events.append(
            ("StudyFinished", f"{decision.finish.reason}: {decision.finish.message}", kind)
        )
    changed = any(previous.get(k) != v for k, v in new.items())
    return StatusPlan(new, tuple(events), changed)


def render(params: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )

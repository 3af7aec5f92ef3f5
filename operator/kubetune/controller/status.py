"""Pure translations between cluster objects and engine values, and the Study status.

`history_from_trials` rebuilds the engine's History from Trial objects (this is what makes an
operator restart lose nothing); `job_outcome` reads a Job's status as a trial phase;
`build_study_status` renders a Decision into the Study's status. No I/O.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from kubetune.api.trial import MAX_REPORTS
from kubetune.engine import Decision, History, Report, StopDecision, TrialRecord, TrialState


def now_iso(now: float) -> str:
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()


def trial_phase(trial: Mapping[str, Any]) -> TrialState:
    """A Trial object's phase; one with no status yet is Pending."""
    return TrialState((trial.get("status") or {}).get("phase", TrialState.PENDING))


def trial_record(obj: Mapping[str, Any]) -> TrialRecord:
    spec, status = obj["spec"], obj.get("status") or {}
    stop = status.get("stop")
    return TrialRecord(
        name=obj["metadata"]["name"],
        index=spec["index"],
        params=dict(spec["params"]),
        state=trial_phase(obj),
        reports=tuple(Report(r.get("step"), r["metrics"]) for r in status.get("reports", [])),
        objective=status.get("objective"),
        reason=status.get("reason"),
        stop=StopDecision(**stop) if stop else None,
        budget=spec.get("budget"),
        values=dict(status.get("values") or {}),
    )


def owned_by(obj: Mapping[str, Any], owner_uid: str) -> bool:
    return any(ref.get("uid") == owner_uid for ref in obj["metadata"].get("ownerReferences") or [])


def history_from_trials(
    study: Mapping[str, Any], trials: Iterable[Mapping[str, Any]], now: float
) -> History:
    """The engine's view of a Study, from its Trials and its status. Trials of an earlier
    Study of the same name (still being garbage-collected) are not its own and are left out;
    the stored next index keeps a deleted trial's name from coming back."""
    meta, previous = study["metadata"], study.get("status") or {}
    own = (t for t in trials if owned_by(t, meta["uid"]))
    records = sorted((trial_record(t) for t in own), key=lambda r: r.index)
    return History(
        study=meta["name"],
        trials=tuple(records),
        started_at=parse_time(previous.get("startTime")) or now,
        next_index=previous.get("nextTrialIndex"),
    )


def job_outcome(job: Mapping[str, Any]) -> tuple[TrialState, str | None]:
    """(phase, reason) of a trial from its Job: Pending, Running, Succeeded or Failed."""
    status = job.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition["type"] in ("Complete", "SuccessCriteriaMet"):
            return TrialState.SUCCEEDED, None
        if condition["type"] in ("Failed", "FailureTarget"):
            reason = condition.get("reason") or "JobFailed"
            message = condition.get("message") or ""
            return TrialState.FAILED, f"Job failed: {reason}" + (f": {message}" if message else "")
    if (status.get("ready") or 0) > 0:
        return TrialState.RUNNING, None
    return TrialState.PENDING, None


#: Waiting reasons no retry will cure: the trial fails with the kubelet's message instead of
#: waiting Pending forever. (ImagePullBackOff: the kubelet already retried the pull once.)
HOPELESS = (
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
)


def pod_outcome(pod: Mapping[str, Any]) -> tuple[TrialState, str | None]:
    """(phase, reason) of a trial from its pod; a failure names the trainer's exit code, or
    why its container (or the metrics sidecar) can never start."""
    status = pod.get("status") or {}
    phase = status.get("phase", "Pending")
    if phase in ("Pending", "Running"):
        for container in (status.get("initContainerStatuses") or []) + (
            status.get("containerStatuses") or []
        ):
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in HOPELESS:
                detail = waiting.get("message") or ""
                return (
                    TrialState.FAILED,
                    f"container {container.get('name')}: {waiting['reason']}"
                    + (f": {detail}" if detail else ""),
                )
    if phase == "Failed":
        trainer = (status.get("containerStatuses") or [{}])[0]
        ended = (trainer.get("state") or {}).get("terminated") or {}
        if "exitCode" in ended:
            detail = ended.get("message") or ended.get("reason") or ""
            return TrialState.FAILED, f"trainer exited with code {ended['exitCode']}" + (
                f": {detail}" if detail else ""
            )
        return TrialState.FAILED, _pod_failure(pod)
    if phase == "Running":
        trainer = (status.get("containerStatuses") or [{}])[0]
        running = "running" in (trainer.get("state") or {})
        return (TrialState.RUNNING if running else TrialState.PENDING), None
    succeeded = phase == "Succeeded"
    return (TrialState.SUCCEEDED if succeeded else TrialState.PENDING), None


def _pod_failure(pod: Mapping[str, Any]) -> str:
    """Why a pod failed with no exit code of its trainer: most often it was disrupted (its
    node gone, an eviction, a preemption), which Kubernetes records as a condition."""
    status, meta = pod.get("status") or {}, pod.get("metadata") or {}
    node = (pod.get("spec") or {}).get("nodeName")
    where = f"pod {meta.get('name', '')}" + (f" on node {node}" if node else "")
    for condition in status.get("conditions") or []:
        if condition.get("type") == "DisruptionTarget" and condition.get("status") == "True":
            detail = condition.get("message") or ""
            return f"{where} was disrupted: {condition.get('reason')}" + (
                f": {detail}" if detail else ""
            )
    return f"{where} failed: {status.get('reason') or status.get('message') or 'unknown'}"


def merge_reports(
    existing: list[dict[str, Any]], new: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Append, keeping at most MAX_REPORTS: the latest half kept whole, older ones thinned
    evenly, so a long run still shows its whole curve within etcd's object size limit."""
    merged = existing + new
    if len(merged) <= MAX_REPORTS:
        return merged
    keep = MAX_REPORTS // 2
    recent, older = merged[-keep:], merged[:-keep]
    room = MAX_REPORTS - keep
    return older[:: math.ceil(len(older) / room)][:room] + recent


def _condition(
    kind: str, reason: str, message: str, now: str, previous: list[dict[str, Any]]
) -> dict[str, Any]:
    same = next((c for c in previous if c.get("type") == kind and c.get("reason") == reason), None)
    return {
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastTransitionTime": same["lastTransitionTime"] if same else now,
    }


def build_study_status(
    previous: Mapping[str, Any],
    history: History,
    decision: Decision,
    max_trials: int,
    generation: int | None,
    now: float,
    metric: str,
) -> dict[str, Any]:
    """The Study's whole status after a decision. `nextTrialIndex` is one past every trial
    ever created, including the decision's new ones: names are never reused. `metric`: the
    metric the best trial's `objective` is (the first objective's, when there are several),
    kept beside it for `kubectl get`'s METRIC column."""
    counts = Counter(t.state for t in history.trials)
    done = sum(counts[s] for s in TrialState if not s.active)
    stamp = now_iso(now)
    finished = decision.finish is not None and not history.active and not decision.kill
    if finished:
        assert decision.finish is not None
        phase = "Succeeded" if decision.finish.succeeded else "Failed"
    else:
        phase = "Running" if history.trials or decision.create else "Created"
    old_conditions = list(previous.get("conditions") or [])
    if finished:
        assert decision.finish is not None
        condition = _condition(
            phase, decision.finish.reason, decision.finish.message, stamp, old_conditions
        )
    else:
        condition = _condition(
            "Running", "TrialsRunning", f"{done} of {max_trials} trials done", stamp, old_conditions
        )
    best = decision.best
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": [condition],
        "trials": {
            "total": len(history.trials),
            "pending": counts[TrialState.PENDING],
            "queued": counts[TrialState.QUEUED],
            "running": counts[TrialState.RUNNING],
            "succeeded": counts[TrialState.SUCCEEDED],
            "failed": counts[TrialState.FAILED],
            "earlyStopped": counts[TrialState.EARLY_STOPPED],
            "killed": counts[TrialState.KILLED],
        },
        "bestTrial": None
        if best is None
        else {
            "name": best.trial,
            "params": dict(best.params),
            "objective": best.objective,
            "metric": metric,
        },
        **(
            {
                "paretoFront": [
                    {"name": m.trial, "params": dict(m.params), "objectives": dict(m.objectives)}
                    for m in decision.front
                ],
                "paretoFrontSize": len(decision.front),
            }
            if decision.front
            else {}
        ),
        "nextSuggestions": [dict(p) for p in decision.next_suggestions]
        or previous.get("nextSuggestions", []),
        "earlyStopped": [{**t.stop.__dict__} for t in history.trials if t.stop is not None],
        "progress": f"{done}/{max_trials}",
        "finishedBecause": decision.finish.reason if finished and decision.finish else None,
        "observedGeneration": generation,
        "nextTrialIndex": max([history.next_trial_index, *(n.index + 1 for n in decision.create)]),
        "startTime": previous.get("startTime") or stamp,
        "completionTime": (previous.get("completionTime") or stamp) if finished else None,
    }
    return status

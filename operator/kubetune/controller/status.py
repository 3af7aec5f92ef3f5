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


def trial_record(obj: Mapping[str, Any]) -> TrialRecord:
    spec, status = obj["spec"], obj.get("status") or {}
    stop = status.get("stop")
    return TrialRecord(
        name=obj["metadata"]["name"],
        index=spec["index"],
        params=dict(spec["params"]),
        state=TrialState(status.get("phase", "Pending")),
        reports=tuple(Report(r.get("step"), r["metrics"]) for r in status.get("reports", [])),
        objective=status.get("objective"),
        reason=status.get("reason"),
        stop=StopDecision(**stop) if stop else None,
        budget=spec.get("budget"),
    )


def history_from_trials(
    study: str, trials: Iterable[Mapping[str, Any]], started_at: float | None
) -> History:
    records = sorted((trial_record(t) for t in trials), key=lambda r: r.index)
    return History(study=study, trials=tuple(records), started_at=started_at)


def job_outcome(job: Mapping[str, Any]) -> tuple[str, str | None]:
    """(phase, reason) of a trial from its Job: Pending, Running, Succeeded or Failed."""
    status = job.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition["type"] in ("Complete", "SuccessCriteriaMet"):
            return "Succeeded", None
        if condition["type"] in ("Failed", "FailureTarget"):
            reason = condition.get("reason") or "JobFailed"
            message = condition.get("message") or ""
            return "Failed", f"Job failed: {reason}" + (f": {message}" if message else "")
    if (status.get("ready") or 0) > 0:
        return "Running", None
    return "Pending", None


#: Waiting reasons no retry will cure: the trial fails with the kubelet's message instead of
#: waiting Pending forever. (ImagePullBackOff: the kubelet already retried the pull once.)
HOPELESS = (
    "ImagePullBackOff",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
)


def pod_outcome(pod: Mapping[str, Any]) -> tuple[str, str | None]:
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
                return "Failed", f"container {container.get('name')}: {waiting['reason']}" + (
                    f": {detail}" if detail else ""
                )
    if phase == "Failed":
        trainer = (status.get("containerStatuses") or [{}])[0]
        ended = (trainer.get("state") or {}).get("terminated") or {}
        if "exitCode" in ended:
            detail = ended.get("message") or ended.get("reason") or ""
            return "Failed", f"trainer exited with code {ended['exitCode']}" + (
                f": {detail}" if detail else ""
            )
        return "Failed", f"pod failed: {status.get('reason') or status.get('message') or 'unknown'}"
    if phase == "Running":
        trainer = (status.get("containerStatuses") or [{}])[0]
        return ("Running", None) if "running" in (trainer.get("state") or {}) else ("Pending", None)
    return ("Succeeded", None) if phase == "Succeeded" else ("Pending", None)


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
) -> dict[str, Any]:
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
            "running": counts[TrialState.RUNNING],
            "succeeded": counts[TrialState.SUCCEEDED],
            "failed": counts[TrialState.FAILED],
            "earlyStopped": counts[TrialState.EARLY_STOPPED],
            "killed": counts[TrialState.KILLED],
        },
        "bestTrial": None
        if best is None
        else {"name": best.trial, "params": dict(best.params), "objective": best.objective},
        "nextSuggestions": [dict(p) for p in decision.next_suggestions]
        or previous.get("nextSuggestions", []),
        "earlyStopped": [{**t.stop.__dict__} for t in history.trials if t.stop is not None],
        "progress": f"{done}/{max_trials}",
        "finishedBecause": decision.finish.reason if finished and decision.finish else None,
        "observedGeneration": generation,
        "startTime": previous.get("startTime") or stamp,
        "completionTime": (previous.get("completionTime") or stamp) if finished else None,
    }
    return status

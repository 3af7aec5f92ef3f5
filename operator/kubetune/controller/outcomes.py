"""A workload's or a pod's status read as its trial's phase (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubetune.engine import TrialState


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
        for container in status.get("initContainerStatuses") or []:  # before the trainer
            ended = (container.get("state") or {}).get("terminated") or {}
            if ended.get("exitCode"):
                detail = ended.get("message") or ended.get("reason") or ""
                return TrialState.FAILED, (
                    f"container {container.get('name')} exited with code {ended['exitCode']}"
                    + (f": {detail.strip()}" if detail else "")
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

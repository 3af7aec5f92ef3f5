"""A local study (a results file) as the cluster's Study and Trials would show it.

`kubetune status`, `trials` and `best` print both kinds the same way through these documents,
and the dashboard draws both from them. The status is built by the same
`records.study_status.build_study_status` the operator writes with, from what the file
recorded (the best trial, why the study finished), without asking the sampler again: a
10,000-trial Bayesian study opens at once.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from kubetune.api import Study, load_study
from kubetune.engine import Decision, Finish
from kubetune.engine.decide import find_best, find_front
from kubetune.engine.samplers.auto import choose
from kubetune.local.results import ResultsFile, TrialRow
from kubetune.records.study_status import build_study_status
from kubetune.records.times import now_iso

#: The namespace field of a local study's documents; the JSON API says null instead.
LOCAL_PREFIX = "local:"


def study_document(results: ResultsFile, folder: Path, now: float | None = None) -> dict[str, Any]:
    """The Study object of a results file, status included (raises InvalidStudyError)."""
    now = time.time() if now is None else now
    study: Study = load_study(results.manifest or {})
    history = results.history(study.name, now)
    finished = results.finished
    finish = (
        None
        if finished is None
        else Finish(
            reason=str(finished.get("reason") or "Finished"),
            succeeded=bool(finished.get("succeeded")),
            message=str(finished.get("message") or ""),
        )
    )
    front = tuple(find_front(study.spec, history)) if study.spec.multi_objective else ()
    decision = Decision(finish=finish, best=find_best(study.spec, history), front=front)
    status = build_study_status(
        {},
        history,
        decision,
        study.spec.budget.max_trials,
        None,
        now,
        study.spec.primary.metric,
        choose(study.spec),
    )
    if finished is None:
        status["phase"] = "Stopped" if not history.active else "Running"
        if not history.active:
            status["conditions"][0].update(
                reason="Interrupted",
                message="not running; continue with kubetune run STUDY.yaml --resume "
                f"--out {folder}",
            )
    else:
        status["completionTime"] = now_iso(float(finished.get("time") or now))
    started = min((r.started for r in results.rows() if r.started is not None), default=None)
    status["startTime"] = now_iso(started) if started is not None else None
    document = study.model_dump(mode="json", by_alias=True, exclude_none=True)
    document["metadata"]["namespace"] = f"{LOCAL_PREFIX}{folder}"
    document["status"] = status
    return document


def _iso(moment: float | None) -> str | None:
    """RFC 3339 to the millisecond (the cluster's are to the second; a local trial may be
    shorter than one)."""
    if moment is None:
        return None
    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat(timespec="milliseconds")


def trial_document(row: TrialRow) -> dict[str, Any]:
    """A Trial object of a local trial, with every report (the cluster keeps a bounded set)."""
    status: dict[str, Any] = {
        "phase": row.state.value,
        "objective": row.objective,
        "values": dict(row.values) or None,
        "reason": row.reason,
        "reports": [{"step": r.step, "metrics": dict(r.metrics)} for r in row.reports],
        "stop": dict(row.stop.__dict__) if row.stop else None,
        "startTime": _iso(row.started),
        "completionTime": _iso(row.ended),
    }
    spec: dict[str, Any] = {"index": row.index, "params": dict(row.params), "budget": row.budget}
    lineage = row.lineage
    if lineage is not None:  # as the operator writes a pbt Trial: spec and status
        spec["lineage"] = {
            "member": lineage.member,
            "parent": lineage.parent,
            "generation": lineage.generation,
            "changes": dict(lineage.changes),
        }
        status.update(spec["lineage"])
    return {"metadata": {"name": row.name}, "spec": spec, "status": status}


def local_documents(
    results: ResultsFile, folder: Path
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return study_document(results, folder), [trial_document(r) for r in results.rows()]

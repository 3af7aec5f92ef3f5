"""A trial's workload gone before its trial ended, whatever its kind: deleted by someone else
(its DELETED event), or while the operator was down (`heal`, the periodic look over each
running study). Either way the trial fails, naming what went."""

from __future__ import annotations

from kubetune.controller import manifests
from kubetune.controller.kube import Kube, Obj
from kubetune.controller.phases import TrialPhases
from kubetune.records.trials import owned_by, trial_phase

#: Trial names per list of their workloads (a label selector's set; URLs stay short).
SELECTED = 100


def on_deleted(kube: Kube, phases: TrialPhases, workload: Obj, kind: str) -> None:
    meta = workload["metadata"]
    name = (meta.get("labels") or {}).get(manifests.TRIAL_LABEL)
    if not name:
        return
    known = phases.applied.get((meta["namespace"], name))
    if known is not None and known[1].finished:
        return  # ended first (by us: a stop, a kill, a failure), then its workload deleted
    trial = phases.trials.get(meta["namespace"], name)
    if trial is None or not owned_by(workload, trial["metadata"]["uid"]):
        return  # the Trial went first (the workload is garbage-collected after it)
    if trial_phase(trial).active:
        phases.lose(trial, f"its {kind} {meta['name']} was deleted")


def heal(
    kube: Kube,
    phases: TrialPhases,
    study: Obj,
    trials: list[Obj],
    resource: tuple[str, str],
    kind: str,
) -> None:
    """Fail the running trials whose workload (at `resource`: apiVersion, plural) is gone
    with no event seen."""
    marked = [t for t in trials if trial_phase(t).active and (t.get("status") or {}).get("jobName")]
    if not marked:
        return
    meta = study["metadata"]
    present: set[str] = set()
    # Only the running trials' workloads, not the study's every finished one (at 2,000 trials
    # that list took seconds each minute): the selector names them, a hundred at a time.
    names = [t["metadata"]["name"] for t in marked]
    for start in range(0, len(names), SELECTED):
        chosen = ",".join(names[start : start + SELECTED])
        selector = f"{manifests.STUDY_LABEL}={meta['name']},{manifests.TRIAL_LABEL} in ({chosen})"
        present |= {
            w["metadata"]["name"]
            for w in kube.list_workloads(meta["namespace"], selector, *resource)
            if not w["metadata"].get("deletionTimestamp")
        }
    for trial in marked:
        name = trial["status"]["jobName"]
        if name not in present:
            phases.lose(trial, f"its {kind} {name} was deleted")

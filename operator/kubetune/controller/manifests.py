"""Pure builders of the objects the operator creates: a Trial per engine suggestion, and the
parts every kind of workload shares (placeholders substituted, labels, owner references, the
GPU shortcut, the trainer's wrapper, the metrics sidecar); each kind's module in
`controller/workloads` puts them together. No I/O: dicts in, dicts out, so every rule here
is unit-tested without a cluster.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Any

from kubetune.api import trainer_env
from kubetune.api.checkpoints import CHECKPOINT_DIR, RESTORE_DIR, trial_folder
from kubetune.api.study import API_VERSION, QUEUE_LABEL, Study
from kubetune.api.template import placeholder_values, substitute
from kubetune.api.trainer_env import Places, cluster_places, place_values, render_trainer_env
from kubetune.controller.settings import OperatorSettings
from kubetune.engine import NewTrial
from kubetune.metrics import prometheus, wire

STUDY_LABEL = "kubetune.io/study"
TRIAL_LABEL = "kubetune.io/trial"
#: On each pod of a trial: the kind of its workload, so that its events reach that kind's room.
WORKLOAD_LABEL = "kubetune.io/workload"
SIDECAR_NAME = "kubetune-metrics"
#: A pbt trial's init container that deletes checkpoints no line can reach any more.
PRUNE_NAME = "kubetune-prune"
#: A pbt trial's volume: the Study's checkpoint claim (spec.checkpoints).
CHECKPOINT_VOLUME = "kubetune-checkpoints"
#: The volumes a trial's trainer and sidecar share: the output's folder (wire.OUTPUT_DIR), and
#: the folder of the metrics file or event files when it is elsewhere.
OUTPUT_VOLUME = "kubetune-output"
METRICS_FOLDER_VOLUME = "kubetune-metrics-folder"
SIDECAR_GRACE_SECONDS = 90  # > the sidecar's FINAL_FLUSH_SECONDS; a user's own value wins
GPU_RESOURCE = "nvidia.com/gpu"
#: On a trial's Job and pod: what the workload room needs to judge the trial when it ends,
#: without reading the Study (`read_notes`).
METRIC_ANNOTATION = "kubetune.io/metric"
PROMETHEUS_URL = "kubetune.io/prometheus-url"
PROMETHEUS_QUERY = "kubetune.io/prometheus-query"
#: On each pod: its Job's backoffLimit, so that a failed pod with retries left is not read
#: as its trial's failure (the Job starts another attempt).
RETRIES_ANNOTATION = "kubetune.io/retries"
#: On each pod of a trial in a Kueue queue: its pods may be stopped by a preemption, which
#: only the Job's suspension tells apart from a failure.
QUEUE_ANNOTATION = "kubetune.io/queue"


@dataclass(frozen=True)
class JobNotes:
    metric: str
    prometheus_url: str | None = None
    prometheus_query: str | None = None


def read_notes(annotations: Mapping[str, str]) -> JobNotes:
    return JobNotes(
        annotations.get(METRIC_ANNOTATION, ""),
        annotations.get(PROMETHEUS_URL),
        annotations.get(PROMETHEUS_QUERY),
    )


def prometheus_url(study: Study, settings: OperatorSettings) -> str | None:
    """The Prometheus a Study reads: its own url, else the operator's default."""
    source = study.spec.metrics.prometheus
    return None if source is None else source.url or settings.prometheus_url


def owner_reference(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def build_trial(study_obj: Mapping[str, Any], new: NewTrial) -> dict[str, Any]:
    study = study_obj["metadata"]["name"]
    return {
        "apiVersion": API_VERSION,
        "kind": "Trial",
        "metadata": {
            "name": new.name,
            "namespace": study_obj["metadata"]["namespace"],
            "labels": {STUDY_LABEL: study, TRIAL_LABEL: new.name},
            "ownerReferences": [owner_reference(study_obj)],
        },
        "spec": {
            "study": study,
            "index": new.index,
            "params": dict(new.params),
            **({"budget": new.budget} if new.budget is not None else {}),
            **_lineage_spec(new),
        },
    }


def _lineage_spec(new: NewTrial) -> dict[str, Any]:
    lineage = new.lineage
    if lineage is None:
        return {}
    return {
        "lineage": {
            "member": lineage.member,
            **({"parent": lineage.parent} if lineage.parent is not None else {}),
            "generation": lineage.generation,
            "changes": dict(lineage.changes),
        },
        "checkpointsInUse": list(new.checkpoints_in_use),
    }


def checkpoint_places(study: Study, trial_obj: Mapping[str, Any]) -> Places | None:
    """A pbt trial's checkpoint folder and its parent's, on the claim as its pod mounts it
    (None: not a pbt study on a cluster)."""
    claim = study.spec.checkpoints
    if claim is None or not study.spec.algorithm.segmented:
        return None
    name = trial_obj["metadata"]["name"]
    parent = (trial_obj["spec"].get("lineage") or {}).get("parent")
    return Places(
        "",
        "",
        checkpoint_dir=trial_folder(claim.mount_path, study.name, name),
        restore_dir=trial_folder(claim.mount_path, study.name, parent) if parent else "",
    )


def add_checkpoints(
    pod: dict[str, Any], study: Study, trial_obj: Mapping[str, Any], settings: OperatorSettings
) -> None:
    """Mount the Study's checkpoint claim into a pbt trial's trainer and tell it its two
    folders. First, in an init container (the operator itself mounts no volume): fail the
    trial if its parent's checkpoint is missing, and delete the checkpoints no line can reach
    any more. Only folders of trials older than this one that were not in use when it was
    made are deleted: a newer trial's may still be being written, and a checkpoint out of
    use never comes back into use."""
    places = checkpoint_places(study, trial_obj)
    claim = study.spec.checkpoints
    if places is None or claim is None:
        return
    mount = {"name": CHECKPOINT_VOLUME, "mountPath": claim.mount_path}
    pod.setdefault("volumes", []).append(
        {"name": CHECKPOINT_VOLUME, "persistentVolumeClaim": {"claimName": claim.volume_claim}}
    )
    trainer = pod["containers"][0]
    trainer.setdefault("volumeMounts", []).append(mount)
    told = {CHECKPOINT_DIR: places.checkpoint_dir}
    if places.restore_dir:
        told[RESTORE_DIR] = places.restore_dir
    env = [e for e in trainer.get("env") or [] if e.get("name") not in told]
    trainer["env"] = env + [{"name": k, "value": v} for k, v in told.items()]
    spec = trial_obj["spec"]
    prune = [
        "kubetune",
        "prune-checkpoints",
        str(PurePosixPath(claim.mount_path) / study.name),
        f"--study={study.name}",
        f"--below={spec['index']}",
        *(f"--keep={name}" for name in spec.get("checkpointsInUse") or []),
        *([f"--restore={places.restore_dir}"] if places.restore_dir else []),
    ]
    init = {
        "name": PRUNE_NAME,
        "image": settings.sidecar_image,
        "command": prune,
        "volumeMounts": [mount],
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
    }
    pod.setdefault("initContainers", []).insert(0, init)


def add_gpus(pod: dict[str, Any], study: Study) -> None:
    resources = study.spec.resources
    if not resources.gpus:
        return
    trainer = pod["containers"][0]
    limits = trainer.setdefault("resources", {}).setdefault("limits", {})
    limits[GPU_RESOURCE] = str(resources.gpus)
    tolerations = pod.setdefault("tolerations", [])
    tolerations.append({"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
    selector = pod.setdefault("nodeSelector", {})
    selector["nvidia.com/gpu.present"] = "true"
    if resources.gpu_type:
        selector["nvidia.com/gpu.product"] = resources.gpu_type


def shared_mounts(study: Study) -> list[dict[str, Any]]:
    """The folders a trial's trainer and sidecar share: the output's, and the folder of the
    metrics file or the event files when it is elsewhere (an emptyDir of its own, as Katib
    mounts its collectors' folders)."""
    mounts = [{"name": OUTPUT_VOLUME, "mountPath": wire.OUTPUT_DIR}]
    folder = study.spec.metrics.folder
    inside = folder is None or folder == wire.OUTPUT_DIR or folder.startswith(wire.OUTPUT_DIR + "/")
    if folder is not None and not inside:
        mounts.append({"name": METRICS_FOLDER_VOLUME, "mountPath": folder})
    return mounts


def shared_volumes(study: Study) -> list[dict[str, Any]]:
    return [{"name": m["name"], "emptyDir": {}} for m in shared_mounts(study)]


def add_trainer_env(trainer: dict[str, Any], study: Study, trial: str, reports: bool) -> None:
    """The variables every trainer can rely on (`trainer_env`); where its pod reports, also
    the places of the metrics file and event files (shared with the sidecar)."""
    source = study.spec.metrics
    told = render_trainer_env(source, study.name, trial, cluster_places(source))
    if not reports:  # no shared folder in this pod: only who it is
        told = {name: told[name] for name in (trainer_env.STUDY, trainer_env.TRIAL)}
    ours = set(told)
    env = [e for e in trainer.get("env") or [] if e.get("name") not in ours]
    trainer["env"] = env + [{"name": name, "value": value} for name, value in told.items()]


def wrap_trainer(trainer: dict[str, Any], study: Study) -> None:
    """Tee the trainer's output into the shared volume, keeping its exit code (POSIX sh).

    The exit code appears (renamed into place) only once tee has written the last line: the
    sidecar takes it as "nothing more will come", flushes and exits, without waiting for a
    SIGTERM that can be lost (a signal reaching PID 1 before it installs its handler is
    dropped, and the kubelet would SIGKILL the sidecar 30 s later)."""
    argv = list(trainer.get("command") or []) + list(trainer.get("args") or [])
    code = wire.EXIT_CODE_FILE
    # The event files' folder is there before the trainer starts, as under `kubetune run`.
    tensorboard = study.spec.metrics.tensorboard
    make = f"mkdir -p {tensorboard.dir}; " if tensorboard is not None else ""
    script = (
        f'{make}{{ "$@" 2>&1; echo $? > {code}.tmp; }} | tee -a {wire.OUTPUT_FILE}; '
        f"mv {code}.tmp {code}; exit $(cat {code})"
    )
    trainer["command"] = ["/bin/sh", "-c", script, "kubetune-trainer", *argv]
    trainer.pop("args", None)
    trainer.setdefault("volumeMounts", []).extend(shared_mounts(study))


def build_sidecar(
    study: Study,
    trial: str,
    token: str,
    settings: OperatorSettings,
    rank: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The metrics sidecar; `rank`: the wire.RANK_LABELS its pod learns its rank from (none:
    every pod that has it reports)."""
    source = study.spec.metrics
    places = cluster_places(source)
    told = wire.SidecarEnv(
        collector_url=settings.collector_url,
        token=token,
        trial=trial,
        metrics=study.spec.tracked_metrics,
        format=source.format,
        regex=source.regex,
        rank=rank,
        tensorboard_dir=places.tensorboard_dir if source.tensorboard is not None else None,
        tags=source.tensorboard.tags if source.tensorboard is not None else {},
        metrics_file=places.metrics_file if source.file is not None else None,
        file_format=source.file.format if source.file is not None else "text",
    )
    return {
        "name": SIDECAR_NAME,
        "image": settings.sidecar_image,
        "restartPolicy": "Always",  # a native sidecar: the Job completes when the trainer exits
        "command": ["kubetune", "sidecar"],
        "env": told.render(),
        "volumeMounts": shared_mounts(study),
        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
    }


def _notes(study: Study, trial: str, settings: OperatorSettings) -> dict[str, str]:
    notes = {METRIC_ANNOTATION: study.spec.primary.metric}
    source, url = study.spec.metrics.prometheus, prometheus_url(study, settings)
    if source is not None and url is not None:
        notes[PROMETHEUS_URL] = url
        notes[PROMETHEUS_QUERY] = prometheus.render_query(source.query, trial)
    return notes


def decorate_pod(
    pod_template: dict[str, Any],
    study: Study,
    trial: str,
    retries: int,
    sidecar: dict[str, Any] | None,
    settings: OperatorSettings,
) -> None:
    """What every pod of a trial gets: labels, the notes for the workload room, the GPU
    shortcut, and, where it reports, the trainer's wrapper and the metrics sidecar."""
    notes = pod_notes(study, trial, retries, settings)
    pod_meta = pod_template.setdefault("metadata", {})
    pod_meta.setdefault("labels", {}).update(notes["labels"])
    pod_meta.setdefault("annotations", {}).update(notes["annotations"])
    pod = pod_template["spec"]
    pod.setdefault("restartPolicy", "Never")
    add_gpus(pod, study)
    add_trainer_env(pod["containers"][0], study, trial, reports=sidecar is not None)
    if sidecar is not None:
        wrap_trainer(pod["containers"][0], study)
        # The sidecar's last post may have to wait out an operator restart (it retries for
        # FINAL_FLUSH_SECONDS); the kubelet kills it when the grace period ends, 30 s by default.
        pod.setdefault("terminationGracePeriodSeconds", SIDECAR_GRACE_SECONDS)
        pod.setdefault("volumes", []).extend(shared_volumes(study))
        pod.setdefault("initContainers", []).append(sidecar)


def _kind_label(study: Study) -> str:
    template = study.spec.trial_template
    return template.kind if template.workload is None else "conditions"


def pod_notes(study: Study, trial: str, retries: int, settings: OperatorSettings) -> dict[str, Any]:
    """The labels and annotations of every pod of a trial (for kinds whose pods are not
    templated whole, as a TrainJob's: its runtime's patch carries them)."""
    queue = study.spec.queue
    return {
        "labels": {STUDY_LABEL: study.name, TRIAL_LABEL: trial, WORKLOAD_LABEL: _kind_label(study)},
        "annotations": {
            **_notes(study, trial, settings),
            RETRIES_ANNOTATION: str(retries),
            **({QUEUE_ANNOTATION: queue} if queue is not None else {}),
        },
    }


def workload_object(
    study: Study,
    trial_obj: Mapping[str, Any],
    template: dict[str, Any],
    spec: dict[str, Any],
    settings: OperatorSettings,
    suspend: bool = True,
) -> dict[str, Any]:
    """The workload object around `spec`: named as its Trial, labelled, annotated, owned by
    the Trial; suspended in its Kueue queue when the Study names one (`suspend`: the kind has
    spec.suspend, as Job, JobSet and TrainJob do)."""
    meta = trial_obj["metadata"]
    queue = study.spec.queue
    if queue is not None and suspend:
        # Kueue's webhook suspends a labelled workload too; created suspended, nothing can
        # start before Kueue has admitted it, whatever the order in which the two see it.
        spec["suspend"] = True
    own = template.get("metadata", {})
    return {
        "apiVersion": study.spec.trial_template.resource[0],
        "kind": study.spec.trial_template.kind,
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": {
                **own.get("labels", {}),
                STUDY_LABEL: study.name,
                TRIAL_LABEL: meta["name"],
                **({QUEUE_LABEL: queue} if queue is not None else {}),
            },
            "annotations": {
                **own.get("annotations", {}),
                "kubetune.io/params": json.dumps(trial_obj["spec"]["params"]),
                **_notes(study, meta["name"], settings),
            },
            "ownerReferences": [owner_reference(trial_obj)],
        },
        "spec": spec,
    }


def substituted(study: Study, trial_obj: Mapping[str, Any]) -> dict[str, Any]:
    meta, spec = trial_obj["metadata"], trial_obj["spec"]
    names = [p.name for p in study.spec.parameters]
    where = cluster_places(study.spec.metrics)
    folders = checkpoint_places(study, trial_obj)
    if folders is not None:
        where = replace(
            where, checkpoint_dir=folders.checkpoint_dir, restore_dir=folders.restore_dir
        )
    places = place_values(study.spec.metrics, where)
    values = placeholder_values(
        study.name, meta["name"], spec["params"], spec.get("budget"), names, places
    )
    template = study.spec.trial_template.model_dump(mode="json", by_alias=True, exclude_none=True)
    substituted: dict[str, Any] = substitute(copy.deepcopy(template), values)
    return substituted


def sidecar_for(
    study: Study, trial: str, token: str, settings: OperatorSettings, rank: tuple[str, ...] = ()
) -> dict[str, Any] | None:
    if study.spec.metrics.prometheus is not None:
        return None  # Prometheus is read instead
    return build_sidecar(study, trial, token, settings, rank)

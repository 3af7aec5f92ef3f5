"""`spec.checkpoints`: where a population-based study's trials keep their checkpoints on a
cluster, and the folder each trial writes and restores from, on either shell.

A PBT trial trains one segment and exits, so a checkpoint must outlive its pod and be read by
another trial's pod, maybe on another node: a PersistentVolumeClaim the Study names, mounted
into every trial's pod (ReadWriteMany where trials may land on different nodes). Locally the
folders live under the study's results folder instead, and the field is not needed.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from pydantic import Field

from kubetune.api.base import Model

DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
#: Where the claim is mounted in each trial's pod unless `mountPath` says otherwise.
DEFAULT_MOUNT = "/kubetune/checkpoints"
#: The variables a PBT trainer reads (also `${trial.checkpointDir}`, `${trial.restoreDir}`).
CHECKPOINT_DIR = "KUBETUNE_CHECKPOINT_DIR"
RESTORE_DIR = "KUBETUNE_RESTORE_DIR"


class Checkpoints(Model):
    volume_claim: str = Field(
        max_length=253,
        pattern=DNS_SUBDOMAIN,
        description="A PersistentVolumeClaim in the Study's namespace that holds each trial's "
        "checkpoint folder (STUDY/TRIAL); ReadWriteMany where trials may land on different "
        "nodes. Required for algorithm pbt on a cluster.",
    )
    mount_path: str = Field(
        default=DEFAULT_MOUNT,
        pattern=r"^/",
        max_length=1024,
        description=f"Where the claim is mounted in each trial's pod. Default {DEFAULT_MOUNT}.",
    )


def trial_folder(root: str, study: str, trial: str) -> str:
    """A trial's checkpoint folder under `root` (the claim's mount, or the local folder)."""
    return str(PurePosixPath(root) / study / trial)

"""What a trainer can rely on, on both shells: one list of variables and placeholders.

`kubetune run` renders it into each trial process's environment; the operator into the trainer
container of each trial's pods (a TrainJob's `spec.trainer.env`). Only the places differ: a
cluster trial writes its event files and metrics file into the folder it shares with the
metrics sidecar, a local trial into its own folder under `kubetune-runs/STUDY/trials/`.
`TRAINER_VARIABLES` is the list the README documents (a test holds the two together).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubetune.api.checkpoints import CHECKPOINT_DIR, RESTORE_DIR
from kubetune.api.sources import CLUSTER_TENSORBOARD_DIR, MetricsSource

STUDY = "KUBETUNE_STUDY"
TRIAL = "KUBETUNE_TRIAL"
TENSORBOARD_DIR = "KUBETUNE_TENSORBOARD_DIR"
METRICS_FILE = "KUBETUNE_METRICS_FILE"

#: Every variable a trainer sees, and when. The same on both shells.
TRAINER_VARIABLES: dict[str, str] = {
    STUDY: "the Study's name",
    TRIAL: "the trial's name (STUDY-N)",
    TENSORBOARD_DIR: "with spec.metrics.tensorboard: the folder to write event files into",
    METRICS_FILE: "with spec.metrics.file: the file to append reports to",
    CHECKPOINT_DIR: "with algorithm pbt: the folder to write this segment's checkpoint into "
    "(create it if missing)",
    RESTORE_DIR: "with algorithm pbt, past a line's first segment: the checkpoint folder to "
    "continue from (unset in the first generation)",
}
#: The placeholders that name the same places, for a trainer that takes them as flags.
PLACE_PLACEHOLDERS = {"trial.tensorboardDir": TENSORBOARD_DIR, "trial.metricsFile": METRICS_FILE}
#: The same for a pbt trial's checkpoint folders (`${trial.restoreDir}` is empty in the first
#: generation).
CHECKPOINT_PLACEHOLDERS = {"trial.checkpointDir": CHECKPOINT_DIR, "trial.restoreDir": RESTORE_DIR}


@dataclass(frozen=True)
class Places:
    """Where one trial's event files and metrics file are, as its trainer sees them."""

    tensorboard_dir: str
    metrics_file: str
    #: A pbt trial's checkpoint folder and the one it continues from ("": none).
    checkpoint_dir: str = ""
    restore_dir: str = ""


def cluster_places(source: MetricsSource) -> Places:
    """Inside a cluster trial's pod (both folders are shared with the sidecar)."""
    metrics_file = source.file.path if source.file is not None else ""
    folder = source.tensorboard.dir if source.tensorboard is not None else CLUSTER_TENSORBOARD_DIR
    return Places(folder, metrics_file)


def render_trainer_env(
    source: MetricsSource, study: str, trial: str, places: Places
) -> dict[str, str]:
    """The variables of TRAINER_VARIABLES that this study's trainers get, in that order."""
    env = {STUDY: study, TRIAL: trial}
    if source.tensorboard is not None:
        env[TENSORBOARD_DIR] = places.tensorboard_dir
    if source.file is not None:
        env[METRICS_FILE] = places.metrics_file
    if places.checkpoint_dir:
        env[CHECKPOINT_DIR] = places.checkpoint_dir
    if places.restore_dir:
        env[RESTORE_DIR] = places.restore_dir
    return env


def place_values(source: MetricsSource, places: Places) -> dict[str, str]:
    """The place placeholders this study may use (`${trial.tensorboardDir}`, ...), valued."""
    env = render_trainer_env(source, "", "", places)
    values = {key: env[name] for key, name in PLACE_PLACEHOLDERS.items() if name in env}
    if places.checkpoint_dir:
        values["trial.checkpointDir"] = places.checkpoint_dir
        values["trial.restoreDir"] = places.restore_dir
    return values


def place_placeholder_problem(source: MetricsSource, expression: str) -> str | None:
    """Why `${expression}` cannot be used with this source (None: it can, or it is not one)."""
    name = PLACE_PLACEHOLDERS.get(expression)
    if name is None or name in render_trainer_env(source, "", "", Places("", "")):
        return None
    needed = "spec.metrics.tensorboard" if name == TENSORBOARD_DIR else "spec.metrics.file"
    return f"${{{expression}}} names where {needed} is read from; set {needed}, or drop it"

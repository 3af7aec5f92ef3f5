"""A local pbt study's checkpoint folders: `kubetune-runs/STUDY/checkpoints/TRIAL/`.

Each segment writes into its own folder and reads its parent's; the runner empties a
segment's folder at each start (what an interrupted or failed attempt left is not a
checkpoint), refuses to start a segment whose parent's folder is gone or empty (the segment
fails with `CheckpointMissing`, and the engine moves its member on: engine/pbt.py), and deletes
the folders the engine says no line can reach any more.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kubetune.engine import Lineage

FOLDER = "checkpoints"


def trial_checkpoints(out_dir: Path, trial: str) -> Path:
    return (out_dir / FOLDER / trial).resolve()


def missing_parent(out_dir: Path, lineage: Lineage | None) -> str | None:
    """Why the segment cannot start from its parent's checkpoint (None: it can, or it starts
    from scratch)."""
    if lineage is None or lineage.parent is None:
        return None
    return missing_checkpoint(trial_checkpoints(out_dir, lineage.parent))


def missing_checkpoint(folder: Path) -> str | None:
    """Why a segment cannot continue from the checkpoint `folder` (None: it can); the same
    words on a cluster, where a trial pod's init container checks (`kubetune
    prune-checkpoints --restore`)."""
    try:
        empty = not any(folder.iterdir())
    except OSError as error:
        said = f"cannot be read ({error.strerror})"
        return f"CheckpointMissing: {folder.name}'s checkpoint folder {folder} {said}"
    return (
        f"CheckpointMissing: {folder.name}'s checkpoint folder {folder} is empty" if empty else None
    )


def fresh_checkpoint_dir(out_dir: Path, trial: str) -> Path:
    """The segment's own folder, emptied: a half-written checkpoint of an earlier attempt
    must not pass for this one's."""
    folder = trial_checkpoints(out_dir, trial)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def drop(out_dir: Path, trials: tuple[str, ...]) -> list[str]:
    """Delete the checkpoint folders of `trials` that still exist; the names deleted."""
    dropped = []
    for trial in trials:
        folder = trial_checkpoints(out_dir, trial)
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
            dropped.append(trial)
    return dropped

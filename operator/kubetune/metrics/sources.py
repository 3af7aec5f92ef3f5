"""The follower of a study's reports, by its source (`spec.metrics`).

A metrics file and TensorBoard event files are followed (`files.py`, `tensorboard.py`); the
trainer's output is read line by line instead (`lines.build_parser`), and Prometheus by the
operator (`prometheus.py`): `build_follower` answers None for those.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from kubetune.api.sources import MetricsSource
from kubetune.metrics import files, tensorboard
from kubetune.metrics.follow import Follower


def build_follower(source: MetricsSource, known: Collection[str], place: Path) -> Follower | None:
    """The follower of this study's source, reading `place` (the metrics file, or the event
    files' folder, as this shell sees it); None when the source is not a file."""
    if source.file is not None:
        return files.MetricsFileFollower(place, source, known)
    if source.tensorboard is not None:
        return tensorboard.EventDirFollower(place, source.tensorboard.tags, known)
    return None

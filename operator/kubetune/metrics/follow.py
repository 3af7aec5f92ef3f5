"""What the readers that follow files (a metrics file, TensorBoard event files) hand the shells.

Both shells own a `Follower` per running trial and `poll` it every half second, and once more
with `final=True` when the trainer has ended (all it wrote is on disk by then). A poll
returns the reports found since the last one and, at most once, an error that fails the trial
(a corrupt record, a value that is not a number), after which the follower reads no more.
`sources.build_follower` builds the one a study needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from kubetune.engine.history import Report

#: How often the shells poll a follower while its trainer runs (seconds).
POLL_SECONDS = 0.5
#: The most read of a file in one go: a trainer that writes faster is caught up with later.
CHUNK_BYTES = 4 << 20


def read_chunk(path: Path, offset: int) -> bytes:
    """What `path` holds from `offset` on, at most CHUNK_BYTES (OSError when unreadable)."""
    with path.open("rb") as stream:
        stream.seek(offset)
        return stream.read(CHUNK_BYTES)


@dataclass(frozen=True)
class Polled:
    reports: tuple[Report, ...] = ()
    #: Why the trial must fail (said once; the follower reads nothing after it).
    error: str | None = None


@dataclass
class Batch:
    """Reports being gathered in one poll: metrics of one step written one after another
    (a SummaryWriter writes each scalar on its own) become one report. Reports without a
    step stay apart: each is the next position (`TrialRecord.series`)."""

    reports: list[Report] = field(default_factory=list)

    def add(self, step: int | None, metrics: dict[str, float]) -> None:
        last = self.reports[-1] if self.reports else None
        same_step = last is not None and step is not None and last.step == step
        if same_step and last is not None and not set(metrics) & set(last.metrics):
            self.reports[-1] = Report(step=step, metrics={**last.metrics, **metrics})
        else:
            self.reports.append(Report(step=step, metrics=metrics))

    def done(self, error: str | None = None) -> Polled:
        return Polled(tuple(self.reports), error)


class Follower(Protocol):
    def poll(self, final: bool = False) -> Polled: ...

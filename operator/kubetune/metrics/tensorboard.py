"""Follow the TensorBoard event files a trainer writes (`spec.metrics.tensorboard`).

The trainer's log folder may hold several event files (a restarted trainer starts a new one)
and subfolders (Keras writes `train/` and `validation/`, Lightning `version_N/`): every file
whose name holds `tfevents`, at any depth, is read, in the order of the timestamp in its name
(`events.out.tfevents.TIMESTAMP.HOST...`), then of its path. A tag from a file in a subfolder
is also known by the subfolder's path, as TensorBoard names the run: `validation/epoch_loss`.

A metric is read from the tag `spec.metrics.tensorboard.tags` maps it to, or from the tag of
its own name. A plain tag written in two runs (Keras' `train/` and `validation/` both write
`epoch_accuracy`) would mix two series into one: the trial fails, asking for the run to be
named. Each file is read from where the last poll stopped; a record still being written is
left for the next poll; a corrupt one fails the trial naming the file and the byte offset.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kubetune.metrics.event_proto import BadEventError, Event, decode_event
from kubetune.metrics.follow import CHUNK_BYTES, Batch, Polled, read_chunk
from kubetune.metrics.lines import BadValue, parse_number
from kubetune.metrics.tfrecord import read_records

_TIMESTAMP = re.compile(r"tfevents\.(\d+)")


@dataclass
class _File:
    offset: int = 0
    #: tag -> plugin name, as the file's first value of each tag said (TF writes it once).
    plugins: dict[str, str] = field(default_factory=dict)


def _order(path: Path) -> tuple[int, str]:
    found = _TIMESTAMP.search(path.name)
    return (int(found.group(1)) if found else 0, str(path))


class EventDirFollower:
    def __init__(self, directory: Path, tags: Mapping[str, str], known: Collection[str]) -> None:
        self.directory = directory
        self.wanted = {metric: tags.get(metric, metric) for metric in known}
        self.files: dict[Path, _File] = {}
        #: metric -> the run (subfolder) a plain tag was first read from.
        self.runs: dict[str, str] = {}
        self.failed = False

    def poll(self, final: bool = False) -> Polled:
        batch = Batch()
        if self.failed:
            return batch.done()
        try:
            found = sorted(
                (p for p in self.directory.rglob("*tfevents*") if p.is_file()), key=_order
            )
        except OSError:  # the folder is not there yet, or went away meanwhile
            found = []
        for path in found:
            error = self._read(path, batch)
            if error is not None:
                self.failed = True
                return batch.done(error)
        return batch.done()

    def _read(self, path: Path, batch: Batch) -> str | None:
        state = self.files.setdefault(path, _File())
        run = str(path.parent.relative_to(self.directory))
        run = "" if run == "." else run
        name = path.relative_to(self.directory)
        while True:
            try:
                chunk = read_chunk(path, state.offset)
            except OSError:
                return None
            records = read_records(chunk)
            for payload in records.payloads:
                try:
                    event = decode_event(payload, state.plugins)
                except BadEventError as bad:
                    return f"TensorBoard event file {name}: a record is not an Event ({bad})"
                error = self._take(event, run, batch)
                if error is not None:
                    return f"TensorBoard event file {name}: {error}"
            if records.corrupt is not None:
                at, why = state.offset + records.corrupt.offset, records.corrupt.why
                return f"TensorBoard event file {name}: corrupt record at byte {at} ({why})"
            state.offset += records.offset
            if len(chunk) < CHUNK_BYTES or not records.offset:
                return None

    def _take(self, event: Event, run: str, batch: Batch) -> str | None:
        metrics: dict[str, float] = {}
        for scalar in event.scalars:
            full = f"{run}/{scalar.tag}" if run else scalar.tag
            for metric, tag in self.wanted.items():
                if tag == full or (run and "/" in tag and full.endswith("/" + tag)):
                    pass
                elif tag == scalar.tag:
                    first = self.runs.setdefault(metric, run)
                    if first != run:
                        return (
                            f"tag {tag!r} is written in two runs, {first or '.'!r} and "
                            f"{run or '.'!r}: name the one to read in spec.metrics.tensorboard."
                            f"tags, e.g. {metric}: {run or first}/{tag}"
                        )
                else:
                    continue
                value = parse_number(metric, scalar.value)
                if isinstance(value, BadValue):
                    return f"bad value at step {event.step}: {value}"
                metrics[metric] = value
        if metrics:
            batch.add(event.step, metrics)
        return None

"""Follow a metrics file the trainer appends to (`spec.metrics.file`), as it grows.

Each poll reads the bytes added since the last one and parses every complete line: as the
study's line format says (`format: text`) or as one JSON object per line (`format: json`).
A line still being written waits for its newline, except at the final poll (the trainer is
done). A file that shrank was written anew: it is read again from its start. A file that is
not there yet is nothing to read.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from kubetune.api.sources import MetricsSource
from kubetune.metrics.follow import Batch, Polled, read_chunk
from kubetune.metrics.lines import MALFORMED, BadValue, build_parser, json_parser


class MetricsFileFollower:
    def __init__(self, path: Path, source: MetricsSource, known: Collection[str]) -> None:
        assert source.file is not None
        self.path = path
        self.known = set(known)
        json_lines = source.file.format == "json"
        self.parse = json_parser(self.known) if json_lines else build_parser(source, self.known)
        self.offset = 0
        self.partial = b""
        self.failed = False

    def poll(self, final: bool = False) -> Polled:
        batch = Batch()
        if self.failed:
            return batch.done()
        try:
            size = self.path.stat().st_size
            if size < self.offset:
                self.offset, self.partial = 0, b""
            chunk = read_chunk(self.path, self.offset)
        except FileNotFoundError:
            return batch.done()
        except OSError as error:
            return self._fail(batch, f"cannot read metrics file {self.path}: {error.strerror}")
        self.offset += len(chunk)
        lines = (self.partial + chunk).split(b"\n")
        caught_up = self.offset >= size
        self.partial = b"" if final and caught_up else lines.pop()
        for raw in lines:
            parsed = self.parse(raw.decode("utf-8", "replace"))
            if isinstance(parsed, BadValue):
                if parsed.metric in self.known or parsed.metric == MALFORMED:
                    return self._fail(batch, f"metrics file {self.path}: {parsed}")
            elif parsed is not None:
                metrics = {k: v for k, v in parsed.metrics.items() if k in self.known}
                if metrics:
                    batch.add(parsed.step, metrics)
        if final and not caught_up:
            more = self.poll(final=True)
            return Polled(batch.done().reports + more.reports, more.error)
        return batch.done()

    def _fail(self, batch: Batch, why: str) -> Polled:
        self.failed = True
        return batch.done(why)

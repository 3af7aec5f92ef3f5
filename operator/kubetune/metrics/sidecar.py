"""`kubetune sidecar`: the native sidecar in each trial pod (one image with the operator).

It follows the file the trainer's output is teed into and parses each line with the Study's
format (or, when the Study reads a metrics file or TensorBoard event files, follows those in
the folder it shares with the trainer), and posts the reports to the operator's collector
with the trial's token. Each report carries a sequence number, so a retried post is never
recorded twice. When the trainer's wrapper writes its exit code (all output is in the file by
then), or on SIGTERM (the pod is ending, e.g. an early stop), it reads what is left, posts it
with `final`, and exits 0.
That last post is retried for up to FINAL_FLUSH_SECONDS: the collector may be down for a while
(the operator's pod restarting, a rollout), and a trial whose reports are dropped fails with
"never reported" although it trained to the end.
Standard library plus kubetune's own readers: nothing heavy in every trial pod.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubetune.api.sources import MetricsSource
from kubetune.metrics import wire
from kubetune.metrics.follow import Follower
from kubetune.metrics.lines import BadValue, LineParser, build_parser
from kubetune.metrics.sources import build_follower

FLUSH_SECONDS = 0.5
FINAL_FLUSH_SECONDS = wire.FINAL_FLUSH_SECONDS


@dataclass
class Sidecar:
    output: Path
    exit_code: Path
    collector: str
    token: str
    namespace: str
    trial: str
    parse: LineParser
    pending: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    seq: int = 0
    offset: int = 0
    partial: str = ""
    stop: threading.Event = field(default_factory=threading.Event)
    refused: bool = False
    final_seconds: float = FINAL_FLUSH_SECONDS
    pod: str | None = None
    #: False in every pod of a multi-pod trial but rank 0: it only waits for its trainer.
    reporting: bool = True

    #: Reads the metrics file or the event files, when one is the source (not the output).
    follower: Follower | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Sidecar:
        told = wire.SidecarEnv.parse(env)
        source = MetricsSource.model_validate(told.source())
        assert told.namespace is not None
        place = told.metrics_file or told.tensorboard_dir
        return cls(
            output=Path(told.output),
            exit_code=Path(told.exit_code),
            collector=told.collector_url,
            token=told.token,
            namespace=told.namespace,
            trial=told.trial,
            parse=build_parser(source, told.metrics),
            final_seconds=told.final_flush_seconds,
            pod=told.pod,
            reporting=told.reporting,
            follower=build_follower(source, told.metrics, Path(place)) if place else None,
        )

    def read(self, final: bool = False) -> None:
        """Parse every complete line added since the last read (and a last partial one); or,
        when a metrics file or event files are the source, what was added to them."""
        if self.follower is not None:
            polled = self.follower.poll(final)
            for report in polled.reports:
                self._queue(report.step, report.metrics)
            if polled.error is not None and self.error is None:
                self.error = polled.error
            return
        if not self.output.exists():
            return
        with self.output.open("r", encoding="utf-8", errors="replace") as stream:
            stream.seek(self.offset)
            chunk = stream.read()
            self.offset = stream.tell()
        text = self.partial + chunk
        lines = text.split("\n")
        self.partial = "" if final else lines.pop()
        for line in lines:
            self._take(line)

    def _take(self, line: str) -> None:
        parsed = self.parse(line)
        if isinstance(parsed, BadValue):
            if self.error is None:
                self.error = str(parsed)
        elif parsed is not None:
            self._queue(parsed.step, parsed.metrics)

    def _queue(self, step: int | None, metrics: Mapping[str, float]) -> None:
        self.seq += 1
        self.pending.append({"seq": self.seq, "step": step, "metrics": dict(metrics)})

    def flush(self, final: bool = False, attempts: int = 5) -> bool:
        if not self.pending and self.error is None and not final:
            return True
        request = urllib.request.Request(
            self.collector + wire.render_path(self.namespace, self.trial),
            data=wire.render_body(self.pending, self.error, final, self.pod),
            method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        for attempt in range(attempts):
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    response.read()
                self.pending, self.error = [], None
                return True
            except urllib.error.HTTPError as error:
                if error.code in wire.PERMANENT_REFUSALS:  # retrying cannot fix these
                    detail = error.read().decode(errors="replace")[:300]
                    print(
                        f"kubetune sidecar: collector refused reports: {error.code} {detail}",
                        file=sys.stderr,
                    )
                    self.pending = []
                    self.refused = True
                    return False
            except OSError:
                pass
            time.sleep(min(2.0, 0.2 * 2**attempt))
        return False

    def run(self) -> int:
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        if not self.reporting:  # another pod of this trial (its rank 0) reports
            while not self.stop.wait(FLUSH_SECONDS) and not self.exit_code.exists():
                pass
            return 0
        while not self.stop.wait(FLUSH_SECONDS):
            if self.exit_code.exists():
                break  # the trainer is done and its output complete
            self.read()
            self.flush()
        self.read(final=True)
        deadline = time.monotonic() + self.final_seconds
        while not self.flush(final=True):
            if self.refused or time.monotonic() > deadline:
                print(
                    f"kubetune sidecar: could not deliver the last reports to {self.collector} "
                    f"in {self.final_seconds:.0f} s",
                    file=sys.stderr,
                )
                break
        return 0


def main() -> int:
    try:
        return Sidecar.from_env(os.environ).run()
    except KeyError as missing:
        print(f"kubetune sidecar: environment variable {missing} is not set", file=sys.stderr)
        return 2

"""What a trial calls to report its metrics: `kubetune.report(step=..., **metrics)`.

This module runs inside users' training images, so it imports the standard library only and
must never grow a third-party dependency. It writes one line per report in the kubetune
format, which `kubetune.metrics.lines` parses (the local runner reads the process's output;
on a cluster the sidecar reads it).
"""

from __future__ import annotations

import json
import math
import sys
from typing import TextIO

#: Every report line starts with this marker, so a report is never confused with a log line.
PREFIX = "kubetune-report "


def format_report(step: int | None, metrics: dict[str, float]) -> str:
    """Render one report line; raises ValueError for a value a tuner could not compare."""
    if not metrics:
        raise ValueError("report() needs at least one metric, e.g. report(step=1, accuracy=0.9)")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
        raise ValueError(f"step must be a non-negative int, got {step!r}")
    clean: dict[str, float] = {}
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"metric {name!r} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"metric {name!r} must be finite, got {value!r}")
        clean[name] = float(value)
    body: dict[str, object] = {"metrics": clean}
    if step is not None:
        body["step"] = step
    return PREFIX + json.dumps(body, sort_keys=True)


def report(step: int | None = None, *, file: TextIO | None = None, **metrics: float) -> None:
    """Report metrics for the current trial, flushed at once so a stop never loses a line.

    `step` is the budget unit the stopping rules compare on (an epoch, an iteration);
    the objective metric named in the Study must appear in at least one report.
    """
    out = file if file is not None else sys.stdout
    out.write(format_report(step, metrics) + "\n")
    out.flush()

"""Parse a trial's output lines into reports: the kubetune format, `name=value`, or a user regex.

Pure: a line in, a `Parsed` out. A line that is not a report is `None`; a report whose value
is not a finite number is a `BadValue` with the reason, so the shell can fail that trial
(never itself). Lines in the kubetune format are always understood, whatever the format, since
the SDK writes them and they cannot be mistaken for anything else.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from kubetune.api.sources import MetricsSource
from kubetune.engine.history import Report
from kubetune.sdk import PREFIX


@dataclass(frozen=True)
class BadValue:
    metric: str
    raw: str
    reason: str

    def __str__(self) -> str:
        if self.metric == MALFORMED:
            shown = self.raw if len(self.raw) <= 120 else self.raw[:117] + "..."
            return f"unreadable report line ({self.reason}): {shown!r}"
        return f"metric {self.metric!r} reported {self.raw!r}: {self.reason}"


#: The metric name of a `BadValue` for a report line that could not be read at all.
MALFORMED = "?"


Parsed = Report | BadValue | None
LineParser = Callable[[str], Parsed]

_KEYVALUE = re.compile(r"([A-Za-z_][A-Za-z0-9_.\-/]*)\s*[=:]\s*([^\s,;]+)")


def parse_number(metric: str, raw: object) -> float | BadValue:
    if isinstance(raw, bool):
        return BadValue(metric, str(raw), "a boolean is not a metric value")
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return BadValue(metric, str(raw), "not a number")
    if math.isnan(value):
        return BadValue(metric, str(raw), "NaN is not a comparable value")
    if math.isinf(value):
        return BadValue(metric, str(raw), "an infinite value is not a comparable value")
    return value


def _step(raw: object) -> int | None:
    if isinstance(raw, bool):
        return None
    try:
        step = int(float(raw))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return step if step >= 0 else None


def parse_kubetune(line: str) -> Parsed:
    text = line.strip()
    if not text.startswith(PREFIX.strip()):
        return None
    try:
        body = json.loads(text[len(PREFIX.strip()) :])
    except json.JSONDecodeError as error:
        why = f"not JSON after {PREFIX.strip()!r}: {error.msg} at column {error.colno}"
        return BadValue(MALFORMED, text, why)
    except (ValueError, RecursionError):  # nesting too deep for the parser
        return BadValue(MALFORMED, text, f"not JSON after {PREFIX.strip()!r}")
    metrics = body.get("metrics") if isinstance(body, dict) else None
    if not isinstance(metrics, dict) or not metrics:
        return BadValue(MALFORMED, text, 'expected {"metrics": {"name": number, ...}, "step": N}')
    values: dict[str, float] = {}
    for name, raw in metrics.items():
        value = parse_number(name, raw)
        if isinstance(value, BadValue):
            return value
        values[name] = value
    return Report(step=_step(body.get("step")), metrics=values)


def _known_report(pairs: Sequence[tuple[str, object]], known: Collection[str]) -> Parsed:
    step: int | None = None
    values: dict[str, float] = {}
    for name, raw in pairs:
        if name in ("step", "epoch") and name not in known:
            step = _step(raw)
        elif name in known:
            value = parse_number(name, raw)
            if isinstance(value, BadValue):
                return value
            values[name] = value
    return Report(step=step, metrics=values) if values else None


def keyvalue_parser(known: Collection[str]) -> LineParser:
    """`accuracy=0.93 loss=0.2 step=3`: only the study's metrics count, other pairs are logs."""

    def parse(line: str) -> Parsed:
        return parse_kubetune(line) or _known_report(_KEYVALUE.findall(line), known)

    return parse


def regex_parser(pattern: str, known: Collection[str]) -> LineParser:
    """A user regex with named groups `name`, `value` and optionally `step`; every match counts."""
    compiled = re.compile(pattern)

    def parse(line: str) -> Parsed:
        found = parse_kubetune(line)
        if found is not None:
            return found
        pairs: list[tuple[str, str]] = []
        for match in compiled.finditer(line):
            groups = match.groupdict()
            if groups.get("step") is not None:
                pairs.append(("step", groups["step"]))
            pairs.append((groups["name"], groups["value"]))
        return _known_report(pairs, known) if pairs else None

    return parse


def build_parser(source: MetricsSource, known: Collection[str]) -> LineParser:
    if source.format == "keyvalue":
        return keyvalue_parser(known)
    if source.format == "regex":
        assert source.regex is not None
        return regex_parser(source.regex, known)
    return parse_kubetune


def json_parser(known: Collection[str]) -> LineParser:
    """A JSON object per line (a metrics file of format json, as Katib's File collector
    reads): `{"accuracy": 0.91, "step": 3}`. The study's metrics count, as numbers or numeric
    strings; `step` or `epoch` is the step; other keys (a timestamp) are ignored. A blank line
    is nothing; any other line that is not a JSON object is unreadable."""

    def parse(line: str) -> Parsed:
        text = line.strip()
        if not text:
            return None
        try:
            body = json.loads(text)
        except (ValueError, RecursionError) as error:
            return BadValue(MALFORMED, text, f"not a JSON object: {error}")
        if not isinstance(body, dict):
            return BadValue(MALFORMED, text, f"not a JSON object but a {type(body).__name__}")
        return _known_report([(str(k), v) for k, v in body.items()], known)

    return parse

"""What a conversion of a foreign manifest carries as it goes: the Study's spec being built,
the notes on what changed, the refusals; and readers of loosely typed input that refuse a
field instead of raising. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Reads `templatePath` of a ConfigMap (name, namespace) from the cluster, for
#: `trialTemplate.configMap`; None when convert runs without --cluster.
ConfigMapReader = Callable[[str, str | None, str], str]


class RefusedError(Exception):
    """The Experiment cannot become a Study; `problems` holds one line per Katib field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Conversion:
    """What a conversion gathers as it goes: the Study's spec, notes, refusals."""

    spec: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: Katib parameter name -> the Study's.
    names: dict[str, str] = field(default_factory=dict)
    #: The Experiment's namespace ("" when it names none), the Study's too.
    namespace: str = ""

    def note(self, where: str, what: str) -> None:
        self.notes.append(f"{where}: {what}")

    def refuse(self, where: str, why: str) -> None:
        self.problems.append(f"{where}: {why}")


@dataclass(frozen=True)
class Converted:
    study: dict[str, Any]
    notes: tuple[str, ...]


def mapping(value: Any, where: str, conversion: Conversion) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        conversion.refuse(where, f"expected a mapping, got {type(value).__name__}")
        return {}
    return value


def items(value: Any, where: str, conversion: Conversion) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        conversion.refuse(where, f"expected a list, got {type(value).__name__}")
        return []
    return value


def number(raw: Any, where: str, conversion: Conversion, whole: bool = False) -> float | None:
    """Katib writes numbers as strings ("0.01"); a number that is not one is refused."""
    try:
        value = float(raw) if not isinstance(raw, bool) else math.nan
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or (whole and not value.is_integer()):
        kind = "a whole number" if whole else "a number"
        conversion.refuse(where, f"{raw!r} is not {kind}")
        return None
    return value


def settings(raw: Any, where: str, conversion: Conversion) -> dict[str, str]:
    """Katib's `[{name, value}]` settings as a mapping."""
    found: dict[str, str] = {}
    for index, raw_entry in enumerate(items(raw, where, conversion)):
        entry = mapping(raw_entry, f"{where}[{index}]", conversion)
        if "name" in entry:
            found[str(entry["name"])] = str(entry.get("value", ""))
    return found

"""A search space written the Python way, for `kubetune.tune`: each call is one Study parameter.

    space = {
        "lr": kubetune.search.float(1e-4, 1e-1, log=True),
        "layers": kubetune.search.int(1, 4),
        "optimizer": kubetune.search.categorical(["adam", "sgd"]),
        "momentum": kubetune.search.float(0.0, 0.99, when={"optimizer": ["sgd"]}),
    }

The dict's keys are the parameters' names and its order their order (a `when` names a parameter
declared earlier, as in a manifest). Nothing is checked here: the Study's own model checks the
parameters they become, so a bad range gets the same message as in a manifest, naming
`spec.parameters[i]`. Standard library only: `import kubetune` stays cheap in trial images.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Value = builtins.int | str


@dataclass(frozen=True)
class Dimension:
    """One parameter before it has a name: what `float`, `int` and `categorical` return."""

    type: str
    low: builtins.float | None = None
    high: builtins.float | None = None
    log: bool = False
    step: builtins.float | None = None
    values: tuple[Value, ...] = ()
    when: Mapping[str, Sequence[Value]] | None = None

    def parameter(self, name: str) -> dict[str, Any]:
        """The Study parameter (a manifest's `spec.parameters[i]`) this dimension is."""
        out: dict[str, Any] = {"name": name, "type": self.type}
        if self.type == "categorical":
            out["values"] = list(self.values)
        else:
            out["min"], out["max"] = self.low, self.high
            if self.log:
                out["log"] = True
            if self.step is not None:
                out["step"] = self.step
        if self.when is not None:
            out["when"] = {parent: list(values) for parent, values in self.when.items()}
        return out


def float(
    low: builtins.float,
    high: builtins.float,
    *,
    log: bool = False,
    step: builtins.float | None = None,
    when: Mapping[str, Sequence[Value]] | None = None,
) -> Dimension:
    """A float in [low, high], on a log scale with `log=True`, on a grid with `step`."""
    return Dimension("float", low, high, log, step, (), when)


def int(
    low: builtins.int,
    high: builtins.int,
    *,
    log: bool = False,
    step: builtins.int | None = None,
    when: Mapping[str, Sequence[Value]] | None = None,
) -> Dimension:
    """A whole number in [low, high]."""
    return Dimension("int", low, high, log, step, (), when)


def categorical(
    values: Sequence[Value], *, when: Mapping[str, Sequence[Value]] | None = None
) -> Dimension:
    """One of `values` (strings or integers, as a Study's categorical parameter takes)."""
    return Dimension("categorical", values=tuple(values), when=when)


def parameters(space: Mapping[str, Dimension | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The Study's `spec.parameters`, in the order given. A value may also be a manifest's
    parameter already (a dict without its name), so a space can be pasted from YAML."""
    out: list[dict[str, Any]] = []
    for name, given in space.items():
        if isinstance(given, Dimension):
            out.append(given.parameter(name))
        elif isinstance(given, Mapping):
            out.append({"name": name, **given})
        else:
            raise TypeError(
                f"parameters[{name!r}]: {given!r} is not a search dimension; write "
                "kubetune.search.float(low, high), .int(low, high) or .categorical([...])"
            )
    return out

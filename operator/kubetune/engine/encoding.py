"""Params <-> the unit box: the only code that knows about log, int, step and categorical.

Every sampler works in [0, 1)^d and calls `decode`; the Bayesian sampler snaps numeric dims to
their cells and treats categoricals as unordered (its own `_inputs`, checked against this module).
A parameter fixed by a stopping rule (`budgetParameter`) is not searched: it is added on decode.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from kubetune.api.parameters import Parameter, ParamValue
from kubetune.api.settings import GridSettings, RungSettings
from kubetune.api.study import StudySpec

Params = dict[str, ParamValue]


@dataclass(frozen=True)
class Dimension:
    param: Parameter

    @property
    def choices(self) -> int | None:
        """How many values this dimension can take, or None for a continuous one."""
        p = self.param
        if p.type == "categorical":
            assert p.values is not None
            return len(p.values)
        if p.log and p.type == "float":
            return None
        assert p.min is not None and p.max is not None
        if p.type == "int":
            step = p.step or 1.0
        elif p.step is not None:
            step = p.step
        else:
            return None
        if p.log:  # int on a log scale: still every whole number, spaced by the log map
            return None
        return math.floor((p.max - p.min) / step + 1e-9) + 1

    def decode(self, u: float) -> ParamValue:
        p = self.param
        u = min(max(float(u), 0.0), 1.0 - 1e-12)
        if p.type == "categorical":
            assert p.values is not None
            return p.values[int(u * len(p.values))]
        assert p.min is not None and p.max is not None
        if p.log:
            upper = p.max + 1 if p.type == "int" else p.max
            x = math.exp(math.log(p.min) + u * (math.log(upper) - math.log(p.min)))
            if p.type == "int":  # the epsilon undoes exp(log(8)) == 7.999...
                return min(max(int(x + 1e-9), int(p.min)), int(p.max))
            return min(max(x, p.min), p.max)
        count = self.choices
        if count is None:
            return p.min + u * (p.max - p.min)
        step = p.step or 1.0
        value = p.min + int(u * count) * step
        return round(value) if p.type == "int" else round(value, 12)

    def encode(self, value: ParamValue) -> float:
        """The centre of the cell `value` decodes from, so encode(decode(u)) is stable."""
        p = self.param
        if p.type == "categorical":
            assert p.values is not None and not isinstance(value, float)
            return (p.values.index(value) + 0.5) / len(p.values)
        assert p.min is not None and p.max is not None and not isinstance(value, str)
        if p.log:
            if p.type == "int":
                lo, hi = math.log(p.min), math.log(p.max + 1)
                return (math.log(value + 0.5) - lo) / (hi - lo)
            return (math.log(value) - math.log(p.min)) / (math.log(p.max) - math.log(p.min))
        count = self.choices
        if count is None:
            return (value - p.min) / (p.max - p.min)
        index = round((value - p.min) / (p.step or 1.0))
        return (min(max(index, 0), count - 1) + 0.5) / count

    def grid(self, points: int | None) -> list[ParamValue]:
        p = self.param
        count = self.choices
        if count is not None:
            return [self.decode((i + 0.5) / count) for i in range(count)]
        if p.type == "int":  # int on a log scale: every whole number
            assert p.min is not None and p.max is not None
            return list(range(int(p.min), int(p.max) + 1))
        if points is None:
            raise ValueError(f"parameter {p.name}: grid needs a step or gridPoints")
        assert p.min is not None and p.max is not None
        if p.log:
            ratio = (p.max / p.min) ** (1 / (points - 1))
            return [min(p.min * ratio**i, p.max) for i in range(points)]
        return [p.min + (p.max - p.min) * i / (points - 1) for i in range(points)]


@dataclass(frozen=True)
class Space:
    dims: tuple[Dimension, ...]
    fixed: Mapping[str, ParamValue]

    @property
    def size(self) -> int:
        return len(self.dims)

    def decode(self, point: Sequence[float]) -> Params:
        params: Params = {d.param.name: d.decode(u) for d, u in zip(self.dims, point, strict=True)}
        params.update(self.fixed)
        return params

    def encode(self, params: Mapping[str, ParamValue]) -> list[float]:
        return [d.encode(params[d.param.name]) for d in self.dims]

    def key(self, params: Mapping[str, ParamValue]) -> tuple[ParamValue, ...]:
        """A hashable identity of a point, used to avoid proposing the same params twice."""
        return tuple(params[d.param.name] for d in self.dims)

    def grid(self, points: int | None) -> Iterator[Params]:
        axes = [d.grid(points) for d in self.dims]
        for combo in itertools.product(*axes):
            params: Params = {d.param.name: v for d, v in zip(self.dims, combo, strict=True)}
            params.update(self.fixed)
            yield params

    def grid_size(self, points: int | None) -> int:
        return math.prod(len(d.grid(points)) for d in self.dims)


def build_space(spec: StudySpec) -> Space:
    """The searched dimensions of a spec; a rung rule's budgetParameter is pinned to maxBudget."""
    fixed: Params = {}
    stopping = spec.early_stopping.typed_settings
    if isinstance(stopping, RungSettings) and stopping.budget_parameter:
        param = next(p for p in spec.parameters if p.name == stopping.budget_parameter)
        budget = stopping.max_budget
        fixed[param.name] = int(budget) if param.type == "int" else float(budget)
    dims = tuple(Dimension(p) for p in spec.parameters if p.name not in fixed)
    return Space(dims=dims, fixed=fixed)


def grid_points(spec: StudySpec) -> int | None:
    settings = spec.algorithm.typed_settings
    return settings.grid_points if isinstance(settings, GridSettings) else None

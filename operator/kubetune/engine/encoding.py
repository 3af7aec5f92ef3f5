"""Params <-> the unit box: the only code that knows about log, int, step, categorical and `when`.

Every sampler works in [0, 1)^d and calls `decode`; vectorised forms (`Space.snap`,
`Space.active`) serve the Bayesian sampler's thousands of candidates.
A parameter fixed by a stopping rule (`budgetParameter`) is not searched: it is added on decode.
A conditional parameter (`when`) keeps its dimension always; decode leaves it out of the params
when its parent does not take a listed value, and encode puts `INACTIVE` there.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from kubetune.api.parameters import Parameter, ParamValue, active_names, condition_holds
from kubetune.api.study import StudySpec

Params = dict[str, ParamValue]
#: A point's identity (`Space.key`): its value per dim, None where its trial lacks the parameter.
Key = tuple[ParamValue | None, ...]

#: Where an inactive parameter sits in the unit box: any fixed value does, so that trials that
#: lack it coincide along its dimension instead of scattering (which a model would read as noise).
INACTIVE = 0.5


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

    def snap(self, column: np.ndarray) -> np.ndarray:
        """Unit values moved to the centre of their value's cell (vectorised decode + encode);
        categoricals become their value's index."""
        p = self.param
        column = np.clip(column, 0.0, 1.0 - 1e-12)
        if p.type == "categorical":
            assert p.values is not None
            return np.asarray(np.floor(column * len(p.values)))
        count = self.choices
        if count is not None:
            return np.asarray((np.floor(column * count) + 0.5) / count)
        if p.type == "int":  # int on a log scale: no closed form worth keeping in sync
            return np.array([self.encode(self.decode(u)) for u in column])
        return column

    def takes(self, column: np.ndarray, values: Sequence[ParamValue]) -> np.ndarray:
        """Whether each unit value decodes to one of `values` (a categorical or int parent)."""
        p = self.param
        column = np.clip(column, 0.0, 1.0 - 1e-12)
        if p.type == "categorical":
            assert p.values is not None
            allowed = [i for i, v in enumerate(p.values) if v in values]
            return np.isin(np.floor(column * len(p.values)).astype(int), allowed)
        count = self.choices
        if count is not None:
            allowed = [i for i in range(count) if self.decode((i + 0.5) / count) in values]
            return np.isin(np.floor(column * count).astype(int), allowed)
        return np.array([self.decode(u) in values for u in column], dtype=bool)

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

    @cached_property
    def conditional(self) -> bool:
        """Asked on every acquisition call of `bayesian`: computed once."""
        return any(d.param.when for d in self.dims)

    def decode(self, point: Sequence[float]) -> Params:
        params: Params = {d.param.name: d.decode(u) for d, u in zip(self.dims, point, strict=True)}
        params.update(self.fixed)
        return self._active_only(params)

    def encode(self, params: Mapping[str, ParamValue]) -> list[float]:
        return [
            d.encode(params[d.param.name]) if d.param.name in params else INACTIVE
            for d in self.dims
        ]

    def key(self, params: Mapping[str, ParamValue]) -> Key:
        """A hashable identity of a point, used to avoid proposing the same params twice."""
        return tuple(params.get(d.param.name) for d in self.dims)

    def snap(self, units: np.ndarray) -> np.ndarray:
        """Rows of unit values as a model sees them: each dim snapped (`Dimension.snap`)."""
        columns = [d.snap(units[:, j]) for j, d in enumerate(self.dims)]
        return np.stack(columns, axis=1) if columns else units

    def active(self, units: np.ndarray) -> np.ndarray:
        """Which dims each row of unit values has (rows x dims), by `active_names`' rule."""
        mask = np.ones(units.shape, dtype=bool)
        index = {d.param.name: j for j, d in enumerate(self.dims)}
        for j, dim in enumerate(self.dims):
            for parent, values in (dim.param.when or {}).items():
                k = index[parent]  # a parent is never the pinned budget parameter
                mask[:, j] &= mask[:, k] & self.dims[k].takes(units[:, k], values)
        return mask

    def grid(self, points: int | None) -> Iterator[Params]:
        """Every distinct trial of the grid, in declared order (the last parameter varies
        fastest); a parameter its trial lacks is not enumerated, so each trial comes once."""
        axes = [d.grid(points) for d in self.dims]

        def walk(j: int, params: Params) -> Iterator[Params]:
            if j == len(self.dims):
                yield {**params, **self.fixed}
            elif condition_holds(self.dims[j].param, params):
                for value in axes[j]:
                    yield from walk(j + 1, {**params, self.dims[j].param.name: value})
            else:
                yield from walk(j + 1, params)

        if not self.conditional:  # the plain product, without a dict copy per level
            for combo in itertools.product(*axes):
                params = {d.param.name: v for d, v in zip(self.dims, combo, strict=True)}
                yield {**params, **self.fixed}
            return
        yield from walk(0, {})

    def grid_size(self, points: int | None) -> int:
        if self.conditional:
            return sum(1 for _ in self.grid(points))
        return math.prod(len(d.grid(points)) for d in self.dims)

    def _active_only(self, params: Params) -> Params:
        if not self.conditional:
            return params
        parameters = [d.param for d in self.dims]
        keep = set(active_names(parameters, params)) | set(self.fixed)
        return {name: value for name, value in params.items() if name in keep}


def build_space(spec: StudySpec) -> Space:
    """The searched dimensions of a spec; a rung rule's budgetParameter is pinned to maxBudget."""
    fixed: Params = {}
    pinned, budget = spec.budget_parameter, spec.max_budget
    if pinned is not None and budget is not None:
        param = next(p for p in spec.parameters if p.name == pinned)
        fixed[param.name] = int(budget) if param.type == "int" else float(budget)
    dims = tuple(Dimension(p) for p in spec.parameters if p.name not in fixed)
    return Space(dims=dims, fixed=fixed)


def grid_points(spec: StudySpec) -> int | None:
    return spec.algorithm.grid_points

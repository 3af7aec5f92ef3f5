"""What the Gaussian process sees: the unit box as model inputs, and back.

Numeric dims are snapped to the centre of their value's cell (`Space.snap`), categoricals
become their value's index (the kernel compares them by a Hamming distance), and a parameter a
row lacks (`when`) sits at one fixed input: `INACTIVE` for numbers, a category of its own
(-1) for categoricals, so the model sees an inactive dimension as constant, never as noise.
"""

from __future__ import annotations

import math

import numpy as np

from kubetune.engine.encoding import INACTIVE, Dimension, Space

SWEEP_LIMIT = 64  # discrete inputs with at most this many values are swept exhaustively


class ModelInputs:
    def __init__(self, space: Space) -> None:
        self.space = space
        self.categorical = np.array([d.param.type == "categorical" for d in space.dims])
        #: inputs the gradient climbs alone at the end; the others take discrete values
        self.continuous = np.array(
            [d.choices is None and d.param.type == "float" for d in space.dims]
        )
        #: model inputs of a parameter its trial lacks: a category no value has, or INACTIVE
        self.inactive = np.where(self.categorical, -1.0, INACTIVE)

    def __call__(self, units: np.ndarray) -> np.ndarray:
        """Model inputs of rows of unit values: snapped, and masked where a row lacks a dim."""
        return self.masked(self.space.snap(units), units)

    def masked(self, inputs: np.ndarray, units: np.ndarray) -> np.ndarray:
        if not self.space.conditional:
            return inputs
        return np.asarray(np.where(self.space.active(units), inputs, self.inactive))

    def to_units(self, inputs: np.ndarray) -> np.ndarray:
        units = inputs.copy()
        for j, dim in enumerate(self.space.dims):
            if self.categorical[j]:
                units[:, j] = (inputs[:, j] + 0.5) / _choices(dim)
        return units

    def discrete_options(self, dim: Dimension, j: int, current: float) -> np.ndarray | None:
        if self.categorical[j]:
            return np.arange(_choices(dim), dtype=float)
        count = dim.choices
        if count is not None:
            if count <= SWEEP_LIMIT:
                return (np.arange(count) + 0.5) / count
            cell = math.floor(current * count)
            cells = np.clip(np.arange(cell - 2, cell + 3), 0, count - 1)
            return (np.unique(cells) + 0.5) / count
        if dim.param.type == "int":  # an int on a log scale: its whole-number neighbours
            value = dim.decode(current)
            assert isinstance(value, int) and dim.param.min is not None
            assert dim.param.max is not None
            near = range(max(value - 2, int(dim.param.min)), min(value + 2, int(dim.param.max)) + 1)
            return np.array([dim.encode(v) for v in near])
        return None


def _choices(dim: Dimension) -> int:
    assert dim.param.values is not None
    return len(dim.param.values)

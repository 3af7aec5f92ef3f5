from __future__ import annotations

import math

import numpy as np
import pytest

from kubetune.api import Parameter
from kubetune.engine.encoding import Dimension, build_space

from factories import study


def dim(**fields: object) -> Dimension:
    return Dimension(Parameter.model_validate({"name": "p", **fields}))


@pytest.mark.parametrize("u", [0.0, 0.1, 0.5, 0.9999, 1.0])
def test_a_log_float_stays_in_bounds_and_round_trips(u: float) -> None:
    d = dim(type="float", min=1e-4, max=1.0, log=True)
    value = d.decode(u)
    assert isinstance(value, float)
    assert 1e-4 <= value <= 1.0
    assert d.encode(value) == pytest.approx(min(u, 1 - 1e-12), abs=1e-9)


def test_log_scale_spends_equal_width_on_each_decade() -> None:
    d = dim(type="float", min=1e-4, max=1.0, log=True)
    assert d.decode(0.25) == pytest.approx(1e-3)
    assert d.decode(0.5) == pytest.approx(1e-2)


def test_an_int_gives_every_value_an_equal_share() -> None:
    d = dim(type="int", min=1, max=4)
    values = [d.decode(u) for u in np.linspace(0, 1, 4001)]
    counts = {v: values.count(v) for v in set(values)}
    assert set(counts) == {1, 2, 3, 4}
    assert all(isinstance(v, int) for v in values)
    assert max(counts.values()) - min(counts.values()) <= 2


def test_a_stepped_float_lands_on_the_step_grid() -> None:
    d = dim(type="float", min=0.0, max=1.0, step=0.25)
    assert d.choices == 5
    assert sorted({d.decode(u) for u in np.linspace(0, 1, 101)}) == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_a_stepped_int_skips_between_steps() -> None:
    d = dim(type="int", min=16, max=64, step=16)
    assert sorted({d.decode(u) for u in np.linspace(0, 1, 101)}) == [16, 32, 48, 64]


def test_a_log_int_reaches_both_ends() -> None:
    d = dim(type="int", min=8, max=256, log=True)
    assert d.decode(0.0) == 8
    assert d.decode(1.0) == 256
    assert all(8 <= d.decode(u) <= 256 for u in np.linspace(0, 1, 50))


def test_categoricals_decode_to_their_values_and_encode_to_cell_centres() -> None:
    d = dim(type="categorical", values=["adam", "sgd", 3])
    assert [d.decode(u) for u in (0.0, 0.5, 0.99)] == ["adam", "sgd", 3]
    assert d.encode("sgd") == pytest.approx(0.5)


@pytest.mark.parametrize("u", np.linspace(0, 1, 17))
def test_encoding_a_decoded_point_is_stable(u: float) -> None:
    for d in (dim(type="int", min=0, max=9), dim(type="categorical", values=list("abc"))):
        value = d.decode(u)
        assert d.decode(d.encode(value)) == value


def test_grid_of_a_log_float_is_geometric() -> None:
    grid = dim(type="float", min=1e-3, max=1.0, log=True).grid(4)
    assert grid == pytest.approx([1e-3, 1e-2, 1e-1, 1.0])


def test_the_budget_parameter_is_pinned_not_searched() -> None:
    spec = study(
        earlyStopping={"name": "asha", "settings": {"maxBudget": 4, "budgetParameter": "layers"}}
    ).spec
    space = build_space(spec)
    assert [d.param.name for d in space.dims] == ["lr", "optimizer"]
    assert space.decode([0.5, 0.5])["layers"] == 4


def test_grid_size_is_the_product_of_axes() -> None:
    space = build_space(study().spec)
    assert space.grid_size(3) == 3 * 4 * 2
    points = list(space.grid(3))
    assert len({tuple(p.values()) for p in points}) == 24
    assert math.isclose(points[0]["lr"], 1e-4)

"""The dashboard's pure views: robust ranges, curves with every stop, importance, the grid."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import numpy as np

from kubetune.dashboard import views
from kubetune.dashboard.export import export_csv
from kubetune.dashboard.importance import importance
from kubetune.dashboard.report import responses
from kubetune.dashboard.sources import Snapshot

PARAMS = [
    {"name": "lr", "type": "float", "min": 1e-4, "max": 1.0, "log": True},
    {"name": "width", "type": "int", "min": 1, "max": 100},
    {"name": "kind", "type": "categorical", "values": ["a", "b"]},
]


def study(goal: str = "minimize") -> dict[str, Any]:
    return {
        "metadata": {"name": "s", "namespace": "team"},
        "spec": {
            "objective": {"metric": "loss", "goal": goal},
            "parameters": PARAMS,
            "budget": {"maxTrials": 100},
        },
        "status": {"phase": "Running", "trials": {"total": 0}},
    }


def trial(
    index: int,
    objective: float | None,
    state: str = "Succeeded",
    params: dict[str, Any] | None = None,
    reports: list[tuple[int, float]] | None = None,
    stop: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "metadata": {"name": f"s-{index}"},
        "spec": {"index": index, "params": params or {"lr": 0.01, "width": 10, "kind": "a"}},
        "status": {
            "phase": state,
            "objective": objective,
            "reports": [{"step": s, "metrics": {"loss": v}} for s, v in reports or []],
            "stop": stop,
        },
    }


def test_a_few_diverged_trials_do_not_flatten_the_range_and_are_drawn_on_its_edge() -> None:
    trials = [trial(i, 1.0 + i / 100) for i in range(40)] + [trial(40, 1e9), trial(41, 5e8)]
    plot = views.objective_plot(trials, "loss", maximize=False)
    low, high = plot["yrange"]
    assert low < 1.0 and high < 3.0  # the good region fills the plot
    assert plot["clipped"] == 2 and plot["points"] == 42
    shown = plot["states"]["Succeeded"]
    assert max(shown["y"]) == high and 1e9 in shown["value"]  # on the edge, true value kept
    assert plot["best"] == {"x": 0, "y": 1.0, "trial": "s-0"}
    assert plot["bestSoFar"]["y"] == [1.0] * 42


def test_the_best_value_is_always_inside_the_range_even_when_it_is_the_outlier() -> None:
    trials = [trial(i, 10.0 + (i % 5) / 10) for i in range(30)] + [trial(30, -500.0)]
    low, _ = views.robust_range([10.0 + (i % 5) / 10 for i in range(30)] + [-500.0], [-500.0])
    assert low < -500.0
    assert views.objective_plot(trials, "loss", False)["best"]["y"] == -500.0


def test_curves_keep_a_trial_stopped_at_its_first_report_and_mark_each_stop() -> None:
    stop = {"step": 1, "value": 3.0, "threshold": 2.0, "rule": "asha", "reason": "not top 1/3"}
    trials = [
        trial(0, 1.0, reports=[(1, 2.0), (2, 1.5), (3, 1.0)]),
        trial(1, None, "EarlyStopped", reports=[(1, 3.0)], stop=stop),
    ]
    plot = views.curves_plot(trials, "loss", maximize=False)
    assert plot["curves"] == 2 and plot["shown"] == 2
    assert [x for x in plot["states"]["EarlyStopped"]["x"] if x is not None] == [1]
    assert plot["stops"]["x"] == [1] and plot["stops"]["threshold"] == [2.0]
    assert plot["stops"]["rule"] == ["asha"]


def test_thousands_of_long_curves_are_thinned_and_the_drawn_ones_keep_their_stops() -> None:
    trials = []
    for i in range(1000):
        stop = None
        state = "Succeeded"
        if i % 2:
            stop = {"step": 77, "value": 1.0, "threshold": 0.5, "rule": "median", "reason": "r"}
            state = "EarlyStopped"
        trials.append(
            trial(i, float(i), state, reports=[(s, s + i) for s in range(500)], stop=stop)
        )
    plot = views.curves_plot(trials, "loss", maximize=False)
    assert plot["shown"] == views.MAX_CURVES and plot["curves"] == 1000
    drawn = [x for s in plot["states"].values() for x in s["x"] if x is not None]
    assert len(drawn) <= views.MAX_CURVES * (views.MAX_POINTS + 2)
    assert 77 in plot["states"]["EarlyStopped"]["x"]
    assert plot["stopped"] == 500 and len(plot["stops"]["x"]) == views.MAX_STOPS
    drawn_stopped = {n for n in plot["states"]["EarlyStopped"]["trial"] if n}
    assert drawn_stopped <= set(plot["stops"]["trial"])  # a drawn curve's stop is marked
    kept = {n for s in plot["states"].values() for n in s["trial"] if n}
    assert {"s-0", "s-2", "s-4"} <= kept  # the best (lowest loss) are always drawn


def test_importance_finds_the_parameter_that_matters_and_ignores_noise() -> None:
    rng = np.random.default_rng(0)
    trials = []
    for i in range(200):
        lr, width = 10 ** rng.uniform(-4, 0), int(rng.integers(1, 101))
        kind = "a" if rng.random() < 0.5 else "b"
        loss = (math.log10(lr) + 2) ** 2 + rng.normal(0, 0.1)
        trials.append(trial(i, loss, params={"lr": lr, "width": width, "kind": kind}))
    scores = importance(study(), trials)
    assert scores["lr"] > 0.5
    assert scores["width"] < 0.1 and scores["kind"] < 0.1
    assert abs(sum(scores.values()) - 1.0) < 1e-3
    assert importance(study(), trials[:5]) == {}  # too few to say


def unit_cube_study(names: list[str]) -> dict[str, Any]:
    document = study()
    document["spec"]["parameters"] = [
        {"name": n, "type": "float", "min": 0.0, "max": 1.0} for n in names
    ]
    return document


def test_importances_are_shares_that_match_a_function_whose_importances_are_known() -> None:
    """f = (a - 1/2)^2 + (b - 1/2)^2: a and b matter equally by symmetry, c not at all; with
    f's a-term weighted 4 times, a's share must be clearly larger than b's."""
    rng = np.random.default_rng(7)
    points = rng.random((1000, 3))
    names = ["a", "b", "c"]

    def scored(weight_a: float) -> list[dict[str, Any]]:
        return [
            trial(
                i,
                weight_a * (a - 0.5) ** 2 + (b - 0.5) ** 2,
                params=dict(zip(names, (a, b, c), strict=True)),
            )
            for i, (a, b, c) in enumerate(points)
        ]

    even = importance(unit_cube_study(names), scored(1.0))
    assert abs(sum(even.values()) - 1.0) < 1e-3
    assert abs(even["a"] - even["b"]) < 0.1 and even["a"] > 0.4 and even["b"] > 0.4
    assert even["c"] < 0.05
    leaning = importance(unit_cube_study(names), scored(4.0))
    assert abs(sum(leaning.values()) - 1.0) < 1e-3
    assert leaning["a"] > leaning["b"] + 0.2 > leaning["c"] + 0.2


def test_the_contour_is_a_grid_of_means_on_the_two_most_important_parameters() -> None:
    rng = np.random.default_rng(1)
    trials = [
        trial(
            i,
            float(i),
            params={
                "lr": 10 ** rng.uniform(-4, 0),
                "width": int(rng.integers(1, 101)),
                "kind": "a",
            },
        )
        for i in range(300)
    ]
    grid = views.contour_plot(study(), trials, ["lr", "width"])
    assert grid is not None
    assert grid["x"]["name"] == "lr" and grid["x"]["log"] is True
    assert len(grid["z"]) == views.GRID and len(grid["z"][0]) == views.GRID
    assert 1e-4 < grid["x"]["centers"][0] < grid["x"]["centers"][-1] < 1.0
    cells = [v for row in grid["z"] for v in row if v is not None]
    assert len(cells) == grid["filled"] > 100
    assert min(cells) >= 0 and max(cells) <= 299
    categorical = views.contour_plot(study(), trials, ["kind", "lr"])
    assert categorical is not None and categorical["x"]["centers"] == ["a", "b"]


def test_the_study_view_and_the_csv_export_agree_on_the_trials() -> None:
    trials = [
        trial(i, float(i), params={"lr": 0.1, "width": i + 1, "kind": "b"}) for i in range(10)
    ]
    trials.append(trial(10, None, "Failed"))
    view = views.study_view(study(), trials, now=0.0)
    assert view["objective"]["points"] == 10  # the failed one reported nothing
    assert view["parallel"]["lines"] == 10
    assert [d["label"] for d in view["parallel"]["dimensions"]] == ["lr", "width", "kind", "loss"]
    assert view["states"] == {"Succeeded": 10, "Failed": 1}
    assert [s["name"] for s in view["slices"]] == ["lr", "width", "kind"]
    rows = list(csv.DictReader(io.StringIO(export_csv(study(), trials))))
    assert len(rows) == 11 and rows[3]["param.width"] == "4" and rows[10]["state"] == "Failed"
    assert rows[10]["objective"] == ""


def test_a_conditional_parameter_is_drawn_where_trials_have_it_and_judged_on_them() -> None:
    document = study()
    parameters = [*PARAMS, {"name": "momentum", "type": "float", "min": 0.0, "max": 1.0,
                            "when": {"kind": ["b"]}}]  # fmt: skip
    document["spec"]["parameters"] = parameters
    rng = np.random.default_rng(0)
    trials = []
    for i in range(60):
        kind = "b" if i % 2 else "a"
        params: dict[str, Any] = {"lr": 0.01, "width": int(rng.integers(1, 100)), "kind": kind}
        loss = 1.0
        if kind == "b":
            params["momentum"] = float(rng.random())
            loss = 2.0 if params["momentum"] < 0.5 else 0.5
        trials.append(trial(i, loss + 0.01 * rng.random(), params=params))
    view = views.study_view(document, trials, now=0.0)
    [slice_] = [s for s in view["slices"] if s["name"] == "momentum"]
    assert len(slice_["x"]) == len(slice_["y"]) == 30  # only the trials of kind b
    [axis] = [d for d in view["parallel"]["dimensions"] if d["label"] == "momentum"]
    low = axis["range"][0]
    assert axis["ticktext"][0] == "none" and axis["tickvals"][0] == low < 0.0
    assert sum(v == low for v in axis["values"]) == 30 and None not in axis["values"]
    # Judged over the trials that have it, momentum decides which of them are best; kind
    # matters as much (every best trial is of kind b); width not at all.
    scores = importance(document, trials)
    assert scores["momentum"] > 0.2 and scores["kind"] > 0.2
    assert scores["width"] < 0.1 and "lr" not in scores  # lr took one value only
    assert view["contour"] is None or all(
        None not in view["contour"]["points"][k] for k in ("x", "y")
    )


def test_a_report_keeps_every_pair_of_contours_both_ways_round() -> None:
    rng = np.random.default_rng(3)
    trials = [
        trial(
            i,
            float(rng.random()),
            params={
                "lr": 10 ** rng.uniform(-4, 0),
                "width": int(rng.integers(1, 101)),
                "kind": "a",
            },
        )
        for i in range(40)
    ]
    kept = responses(Snapshot("team:s", study(), trials, "1"), now=0.0)
    for x, y in (("lr", "width"), ("lr", "kind"), ("width", "kind")):
        there = kept[f"api/studies/team%3As/contour/{x}/{y}"]
        back = kept[f"api/studies/team%3As/contour/{y}/{x}"]
        assert back == views.pair_contour(study(), trials, (y, x))
        assert there["x"]["name"] == x and back["x"]["name"] == y

"""The dashboard's Pareto view: every succeeded trial by the first two objectives, feasible
apart from infeasible, and the front from the status or, for a local study, computed."""

from __future__ import annotations

from typing import Any

from kubetune.dashboard.pareto import pareto_plot
from kubetune.dashboard.views import objective_plot

SPEC: dict[str, Any] = {
    "objectives": [{"metric": "score", "goal": "maximize"}, {"metric": "size", "goal": "minimize"}],
    "constraints": [{"metric": "latency", "max": 20}],
}


def trial(index: int, phase: str = "Succeeded", **values: float) -> dict[str, Any]:
    return {
        "metadata": {"name": f"s-{index}"},
        "spec": {"index": index, "params": {}},
        "status": {
            "phase": phase,
            "objective": values.get("score"),
            "reports": [{"step": 1, "metrics": values}],
        },
    }


TRIALS = [
    trial(0, score=0.9, size=3.0, latency=10),
    trial(1, score=0.8, size=1.0, latency=10),
    trial(2, score=0.7, size=2.0, latency=10),  # dominated by 1
    trial(3, score=0.99, size=0.5, latency=30),  # would dominate all; infeasible
    trial(4, phase="Failed"),
]


def test_the_front_is_computed_from_feasible_trials_when_the_status_has_none() -> None:
    view = pareto_plot({"spec": SPEC}, TRIALS)
    assert view is not None
    assert view["points"]["feasible"]["trial"] == ["s-0", "s-1", "s-2"]
    assert view["points"]["infeasible"]["trial"] == ["s-3"]
    assert view["front"] == {"x": [0.9, 0.8], "y": [3.0, 1.0], "trial": ["s-0", "s-1"]}
    assert (view["x"]["metric"], view["y"]["goal"]) == ("score", "minimize")


def test_the_front_in_the_status_is_the_one_drawn() -> None:
    status = {
        "paretoFront": [{"name": "s-1", "params": {}, "objectives": {"score": 0.8, "size": 1}}]
    }
    view = pareto_plot({"spec": SPEC, "status": status}, TRIALS)
    assert view is not None and view["front"]["trial"] == ["s-1"]


def test_one_objective_has_no_pareto_view() -> None:
    assert (
        pareto_plot({"spec": {"objective": {"metric": "score", "goal": "maximize"}}}, TRIALS)
        is None
    )


def test_the_objective_plot_never_stars_an_infeasible_trial() -> None:
    assert objective_plot(TRIALS, "score", True)["best"]["trial"] == "s-3"
    assert objective_plot(TRIALS, "score", True, SPEC)["best"]["trial"] == "s-0"

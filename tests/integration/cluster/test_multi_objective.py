"""Several objectives, constraints and warm starts through the operator on the real API
server (kwok nodes; the test plays each trial's side as the sidecar would)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from kubetune.engine.pareto import nondominated_ranks

from .conftest import Cluster, wait_until
from .operator_harness import Operator, Player, report_and_finish
from .test_operator import events, study, trials_of

pytestmark = pytest.mark.cluster

LATENCY_MAX = 8.0


def metrics(params: dict[str, Any], step: int) -> dict[str, float]:
    """score peaks at x = 0.3 and grows with the step; size is 10 x (smaller is better, so
    the front is x in [0, 0.3]); latency 20 y breaks its max of 8 past y = 0.4."""
    x, y = float(params["x"]), float(params["y"])
    return {"score": (1 - (x - 0.3) ** 2) * step / 9, "size": 10 * x, "latency": 20 * y}


def test_a_two_objective_constrained_study_under_asha_keeps_the_true_front_in_its_status(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    document = study(
        "pair",
        objective=None,
        objectives=[
            {"metric": "score", "goal": "maximize"},
            {"metric": "size", "goal": "minimize"},
        ],
        constraints=[{"metric": "latency", "max": LATENCY_MAX}],
        parameters=[
            {"name": "x", "type": "float", "min": 0.0, "max": 1.0},
            {"name": "y", "type": "float", "min": 0.0, "max": 1.0},
        ],
        earlyStopping={
            "name": "asha",
            "settings": {"minBudget": 1, "maxBudget": 9, "reductionFactor": 3},
        },
        budget={"maxTrials": 12, "parallelism": 3},
    )
    cluster.apply(document, namespace=namespace)

    def curve(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        for step in range(1, 10):
            body = {"reports": [{"seq": step, "step": step, "metrics": metrics(params, step)}]}
            if player.post(pod, body) != 200:
                break
            if step not in (1, 3, 9):
                continue  # asha judges only at its rungs
            phase = cluster.get("trial", trial, namespace=namespace).get("status", {}).get("phase")
            if phase == "EarlyStopped":
                player.done.add(pod["metadata"]["name"])
                return
        player.finish(pod)

    Player(cluster, namespace, operator, "pair").play(curve, timeout=240)
    status = cluster.get("study", "pair", namespace=namespace)["status"]
    trials = trials_of(cluster, namespace, "pair")
    assert status["phase"] == "Succeeded" and len(trials) == 12
    succeeded = [t for t in trials if t["status"]["phase"] == "Succeeded"]
    feasible = [t for t in succeeded if not t["status"].get("violations")]
    for trial in succeeded:
        broke = 20 * trial["spec"]["params"]["y"] > LATENCY_MAX
        assert bool(trial["status"].get("violations")) == broke, trial["status"]
        if broke:
            assert trial["status"]["reason"].startswith("infeasible: latency")
    # the front in the status is exactly the non-dominated feasible succeeded trials
    losses = [[-t["status"]["values"]["score"], t["status"]["values"]["size"]] for t in feasible]
    ranks = nondominated_ranks(np.array(losses)) if losses else []
    expected = {t["metadata"]["name"] for t, r in zip(feasible, ranks, strict=True) if r == 0}
    front = {m["name"]: m for m in status["paretoFront"]}
    assert set(front) == expected and status["paretoFrontSize"] == len(expected)
    for trial in feasible:
        name = trial["metadata"]["name"]
        if name in front:
            assert front[name]["objectives"] == {
                "score": trial["status"]["values"]["score"],
                "size": trial["status"]["values"]["size"],
            }
    stopped = [t for t in trials if t["status"]["phase"] == "EarlyStopped"]
    assert stopped, "asha must have stopped a dominated or infeasible trial at a rung"
    for trial in stopped:
        reason = trial["status"]["stop"]["reason"]
        assert "Pareto rank" in reason or "breaks a constraint" in reason, reason
    assert "TrialStoppedEarly" in {e["reason"] for e in events(cluster, namespace)}
    listed = cluster.kubectl("get", "study", "pair", "-o", "wide", namespace=namespace).stdout
    header, row = listed.splitlines()[:2]
    assert row.split()[header.split().index("FRONT")] == str(len(expected))
    # BEST is the first objective's best feasible value, and METRIC names it
    assert row.split()[header.split().index("METRIC")] == "score"
    assert status["bestTrial"]["metric"] == "score"


def test_a_study_waits_for_the_study_it_learns_from_then_runs_its_given_trials_first(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(
        study(
            "later",
            algorithm={"name": "bayesian", "seed": 2},
            budget={"maxTrials": 2, "parallelism": 1},
            warmStart={"studies": ["earlier"], "trials": [{"params": {"x": 0.25}}]},
        ),
        namespace=namespace,
    )

    def waiting() -> str | None:
        status = cluster.get("study", "later", namespace=namespace).get("status") or {}
        for condition in status.get("conditions") or []:
            if condition.get("reason") == "WarmStartWaiting":
                return str(condition["message"])
        return None

    said = wait_until(waiting, 30, "the later study to say it waits for the earlier one")
    assert said.startswith("spec.warmStart.studies[0]: no Study 'earlier'")
    assert not trials_of(cluster, namespace, "later")
    cluster.apply(study("earlier", budget={"maxTrials": 4, "parallelism": 2}), namespace=namespace)
    Player(cluster, namespace, operator, "earlier").play(report_and_finish)
    Player(cluster, namespace, operator, "later").play(report_and_finish, timeout=120)
    status = cluster.get("study", "later", namespace=namespace)["status"]
    assert status["phase"] == "Succeeded" and status["progress"] == "3/3"
    assert status["warmStart"] == [{"study": "earlier", "used": 4, "skipped": 0}]
    trials = {t["metadata"]["name"]: t for t in trials_of(cluster, namespace, "later")}
    assert sorted(trials) == ["later-0", "later-1", "later-2"]
    assert trials["later-0"]["spec"]["params"] == {"x": 0.25}

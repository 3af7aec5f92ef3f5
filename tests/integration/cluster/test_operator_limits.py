"""The Job template's per-trial limits on a cluster, reported as `kubetune run` reports them:
backoffLimit reruns a failed trial as a new attempt (its reports replacing the failed one's),
activeDeadlineSeconds fails a trial that runs too long."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Cluster
from .operator_harness import Operator, Player
from .test_operator import study, trials_of

pytestmark = pytest.mark.cluster


def limited(name: str, trials: int, **job: Any) -> dict[str, Any]:
    document = study(name, budget={"maxTrials": trials, "parallelism": trials})
    document["spec"]["trialTemplate"]["spec"].update(job)
    return document


def test_backoff_limit_reruns_a_failed_trial_and_its_new_reports_replace_the_old(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(limited("retry", 2, backoffLimit=1), namespace=namespace)
    first_pods: dict[str, str] = {}

    def behave(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        trial, name = pod["metadata"]["labels"]["kubetune.io/trial"], pod["metadata"]["name"]
        if first_pods.setdefault(trial, name) == name:  # the first attempt: a report, then 1
            report = {"seq": 1, "step": 1, "metrics": {"score": 0.1}}
            assert player.post(pod, {"pod": name, "reports": [report]}) == 200
            player.finish(pod, code=1)
            return
        # The Job's second pod: its sidecar numbers reports from 1 again.
        report = {"seq": 1, "step": 1, "metrics": {"score": 0.9}}
        assert player.post(pod, {"pod": name, "reports": [report], "final": True}) == 200
        player.finish(pod, code=0)

    Player(cluster, namespace, operator, "retry").play(behave)
    status = cluster.get("study", "retry", namespace=namespace)["status"]
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 2, status
    for trial in trials_of(cluster, namespace, "retry"):
        got = trial["status"]
        assert got["objective"] == 0.9 and got["reports"] == [
            {"step": 1, "metrics": {"score": 0.9}}
        ]
        assert got["earlierPods"] == [first_pods[trial["metadata"]["name"]]]


def test_backoff_limit_spent_fails_the_trial_naming_the_exit_code_and_the_attempts(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(limited("spent", 1, backoffLimit=1), namespace=namespace)

    def behave(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        player.finish(pod, code=3)

    Player(cluster, namespace, operator, "spent").play(behave)
    [trial] = trials_of(cluster, namespace, "spent")
    reason = trial["status"]["reason"]
    assert trial["status"]["phase"] == "Failed"
    assert reason.startswith("trainer exited with code 3"), reason
    assert "(attempt 2 of 2; Job failed: BackoffLimitExceeded" in reason, reason


def test_active_deadline_seconds_fails_a_trial_as_kubetune_run_says_it(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(limited("late", 1, activeDeadlineSeconds=2), namespace=namespace)

    def behave(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        player.done.add(pod["metadata"]["name"])  # it runs on, never ending by itself

    Player(cluster, namespace, operator, "late").play(behave)
    [trial] = trials_of(cluster, namespace, "late")
    assert trial["status"]["phase"] == "Failed"
    # Word for word what `kubetune run` writes (tests/integration/test_local_stops.py).
    assert trial["status"]["reason"] == (
        "Job failed: DeadlineExceeded: Job was active longer than specified deadline "
        "(activeDeadlineSeconds: 2)"
    )

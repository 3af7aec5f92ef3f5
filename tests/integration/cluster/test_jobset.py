"""Trials as JobSets, run by a real JobSet controller (built and started by `make cluster-up`)
on kwok GPU nodes: the test plays each pod, and only the reporting pod (rank 0) reports."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

import pytest

from kubetune.metrics.wire import rank_zero

from .conftest import Cluster, wait_until
from .operator_harness import Operator, Player, score
from .test_operator import events, study, trials_of
from factories import jobset_template

pytestmark = pytest.mark.cluster


def play_jobset_pod(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
    """Rank 0 reports, as its sidecar would, then every pod ends."""
    if rank_zero(pod["metadata"]["labels"]):
        body = {"reports": [{"seq": 1, "step": 1, "metrics": {"score": score(params)}}]}
        assert player.post(pod, body) == 200
    player.finish(pod)


def test_a_jobset_study_runs_every_trial_across_its_pods(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(
        study(
            "sets",
            trialTemplate=jobset_template(pods=2, jobs=2),
            resources={"gpus": 1},
            budget={"maxTrials": 4, "parallelism": 2},
        ),
        namespace=namespace,
    )
    pods_seen: dict[str, set[str]] = {}
    early: list[str] = []

    def play(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        pods_seen.setdefault(trial, set()).add(pod["metadata"]["name"])
        if rank_zero(pod["metadata"]["labels"]):
            body = {"reports": [{"seq": 1, "step": 1, "metrics": {"score": score(params)}}]}
            assert player.post(pod, body) == 200
            player.finish(pod)
            return
        # The other pods end only once rank 0 has ended: its end must not end the trial.
        phase = cluster.get("trial", trial, namespace=namespace).get("status", {}).get("phase")
        if phase != "Running":
            early.append(f"{trial} was {phase} while a pod of its JobSet still ran")
        player.finish(pod)

    Player(cluster, namespace, operator, "sets").play(play, timeout=240)
    status = cluster.get("study", "sets", namespace=namespace)["status"]
    trials = trials_of(cluster, namespace, "sets")
    reasons = [t["status"].get("reason") for t in trials] or status.get("conditions")
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 4, reasons
    assert sorted(t["metadata"]["name"] for t in trials) == [f"sets-{i}" for i in range(4)]
    for trial in trials:
        assert trial["status"]["objective"] == pytest.approx(score(trial["spec"]["params"]))
    assert not early, early
    assert {len(pods) for pods in pods_seen.values()} == {4}  # 2 Jobs x 2 pods per trial
    jobset = cluster.get("jobset", "sets-0", namespace=namespace)
    assert jobset["metadata"]["ownerReferences"][0]["kind"] == "Trial"
    assert [r["name"] for r in jobset["spec"]["replicatedJobs"]] == ["leader", "workers"]


def test_asha_stops_a_jobset_trial_and_every_pod_of_it_goes(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    """Rank 0 reports a learning curve; the other pods run on. A trial asha stops at a rung
    has its JobSet deleted, and with it every pod of every replicated Job."""
    cluster.apply(
        study(
            "setstop",
            trialTemplate=jobset_template(pods=2, jobs=2),
            earlyStopping={
                "name": "asha",
                "settings": {"minBudget": 1, "maxBudget": 9, "reductionFactor": 3},
            },
            budget={"maxTrials": 6, "parallelism": 2},
        ),
        namespace=namespace,
    )

    def curve(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        if not rank_zero(pod["metadata"]["labels"]):
            player.done.add(pod["metadata"]["name"])  # runs until its JobSet ends or goes
            return
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        for step in range(1, 10):
            body = {
                "reports": [
                    {"seq": step, "step": step, "metrics": {"score": score(params) * step / 9}}
                ]
            }
            if player.post(pod, body) != 200:
                break
            if step not in (1, 3, 9):
                continue  # asha judges only at its rungs
            phase = cluster.get("trial", trial, namespace=namespace).get("status", {}).get("phase")
            if phase == "EarlyStopped":
                player.done.add(pod["metadata"]["name"])
                return
        # Done: every pod of the trial ends, rank 0 last.
        others = cluster.get("pods", "-l", f"kubetune.io/trial={trial}", namespace=namespace)
        for other in others["items"]:
            if other["metadata"]["name"] != pod["metadata"]["name"]:
                player.finish(other)
        player.finish(pod)

    Player(cluster, namespace, operator, "setstop").play(curve, timeout=240)
    trials = trials_of(cluster, namespace, "setstop")
    stopped = [t for t in trials if t["status"]["phase"] == "EarlyStopped"]
    assert stopped, [t["status"].get("phase") for t in trials]
    assert len(trials) == 6
    for trial in stopped:
        name = trial["metadata"]["name"]
        assert trial["status"]["stop"]["rule"] == "asha"

        def gone(name: str = name) -> bool:
            pods = cluster.get("pods", "-l", f"kubetune.io/trial={name}", namespace=namespace)
            jobset = cluster.kubectl("get", "jobset", name, namespace=namespace, check=False)
            return not pods["items"] and jobset.returncode != 0

        wait_until(gone, 60, f"the JobSet of {name} and its 4 pods to go")
    assert "TrialStoppedEarly" in {e["reason"] for e in events(cluster, namespace)}


def test_a_jobset_study_reads_its_metrics_from_prometheus(
    cluster: Cluster, namespace: str, operator: Operator, prometheus: dict[str, str]
) -> None:
    """No sidecar in any pod: the trial's metric is read from Prometheus, whichever pod
    exports it (here the last replicated Job's)."""
    source = {
        "url": prometheus["prometheus"],
        "query": f'kubetune_set_score{{namespace="{namespace}",trial="${{trial.name}}"}}',
    }
    cluster.apply(
        study(
            "setprom",
            trialTemplate=jobset_template(pods=1, jobs=2),
            metrics={"prometheus": source},
            budget={"maxTrials": 2, "parallelism": 2},
        ),
        namespace=namespace,
    )

    def export(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        assert "initContainers" not in pod["spec"]
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        if pod["metadata"]["labels"].get("jobset.sigs.k8s.io/replicatedjob-name") == "workers":
            body = f"kubetune_set_score {score(params)}\n".encode()
            push = f"{prometheus['pushgateway']}/metrics/job/kubetune/namespace/{namespace}/trial/{trial}"
            urllib.request.urlopen(
                urllib.request.Request(push, data=body, method="PUT"), timeout=10
            ).close()
            query = urllib.parse.urlencode(
                {"query": source["query"].replace("${trial.name}", trial)}
            )

            def scraped() -> bool:
                with urllib.request.urlopen(
                    f"{prometheus['prometheus']}/api/v1/query?{query}", timeout=10
                ) as r:
                    return bool(json.load(r)["data"]["result"])

            wait_until(scraped, 30, f"Prometheus to scrape {trial}")
        player.finish(pod)

    Player(cluster, namespace, operator, "setprom").play(export, timeout=180)
    trials = trials_of(cluster, namespace, "setprom")
    assert len(trials) == 2 and all(t["status"]["phase"] == "Succeeded" for t in trials)
    for trial in trials:
        assert trial["status"]["objective"] == pytest.approx(score(trial["spec"]["params"]))

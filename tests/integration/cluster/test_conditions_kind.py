"""A kind kubetune does not know by name, run by the conditions its Study describes (as Katib
runs any kind): a CRD of the test's own, `RunJobs` (tests.kubetune.io/v1), served by the real
API server. No controller exists for it, so the test is that controller, doing what a
PyTorchJob's operator does: it makes a pod from each replica's template and, once the pods
have ended, writes the condition. The operator watches the kind at the resource it is told
(`--workloads Job,runjobs.v1.tests.kubetune.io`)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Cluster, wait_until
from .operator_harness import Operator, Player, score
from .test_operator import study, trials_of

pytestmark = pytest.mark.cluster
GROUP, PLURAL = "tests.kubetune.io", "runjobs"

CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"kind": "RunJob", "plural": PLURAL, "singular": "runjob"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


def template() -> dict[str, Any]:
    def replica(role: str) -> dict[str, Any]:
        return {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": "trainer:1",
                            "command": ["python", "train.py"],
                            "args": [f"--role={role}", "--x=${trial.params.x}"],
                        }
                    ]
                }
            }
        }

    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "RunJob",
        "workload": {
            "succeeded": ["Done"],
            "failed": ["Broken"],
            "podTemplates": ["spec.replicas.leader.template", "spec.replicas.helper.template"],
        },
        "spec": {"replicas": {"leader": replica("leader"), "helper": replica("helper")}},
    }


@pytest.fixture
def operator(cluster: Cluster, crds: None, namespace: str, tmp_path: Path) -> Iterator[Operator]:
    cluster.apply(CRD)
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{PLURAL}.{GROUP}", "--timeout=60s")
    running = Operator(cluster, namespace, tmp_path, ("--workloads", f"Job,{PLURAL}.v1.{GROUP}"))
    running.start()
    yield running
    running.stop()


def make_pods(cluster: Cluster, namespace: str, made: set[str]) -> None:
    """The kind's controller: a pod per replica template of each new RunJob, owned by it."""
    for run in cluster.get(PLURAL, namespace=namespace)["items"]:
        meta = run["metadata"]
        if meta["name"] in made:
            continue
        made.add(meta["name"])
        for role, replica in run["spec"]["replicas"].items():
            pod = copy.deepcopy(replica["template"])
            pod["apiVersion"], pod["kind"] = "v1", "Pod"
            pod["metadata"] = {
                **pod.get("metadata", {}),
                "name": f"{meta['name']}-{role}",
                "ownerReferences": [
                    {
                        "apiVersion": f"{GROUP}/v1",
                        "kind": "RunJob",
                        "name": meta["name"],
                        "uid": meta["uid"],
                    }
                ],
            }
            cluster.apply(pod, namespace=namespace)


def set_condition(cluster: Cluster, namespace: str, name: str, kind: str, **extra: str) -> None:
    patch = {"status": {"conditions": [{"type": kind, "status": "True", **extra}]}}
    cluster.kubectl(
        "patch",
        PLURAL,
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(patch),
        namespace=namespace,
    )


def test_a_described_kind_runs_by_its_conditions_and_reports_from_its_first_template(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(
        study(
            "runs",
            trialTemplate=template(),
            budget={"maxTrials": 3, "parallelism": 2, "maxFailedTrials": 2},
        ),
        namespace=namespace,
    )
    made: set[str] = set()
    ended: dict[str, set[str]] = {}
    fail_this = "runs-1"

    def play(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        labels = pod["metadata"]["labels"]
        trial = labels["kubetune.io/trial"]
        if pod["metadata"]["name"].endswith("-leader"):
            assert labels["kubetune.io/workload"] == "conditions"
            if trial != fail_this:
                body = {"reports": [{"seq": 1, "step": 1, "metrics": {"score": score(params)}}]}
                assert player.post(pod, body) == 200
        else:  # only the first template's pods run the sidecar
            assert "initContainers" not in pod["spec"]
        player.finish(pod)
        ended.setdefault(trial, set()).add(pod["metadata"]["name"])
        if len(ended[trial]) == 2:  # the kind's controller: both pods ended
            if trial == fail_this:
                set_condition(
                    cluster, namespace, trial, "Broken", reason="LeaderCrashed", message="exit 3"
                )
            else:
                set_condition(cluster, namespace, trial, "Done")

    Player(cluster, namespace, operator, "runs").play(
        play, timeout=180, each_round=lambda: make_pods(cluster, namespace, made)
    )
    trials = {t["metadata"]["name"]: t for t in trials_of(cluster, namespace, "runs")}
    assert sorted(trials) == ["runs-0", "runs-1", "runs-2"]
    failed = trials.pop(fail_this)["status"]
    assert failed["phase"] == "Failed"
    assert failed["reason"] == "RunJob failed: LeaderCrashed: exit 3"
    for trial in trials.values():
        assert trial["status"]["phase"] == "Succeeded"
        assert trial["status"]["objective"] == pytest.approx(score(trial["spec"]["params"]))
    run = cluster.get(PLURAL, "runs-0", namespace=namespace)
    assert run["metadata"]["ownerReferences"][0]["kind"] == "Trial"


def test_a_described_workload_deleted_mid_trial_fails_its_trial(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(
        study("gone", trialTemplate=template(), budget={"maxTrials": 1, "parallelism": 1}),
        namespace=namespace,
    )
    wait_until(
        lambda: bool(cluster.get(PLURAL, namespace=namespace)["items"]), 60, "the RunJob to exist"
    )
    cluster.kubectl("delete", PLURAL, "gone-0", namespace=namespace)

    def failed() -> bool:
        trial = cluster.get("trial", "gone-0", namespace=namespace)
        return trial.get("status", {}).get("phase") == "Failed"

    wait_until(failed, 60, "the trial to fail")
    reason = cluster.get("trial", "gone-0", namespace=namespace)["status"]["reason"]
    assert reason == "its RunJob gone-0 was deleted before the trial ended", reason

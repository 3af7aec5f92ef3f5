"""`kubetune dashboard --cluster` over the local cluster's Studies, Trials and events, read with
the caller's kubeconfig, in a real Chromium. The objects are written here as the operator
writes them (status subresources included); the dashboard only reads."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser

from .conftest import Cluster
from dashboard_browser import Server, Watched, chromium
from factories import manifest

pytestmark = pytest.mark.cluster
TRIALS = 12


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


def status(cluster: Cluster, kind: str, name: str, namespace: str, body: dict[str, Any]) -> None:
    cluster.kubectl(
        "patch",
        kind,
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(body),
        namespace=namespace,
    )


def seed(cluster: Cluster, namespace: str) -> dict[str, Any]:
    """A Study with TRIALS Trials: most succeeded, two stopped early, the last one running."""
    study = manifest(earlyStopping={"name": "median", "settings": {"minTrials": 2}})
    study["metadata"]["name"] = "board"
    study["spec"]["budget"] = {"maxTrials": TRIALS, "parallelism": 2}
    cluster.apply(study, namespace=namespace)
    uid = cluster.get("study", "board", namespace=namespace)["metadata"]["uid"]
    best = {"name": "board-3", "params": {}, "objective": 0.0}
    for index in range(TRIALS):
        name = f"board-{index}"
        params = {"lr": 10 ** (-4 + index / 4), "layers": 1 + index % 4, "optimizer": "adam"}
        trial = {
            "apiVersion": "kubetune.io/v1alpha1",
            "kind": "Trial",
            "metadata": {
                "name": name,
                "labels": {"kubetune.io/study": "board"},
                "ownerReferences": [
                    {
                        "apiVersion": "kubetune.io/v1alpha1",
                        "kind": "Study",
                        "name": "board",
                        "uid": uid,
                        "controller": True,
                    }
                ],
            },
            "spec": {"study": "board", "index": index, "params": params},
        }
        cluster.apply(trial, namespace=namespace)
        accuracy = 0.5 + index / 40
        reports = [{"step": s, "metrics": {"accuracy": accuracy * s / 5}} for s in range(1, 6)]
        body: dict[str, Any] = {"phase": "Succeeded", "objective": accuracy, "reports": reports}
        if index in (4, 7):
            stop = {
                "trial": name,
                "step": 2,
                "value": 0.1,
                "rule": "median",
                "threshold": 0.3,
                "reason": "accuracy 0.1 at step 2 is below the median 0.3",
            }
            body = {
                "phase": "EarlyStopped",
                "reports": reports[:2],
                "stop": stop,
                "reason": stop["reason"],
            }
        if index == TRIALS - 1:
            body = {"phase": "Running", "reports": reports[:1]}
        status(cluster, "trial", name, namespace, {"status": body})
        if body["phase"] == "Succeeded" and accuracy > best["objective"]:
            best = {"name": name, "params": params, "objective": accuracy}
    status(
        cluster,
        "study",
        "board",
        namespace,
        {
            "status": {
                "phase": "Running",
                "progress": f"{TRIALS - 1}/{TRIALS}",
                "trials": {
                    "total": TRIALS,
                    "running": 1,
                    "succeeded": TRIALS - 3,
                    "earlyStopped": 2,
                },
                "bestTrial": best,
                "startTime": "2026-11-27T10:00:00Z",
            }
        },
    )
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "board-4.stopped"},
        "involvedObject": {
            "apiVersion": "kubetune.io/v1alpha1",
            "kind": "Trial",
            "name": "board-4",
            "namespace": namespace,
        },
        "reason": "TrialStoppedEarly",
        "message": "median: 0.1 below 0.3 at step 2",
        "type": "Normal",
        "firstTimestamp": "2026-11-27T10:01:00Z",
        "lastTimestamp": "2026-11-27T10:01:00Z",
        "count": 1,
        "source": {"component": "kubetune"},
    }
    cluster.apply(event, namespace=namespace)
    return best


def test_the_clusters_studies_render_read_only_and_a_trial_that_ends_shows_live(
    cluster: Cluster, crds: None, namespace: str, browser: Browser, tmp_path: Any
) -> None:
    best = seed(cluster, namespace)
    server = Server(
        "--cluster", "-n", namespace, cwd=tmp_path, env={"KUBECONFIG": str(cluster.kubeconfig)}
    )
    try:
        with urllib.request.urlopen(f"{server.url}api/studies") as answer:
            (listed,) = json.load(answer)
        assert listed["namespace"] == namespace and listed["name"] == "board"
        assert listed["best"]["trial"] == best["name"]
        watched = Watched(browser, server.url)
        page = watched.open("#/", wait_for="#studies tr[data-key]")
        assert page.inner_text("#studies tr[data-key] td:nth-child(3)") == namespace  # after tick
        key = f"{namespace}%3Aboard"
        page = watched.open(f"#/study/{key}")
        page.wait_for_selector("#plot-slice[data-rendered]")
        assert watched.points("plot-objective") == TRIALS  # the running one at its last report
        assert watched.points("plot-parallel") == TRIALS - 3
        assert watched.points("plot-curves") == (TRIALS - 3) * 5 + 2 * 2 + 1 + 2
        assert page.locator("#trials tr[data-trial]").count() == TRIALS
        watched.screenshot("cluster-study")

        page.evaluate("window.kept = true")
        status(
            cluster,
            "trial",
            f"board-{TRIALS - 1}",
            namespace,
            {"status": {"phase": "Succeeded", "objective": 0.51}},
        )
        page.wait_for_selector(
            f"#trials tr[data-trial=board-{TRIALS - 1}][data-state=Succeeded]", timeout=30_000
        )
        assert page.evaluate("window.kept") is True

        page = watched.open(f"#/study/{key}/trial/board-4")
        page.wait_for_selector("#stop-record")
        assert "TrialStoppedEarly" in page.inner_text("#events")
        page.wait_for_function("!document.getElementById('logs').textContent.includes('loading')")
        assert "no logs" in page.inner_text("#logs")  # kwok runs no container
        watched.screenshot("cluster-trial")
        watched.clean()
    finally:
        server.stop()

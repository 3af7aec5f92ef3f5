"""The API server goes away for half a minute under a running study: the operator says so in a
few lines (one per kind of failure, with when it tries again, and one when it is over), with no
traceback, and the study then finishes with nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from .conftest import HACK, Cluster, wait_until
from .operator_harness import Operator, Player, post_reports, report_and_finish, sidecar_token
from .test_operator import study, trials_of

pytestmark = pytest.mark.cluster

OUTAGE_SECONDS = 30


def api_server_pid(cluster: Cluster) -> int:
    return int((cluster.state_dir / "pids" / "kube-apiserver.pid").read_text().strip())


def api_server_answers(cluster: Cluster) -> bool:
    return cluster.kubectl("get", "--raw", "/readyz", check=False).returncode == 0


def test_an_api_server_outage_is_told_in_a_few_lines_and_the_study_goes_on(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(study("outage", budget={"maxTrials": 6, "parallelism": 2}), namespace=namespace)
    wait_until(
        lambda: len(list(Player(cluster, namespace, operator, "outage").running_pods())) == 2,
        60,
        "two running trial pods",
    )
    pods = list(Player(cluster, namespace, operator, "outage").running_pods())
    before = operator.log_path.read_text(errors="replace")

    os.kill(api_server_pid(cluster), signal.SIGKILL)
    wait_until(lambda: not api_server_answers(cluster), 30, "the API server to stop answering")
    down_at = time.monotonic()
    refused = []
    while time.monotonic() - down_at < OUTAGE_SECONDS:
        # The sidecars keep posting: every post is answered "retry" (503), none recorded.
        pod = pods[len(refused) % len(pods)]
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        body = {"reports": [{"seq": 1, "step": 1, "metrics": {"score": 0.5}}]}
        refused.append(post_reports(operator.collector, namespace, trial, sidecar_token(pod), body))
        time.sleep(1)  # one post a second, as a sidecar retrying would
    up = subprocess.run([str(HACK / "cluster-up.sh")], capture_output=True, text=True, timeout=600)
    assert up.returncode == 0, up.stderr
    wait_until(lambda: api_server_answers(cluster), 60, "the API server to answer again")

    player = Player(cluster, namespace, operator, "outage")
    player.play(report_and_finish, timeout=300)
    status = cluster.get("study", "outage", namespace=namespace)["status"]
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 6
    assert sorted(t["metadata"]["name"] for t in trials_of(cluster, namespace, "outage")) == [
        f"outage-{i}" for i in range(6)
    ]
    assert set(refused) == {503} and len(refused) >= 20

    said = operator.log_path.read_text(errors="replace")[len(before) :].splitlines()
    shown = "\n".join(said[:80])
    assert not [line for line in said if "Traceback" in line], shown
    failing = [line for line in said if "failing" in line and "retrying" in line]
    over = [line for line in said if "back after" in line]
    kinds = [line.split(" failing")[0].split("] ")[-1] for line in failing]
    assert failing and len(kinds) == len(set(kinds)), shown  # each kind once
    assert over, shown
    assert len(said) <= 40, f"{len(said)} lines while the API server was down:\n{shown}"

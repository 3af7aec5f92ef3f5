"""Two operator replicas with leader election on the real API server: one acts, the other
serves only the collector, and takes over when the leader is killed mid-study."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import Cluster, wait_until
from .operator_harness import Operator, Player, report_and_finish
from .test_operator import study, trials_of

pytestmark = pytest.mark.cluster
LEASE = "kubetune-operator"


def replica(cluster: Cluster, namespace: str, tmp_path: Path, name: str) -> Operator:
    log_dir = tmp_path / name
    log_dir.mkdir()
    return Operator(
        cluster,
        namespace,
        log_dir,
        extra_args=("--leader-election", LEASE, "--operator-namespace", namespace),
    )


def holder(cluster: Cluster, namespace: str) -> str:
    found = cluster.kubectl("get", "lease", LEASE, "-o", "json", namespace=namespace, check=False)
    if found.returncode != 0:
        return ""
    spec: dict[str, Any] = json.loads(found.stdout)["spec"]
    return str(spec.get("holderIdentity") or "")


@pytest.fixture
def replicas(
    cluster: Cluster, crds: None, namespace: str, tmp_path: Path
) -> Iterator[tuple[Operator, Operator]]:
    """Two replicas; the first leads, the second's collector answers while it waits."""
    first = replica(cluster, namespace, tmp_path, "first")
    second = replica(cluster, namespace, tmp_path, "second")
    first.start()
    try:
        wait_until(lambda: first.metric("kubetune_leader") == 1, 30, "the first replica to lead")
        second.start()
        yield first, second
    finally:
        second.stop()
        first.stop()


def test_with_two_replicas_one_acts_and_the_other_takes_over_when_it_is_killed(
    cluster: Cluster, namespace: str, replicas: tuple[Operator, Operator]
) -> None:
    first, second = replicas
    leader_identity = holder(cluster, namespace)
    assert leader_identity
    cluster.apply(study("ha", budget={"maxTrials": 8, "parallelism": 2}), namespace=namespace)
    killed_at: list[float] = []

    def kill_the_leader_after_three() -> None:
        if killed_at:
            if len(killed_at) == 1 and second.metric("kubetune_leader") == 1:
                killed_at.append(time.monotonic())
            return
        done = [t for t in trials_of(cluster, namespace, "ha") if _phase(t) == "Succeeded"]
        if len(done) >= 3:
            # Until now the standby made no decision: not one Trial or Job is its doing.
            assert second.metric("kubetune_leader") == 0
            assert second.metric("kubetune_api_requests_total", '{verb="create_trial"}') == 0
            assert second.metric("kubetune_api_requests_total", '{verb="create_job"}') == 0
            first.kill()
            killed_at.append(time.monotonic())

    # Reports go to the standby's collector throughout: every replica ingests them.
    Player(cluster, namespace, second, "ha").play(
        report_and_finish, timeout=240, each_round=kill_the_leader_after_three
    )
    assert killed_at, "the study ended before the leader was killed"
    if len(killed_at) == 2:
        print(f"take-over after the leader was killed: {killed_at[1] - killed_at[0]:.1f} s")
    new_holder = holder(cluster, namespace)
    assert new_holder and new_holder != leader_identity
    assert second.metric("kubetune_leader") == 1
    assert "now leads lease" in second.log_tail(400)
    names = sorted(t["metadata"]["name"] for t in trials_of(cluster, namespace, "ha"))
    assert names == sorted(f"ha-{i}" for i in range(8))  # none lost, none twice
    jobs = cluster.get("jobs", "-l", "kubetune.io/study=ha", namespace=namespace)["items"]
    assert len({j["metadata"]["labels"]["kubetune.io/trial"] for j in jobs}) == len(jobs)
    status = cluster.get("study", "ha", namespace=namespace)["status"]
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 8
    assert second.metric("kubetune_api_requests_total", '{verb="create_trial"}') > 0


def test_a_clean_shutdown_hands_the_lease_over_at_once(
    cluster: Cluster, namespace: str, replicas: tuple[Operator, Operator]
) -> None:
    first, second = replicas
    leader_identity = holder(cluster, namespace)
    stopped = time.monotonic()
    first.stop()  # SIGTERM: kopf stops, then the Lease is released
    assert first.process is not None and first.process.returncode == 0
    # Released (or already taken): the standby need not wait out the lease duration.
    assert holder(cluster, namespace) != leader_identity
    wait_until(lambda: second.metric("kubetune_leader") == 1, 30, "the standby to lead")
    print(f"hand-over after a clean stop: {time.monotonic() - stopped:.1f} s")


def _phase(trial: dict[str, Any]) -> str:
    return str((trial.get("status") or {}).get("phase", ""))

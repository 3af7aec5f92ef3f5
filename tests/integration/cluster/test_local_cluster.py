"""The local cluster is real: nodes, RBAC, the scheduler's GPU accounting, Jobs driven through
kwok stages, Prometheus with the Pushgateway, and helm."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .conftest import Cluster, wait_until

pytestmark = pytest.mark.cluster
GPU_NODES = {"kwok-gpu-0", "kwok-gpu-1"}


def job(name: str, gpus: int = 0, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "trainer", "image": "trainer:test", "command": ["train"]}
    pod_spec: dict[str, Any] = {"restartPolicy": "Never", "containers": [container]}
    if gpus:
        container["resources"] = {"limits": {"nvidia.com/gpu": str(gpus)}}
        pod_spec["tolerations"] = [
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
        ]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {"metadata": {"annotations": annotations or {}}, "spec": pod_spec},
        },
    }


def pods_of(cluster: Cluster, namespace: str, job_name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.get(
        "pods", "-l", f"job-name={job_name}", namespace=namespace
    )["items"]
    return items


def one_pod(cluster: Cluster, namespace: str, job_name: str, phase: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        pods = [
            p
            for p in pods_of(cluster, namespace, job_name)
            if p.get("status", {}).get("phase") == phase
        ]
        return pods[0] if pods else None

    pod: dict[str, Any] = wait_until(found, 60, f"a {phase} pod of job {job_name}")
    return pod


def job_condition(cluster: Cluster, namespace: str, name: str, kind: str) -> bool:
    conditions = (
        cluster.get("job", name, namespace=namespace).get("status", {}).get("conditions", [])
    )
    return any(c["type"] == kind and c["status"] == "True" for c in conditions)


def test_four_kwok_nodes_are_ready_and_gpu_nodes_offer_gpus(cluster: Cluster) -> None:
    nodes = {n["metadata"]["name"]: n for n in cluster.get("nodes")["items"]}
    assert {"kwok-cpu-0", "kwok-cpu-1", *GPU_NODES} <= set(nodes)
    for name in ("kwok-cpu-0", "kwok-cpu-1", *GPU_NODES):
        ready = [c for c in nodes[name]["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", name
    for name in GPU_NODES:
        node = nodes[name]
        assert node["status"]["allocatable"]["nvidia.com/gpu"] == "4"
        assert node["metadata"]["labels"]["nvidia.com/gpu.present"] == "true"
        assert {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"} in node[
            "spec"
        ]["taints"]


def test_the_server_reports_its_real_version(cluster: Cluster) -> None:
    version = json.loads(cluster.kubectl("get", "--raw", "/version").stdout)
    env = (Path(__file__).resolve().parents[3] / "hack" / "versions.env").read_text()
    assert f"KUBERNETES_VERSION={version['gitVersion']}" in env


def test_rbac_is_enforced(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("create", "serviceaccount", "nobody", namespace=namespace)
    cluster.kubectl("create", "serviceaccount", "reader", namespace=namespace)
    cluster.kubectl(
        "create", "role", "pod-reader", "--verb=get,list", "--resource=pods", namespace=namespace
    )
    cluster.kubectl(
        "create",
        "rolebinding",
        "reader",
        "--role=pod-reader",
        f"--serviceaccount={namespace}:reader",
        namespace=namespace,
    )

    def can(account: str, verb: str, resource: str) -> str:
        done = cluster.kubectl(
            "auth",
            "can-i",
            verb,
            resource,
            f"--as=system:serviceaccount:{namespace}:{account}",
            namespace=namespace,
            check=False,
        )
        return done.stdout.strip()

    assert can("nobody", "list", "pods") == "no"
    assert can("reader", "list", "pods") == "yes"
    assert can("reader", "delete", "pods") == "no"
    assert can("reader", "list", "secrets") == "no"
    # and the admin kubeconfig really is system:masters
    assert cluster.kubectl("auth", "can-i", "delete", "nodes").stdout.strip() == "yes"


def test_a_gpu_job_is_scheduled_on_a_gpu_node(cluster: Cluster, namespace: str) -> None:
    cluster.apply(job("one-gpu", gpus=1), namespace=namespace)
    pod = one_pod(cluster, namespace, "one-gpu", "Running")
    assert pod["spec"]["nodeName"] in GPU_NODES


def test_a_cpu_job_never_lands_on_a_tainted_gpu_node(cluster: Cluster, namespace: str) -> None:
    cluster.apply(job("cpu-only"), namespace=namespace)
    pod = one_pod(cluster, namespace, "cpu-only", "Running")
    assert pod["spec"]["nodeName"] not in GPU_NODES


def test_more_gpus_than_any_node_has_stays_pending_unschedulable(
    cluster: Cluster, namespace: str
) -> None:
    cluster.apply(job("too-many", gpus=5), namespace=namespace)

    def unschedulable() -> bool:
        pods = pods_of(cluster, namespace, "too-many")
        conditions = pods[0].get("status", {}).get("conditions", []) if pods else []
        return any(
            c["type"] == "PodScheduled" and c.get("reason") == "Unschedulable" for c in conditions
        )

    wait_until(unschedulable, 60, "an Unschedulable condition")
    [pod] = pods_of(cluster, namespace, "too-many")
    assert pod["status"]["phase"] == "Pending" and "nodeName" not in pod["spec"]
    message = next(c["message"] for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert "nvidia.com/gpu" in message


def test_a_marked_pod_completes_its_job_while_an_unmarked_one_keeps_running(
    cluster: Cluster, namespace: str
) -> None:
    cluster.apply(job("trial"), namespace=namespace)
    cluster.apply(job("bystander"), namespace=namespace)
    pod = one_pod(cluster, namespace, "trial", "Running")
    one_pod(cluster, namespace, "bystander", "Running")
    cluster.kubectl(
        "annotate", "pod", pod["metadata"]["name"], "kubetune.io/fake-exit=0", namespace=namespace
    )
    wait_until(
        lambda: job_condition(cluster, namespace, "trial", "Complete"), 60, "the Job to complete"
    )
    done = cluster.get("pod", pod["metadata"]["name"], namespace=namespace)
    assert done["status"]["phase"] == "Succeeded"
    assert done["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    assert cluster.get("job", "trial", namespace=namespace)["status"]["succeeded"] == 1
    # kwok's own pod-complete stage is not loaded: nothing ends a trial pod but the test
    assert pods_of(cluster, namespace, "bystander")[0]["status"]["phase"] == "Running"
    assert not job_condition(cluster, namespace, "bystander", "Complete")


def test_a_pod_marked_with_a_failing_code_fails_its_job(cluster: Cluster, namespace: str) -> None:
    cluster.apply(job("crash"), namespace=namespace)
    pod = one_pod(cluster, namespace, "crash", "Running")
    cluster.kubectl(
        "annotate", "pod", pod["metadata"]["name"], "kubetune.io/fake-exit=3", namespace=namespace
    )
    wait_until(lambda: job_condition(cluster, namespace, "crash", "Failed"), 60, "the Job to fail")
    done = cluster.get("pod", pod["metadata"]["name"], namespace=namespace)
    assert done["status"]["phase"] == "Failed"
    assert done["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 3


def test_a_pod_template_can_carry_its_own_ending(cluster: Cluster, namespace: str) -> None:
    annotations = {"kubetune.io/fake-exit": "0", "kubetune.io/fake-delay": "1s"}
    cluster.apply(job("self-ending", gpus=2, annotations=annotations), namespace=namespace)
    wait_until(
        lambda: job_condition(cluster, namespace, "self-ending", "Complete"),
        60,
        "the Job to complete",
    )


def test_a_metric_pushed_to_the_pushgateway_is_read_back_through_prometheus(
    prometheus: dict[str, str],
) -> None:
    value = time.time() % 1000
    body = f'kubetune_test_accuracy{{trial="t-1"}} {value}\n'.encode()
    request = urllib.request.Request(
        f"{prometheus['pushgateway']}/metrics/job/kubetune-test/trial/t-1", data=body, method="PUT"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 202)
    query = urllib.parse.urlencode({"query": 'kubetune_test_accuracy{trial="t-1"}'})

    def read() -> float | None:
        with urllib.request.urlopen(
            f"{prometheus['prometheus']}/api/v1/query?{query}", timeout=10
        ) as r:
            result = json.load(r)["data"]["result"]
        return (
            float(result[0]["value"][1])
            if result and float(result[0]["value"][1]) == value
            else None
        )

    assert wait_until(read, 30, "Prometheus to scrape the pushed value") == pytest.approx(value)


def test_helm_version_and_template_run(cluster: Cluster, tmp_path: Path) -> None:
    helm = cluster.tool("helm")
    version = subprocess.run(
        [helm, "version", "--short"], capture_output=True, text=True, check=True
    )
    env = (Path(__file__).resolve().parents[3] / "hack" / "versions.env").read_text()
    assert version.stdout.strip().split("+")[0] in env
    subprocess.run(
        [helm, "create", str(tmp_path / "demo")], capture_output=True, text=True, check=True
    )
    rendered = subprocess.run(
        [helm, "template", "demo", str(tmp_path / "demo"), "--set", "replicaCount=3"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "kind: Deployment" in rendered and "replicas: 3" in rendered


def test_cluster_up_again_is_harmless(cluster: Cluster) -> None:
    pid_file = cluster.state_dir / "pids" / "kube-apiserver.pid"
    before = pid_file.read_text()
    again = subprocess.run(
        [str(Path(__file__).resolve().parents[3] / "hack" / "cluster-up.sh")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert "already up" in again.stderr
    assert pid_file.read_text() == before
    assert len(cluster.get("nodes")["items"]) >= 4

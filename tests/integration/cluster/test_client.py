"""`kubetune.Client` against the real API server and the operator, on kwok nodes: the whole
cycle from a notebook's point of view, the API server's refusals as Python exceptions, and a
read-only identity that can follow a study but not start one."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

import kubetune
from kubetune.client.cluster import TrialEvent

from .conftest import Cluster
from .operator_harness import Operator, Player, report_and_finish, score
from .test_operator import study

pytestmark = pytest.mark.cluster


def playing(cluster: Cluster, namespace: str, operator: Operator, name: str) -> threading.Thread:
    """The trials' side (reports, then exit) in a thread, while the test is the notebook."""
    failures: list[BaseException] = []

    def play() -> None:
        try:
            Player(cluster, namespace, operator, name).play(report_and_finish, timeout=240)
        except BaseException as error:  # surfaced by the test's join
            failures.append(error)

    thread = threading.Thread(target=play, daemon=True)
    thread.failures = failures  # type: ignore[attr-defined]
    thread.start()
    return thread


def test_the_client_creates_follows_and_reads_a_study(
    cluster: Cluster, namespace: str, operator: Operator, tmp_path: Path
) -> None:
    client = kubetune.Client(namespace, kubeconfig=cluster.kubeconfig)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study("nb")))
    created = client.create(path)  # from a YAML file; dicts and models are tested below
    assert created["metadata"]["name"] == "nb" and created["metadata"]["uid"]
    assert [s["metadata"]["name"] for s in client.list()] == ["nb"]
    with pytest.raises(kubetune.StudyExistsError, match="already exists"):
        client.create(study("nb"))

    player = playing(cluster, namespace, operator, "nb")
    events: list[TrialEvent] = list(client.watch("nb", timeout=240))
    player.join(240)
    assert not player.failures, player.failures  # type: ignore[attr-defined]
    by_trial: dict[str, list[str]] = {}
    for event in events:
        by_trial.setdefault(event.trial, []).append(event.phase)
    assert sorted(by_trial) == [f"nb-{i}" for i in range(6)]
    for trial, phases in by_trial.items():
        assert phases[-1] == "Succeeded", (trial, phases)
        assert len(phases) == len(set(phases)), f"a phase told twice: {trial} {phases}"
    last = [e for e in events if e.phase == "Succeeded"]
    assert all(e.objective == pytest.approx(score(e.params)) for e in last)

    status = client.wait("nb", timeout=60, progress=False)
    assert status["phase"] == "Succeeded" and status["progress"] == "6/6"
    trials = client.trials("nb")
    assert [t.name for t in trials] == [f"nb-{i}" for i in range(6)]
    best = client.best("nb")
    assert best is not None
    assert best.name == max(trials, key=lambda t: t.objective or -1).name
    assert best.objective == pytest.approx(score(best.params))
    frame = client.dataframe("nb")
    assert list(frame.index) == [t.name for t in trials]
    assert frame.loc[best.name, "objective"] == pytest.approx(best.objective)
    assert frame.loc[best.name, "params_x"] == pytest.approx(best.params["x"])
    assert client.pareto("nb") == []  # one objective: no front

    client.delete("nb", wait=True)
    assert client.list() == []
    with pytest.raises(kubetune.StudyNotFoundError, match="no Study 'nb'"):
        client.get("nb")


def test_wait_raises_with_the_reason_when_the_study_fails(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    client = kubetune.Client(namespace, kubeconfig=cluster.kubeconfig)
    document = study("doomed")
    document["spec"]["budget"].update(maxTrials=3, maxFailedTrials=1, parallelism=1)
    client.create(document)

    def fail(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        player.finish(pod, code=3)

    thread = threading.Thread(
        target=lambda: Player(cluster, namespace, operator, "doomed").play(fail), daemon=True
    )
    thread.start()
    with pytest.raises(kubetune.StudyFailedError) as raised:
        client.wait("doomed", timeout=240, progress=False)
    thread.join(60)
    assert raised.value.reason == "TooManyFailures"
    assert str(raised.value) == (
        "Study 'doomed' failed: TooManyFailures: 2 trials failed, more than "
        "budget.maxFailedTrials (1)"
    )
    with pytest.raises(TimeoutError, match="still"):
        other = study("slow")
        client.create(other)
        client.wait("slow", timeout=1, progress=False)


def test_a_refused_study_raises_naming_the_field(
    cluster: Cluster, namespace: str, crds: None
) -> None:
    client = kubetune.Client(namespace, kubeconfig=cluster.kubeconfig)
    document = study("bad")
    document["spec"]["parameters"][0].update(min=5, max=4)  # a CEL rule of the CRD's
    with pytest.raises(kubetune.StudyRejectedError) as raised:
        client.create(document)
    message = str(raised.value)
    assert "spec.parameters[0].min" in message and "must be < max" in message, message
    assert raised.value.field == "spec.parameters[0].min"
    assert "{" not in message and "HTTP" not in message, "a raw HTTP body leaked into the error"
    assert client.list() == []


def _read_only_kubeconfig(cluster: Cluster, namespace: str, path: Path) -> Path:
    """A kubeconfig of a ServiceAccount that may get, list and watch studies, trials, pods
    and their logs in `namespace`, and nothing else."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "study-reader"},
        "rules": [
            {
                "apiGroups": ["kubetune.io"],
                "resources": ["studies", "trials"],
                "verbs": ["get", "list", "watch"],
            },
            {"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]},
        ],
    }
    cluster.apply(role, namespace=namespace)
    cluster.kubectl("create", "serviceaccount", "reader", namespace=namespace)
    cluster.kubectl(
        "create",
        "rolebinding",
        "reader",
        "--role=study-reader",
        f"--serviceaccount={namespace}:reader",
        namespace=namespace,
    )
    token = cluster.kubectl("create", "token", "reader", namespace=namespace).stdout.strip()
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    server = admin["clusters"][0]["cluster"]
    ca = Path(server["certificate-authority"]).read_bytes()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "c",
                "cluster": {
                    "server": server["server"],
                    "certificate-authority-data": base64.b64encode(ca).decode(),
                },
            }
        ],
        "users": [{"name": "reader", "user": {"token": token}}],
        "contexts": [
            {"name": "r", "context": {"cluster": "c", "user": "reader", "namespace": namespace}}
        ],
        "current-context": "r",
    }
    path.write_text(json.dumps(config))
    return path


def test_a_read_only_identity_follows_a_study_but_cannot_start_one(
    cluster: Cluster, namespace: str, operator: Operator, tmp_path: Path
) -> None:
    cluster.apply(study("shared"), namespace=namespace)
    reader = kubetune.Client(kubeconfig=_read_only_kubeconfig(cluster, namespace, tmp_path / "kc"))
    assert reader.namespace == namespace  # the context's namespace
    player = playing(cluster, namespace, operator, "shared")
    status = reader.wait("shared", timeout=240, progress=False)
    player.join(60)
    assert status["phase"] == "Succeeded"
    assert len(reader.trials("shared")) == 6 and reader.best("shared") is not None
    assert [s["metadata"]["name"] for s in reader.list()] == ["shared"]
    with pytest.raises(PermissionError, match="refused this identity"):
        reader.create(study("mine"))
    with pytest.raises(PermissionError):
        reader.delete("shared")


def test_a_function_that_cannot_be_shipped_is_refused_before_anything_is_created(
    cluster: Cluster, namespace: str, crds: None
) -> None:
    client = kubetune.Client(namespace, kubeconfig=cluster.kubeconfig)
    model = threading.Lock()  # state a trial's process cannot be handed

    def trains(params: dict[str, Any]) -> float:
        with model:
            return float(params["x"])

    space = {"x": kubetune.search.float(0.0, 1.0)}
    for function, why in (
        (trains, "it closes over 'model' (a _thread.lock), which cannot travel to a trial"),
        (lambda params: 1.0, "a lambda has no source of its own to ship"),
    ):
        with pytest.raises(kubetune.UnshippableFunctionError) as raised:
            kubetune.tune(function, parameters=space, backend="cluster", client=client)
        assert why in str(raised.value)
    assert client.list() == []
    maps = cluster.get("configmaps", "-l", "kubetune.io/study", namespace=namespace)["items"]
    assert maps == []

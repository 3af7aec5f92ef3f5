"""Every example that runs on a cluster, applied as a user would (budget cut to 4 trials, the
Prometheus URLs pointed at the local ones) and played to the end on kwok nodes: CPU trials
land on CPU nodes, GPU trials on GPU nodes with their limit, Prometheus metrics are read."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import ROOT, Cluster, wait_until
from .operator_harness import Operator, Player
from .test_operator import trials_of

pytestmark = pytest.mark.cluster
EXAMPLES = ROOT / "examples"
TRIALS = 4


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    document["spec"]["budget"]["maxTrials"] = TRIALS
    return document


def trainer_args(cluster: Cluster, namespace: str, trial: str) -> list[str]:
    job = cluster.get("job", trial, namespace=namespace)
    trainer = job["spec"]["template"]["spec"]["containers"][0]
    argv = [str(a) for a in trainer["command"] + trainer.get("args", [])]
    # With the sidecar, the trainer runs under a sh wrapper that tees its output.
    return argv[argv.index("kubetune-trainer") + 1 :] if "kubetune-trainer" in argv else argv


def played(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    status = cluster.get("study", name, namespace=namespace)["status"]
    assert status["phase"] == "Succeeded", status
    trials = trials_of(cluster, namespace, name)
    assert len(trials) == TRIALS and all(t["status"]["phase"] == "Succeeded" for t in trials)
    return trials


def nodes_of(cluster: Cluster, namespace: str, name: str) -> set[str]:
    pods = cluster.get("pods", "-l", f"kubetune.io/study={name}", namespace=namespace)["items"]
    return {p["spec"]["nodeName"] for p in pods}


def test_the_cpu_quickstart(cluster: Cluster, namespace: str, operator: Operator) -> None:
    cluster.apply(load("quickstart.yaml"), namespace=namespace)
    seen: dict[str, list[str]] = {}

    def train(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        seen[trial] = trainer_args(cluster, namespace, trial)
        accuracy = 0.9 + 0.001 * float(params["C"]) ** 0.1
        body = {"reports": [{"seq": 1, "metrics": {"accuracy": accuracy}}]}
        assert player.post(pod, body) == 200
        player.finish(pod)

    Player(cluster, namespace, operator, "quickstart").play(train)
    trials = played(cluster, namespace, "quickstart")
    for trial in trials:
        params = trial["spec"]["params"]
        argv = seen[trial["metadata"]["name"]]
        assert "trainers/digits_svc.py" in argv and f"--kernel={params['kernel']}" in argv
    assert all(n.startswith("kwok-cpu-") for n in nodes_of(cluster, namespace, "quickstart"))


def test_the_early_stopping_example(cluster: Cluster, namespace: str, operator: Operator) -> None:
    cluster.apply(load("early-stopping.yaml"), namespace=namespace)
    Player(cluster, namespace, operator, "early-stopping").play(early_stopping_trainer)
    trials = trials_of(cluster, namespace, "early-stopping")
    assert len(trials) == TRIALS
    assert {t["status"]["phase"] for t in trials} <= {"Succeeded", "EarlyStopped"}
    assert all(t["spec"]["budget"] == 27 for t in trials)  # asha: each may train to maxBudget


def early_stopping_trainer(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
    reports = [
        {"seq": epoch, "step": epoch, "metrics": {"accuracy": 0.5 + 0.01 * epoch}}
        for epoch in (1, 2, 3)
    ]
    assert player.post(pod, {"reports": reports}) == 200
    player.finish(pod)


def test_the_gpu_example(cluster: Cluster, namespace: str, operator: Operator) -> None:
    cluster.apply(load("pytorch-gpu.yaml"), namespace=namespace)
    Player(cluster, namespace, operator, "pytorch-gpu").play(early_stopping_trainer)
    trials = trials_of(cluster, namespace, "pytorch-gpu")
    assert len(trials) == TRIALS
    assert all(n.startswith("kwok-gpu-") for n in nodes_of(cluster, namespace, "pytorch-gpu"))
    job = cluster.get("job", "pytorch-gpu-0", namespace=namespace)["spec"]["template"]["spec"]
    assert job["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"


@pytest.fixture
def operator_with_prometheus(
    cluster: Cluster, crds: None, namespace: str, tmp_path: Path, prometheus: dict[str, str]
) -> Iterator[Operator]:
    """An operator installed with a default Prometheus, as the chart's prometheus.url does."""
    running = Operator(
        cluster, namespace, tmp_path, extra_args=("--prometheus-url", prometheus["prometheus"])
    )
    running.start()
    yield running
    running.stop()


def test_the_prometheus_example(
    cluster: Cluster,
    namespace: str,
    operator_with_prometheus: Operator,
    prometheus: dict[str, str],
) -> None:
    """The example's own trainer runs here (the kwok pod stands in for it) with its Job's argv,
    pushing real accuracies to the local Pushgateway; the operator reads them with the
    example's query from its default Prometheus, the local one."""
    operator = operator_with_prometheus
    document = load("prometheus.yaml")
    source = document["spec"]["metrics"]["prometheus"]
    # The Pushgateway outlives test namespaces: label series with the namespace too, in the
    # trainer's --trial and in the query alike.
    query = source["query"]  # series(query, label) below reads what the operator reads
    source["query"] = query.replace("${trial.name}", f"{namespace}.${{trial.name}}")
    container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["args"] = [
        f"--trial={namespace}.${{trial.name}}" if a.startswith("--trial=") else a
        for a in container["args"]
    ]
    cluster.apply(document, namespace=namespace)
    epochs = int(next(a for a in container["args"] if a.startswith("--epochs=")).split("=")[1])

    def train(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        argv = [  # the Job's argv, with the local Pushgateway for the cluster's
            f"--pushgateway={prometheus['pushgateway']}" if a.startswith("--pushgateway=") else a
            for a in trainer_args(cluster, namespace, trial)
        ]
        assert argv[:2] == ["python", "trainers/digits_mlp.py"]
        subprocess.run([sys.executable, *argv[1:]], cwd=EXAMPLES, check=True, timeout=120)
        label = f"{namespace}.{trial}"
        wait_until(
            lambda: len(series(prometheus["prometheus"], query, label)) == epochs,
            30,
            f"Prometheus to scrape {trial}'s {epochs} epochs",
        )
        player.finish(pod)

    Player(cluster, namespace, operator, "prometheus").play(train, timeout=300)
    for trial in played(cluster, namespace, "prometheus"):
        curve = series(prometheus["prometheus"], query, f"{namespace}.{trial['metadata']['name']}")
        assert [r["step"] for r in trial["status"]["reports"]] == sorted(curve)
        assert trial["status"]["objective"] == pytest.approx(curve[epochs])
        assert 0.5 < trial["status"]["objective"] <= 1


def series(prometheus: str, query: str, trial: str) -> dict[int, float]:
    """The query's result for one trial: step -> value."""
    promql = urllib.parse.urlencode({"query": query.replace("${trial.name}", trial)})
    with urllib.request.urlopen(f"{prometheus}/api/v1/query?{promql}", timeout=10) as response:
        result = json.load(response)["data"]["result"]
    return {int(r["metric"]["step"]): float(r["value"][1]) for r in result}

"""Run the operator as a process and play the trials' side, as the sidecar would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kubetune.metrics import wire

from .conftest import Cluster, wait_until

SECRET = "test-collector-secret"
SIDECAR = "kubetune-metrics"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Operator:
    """`kubetune operator` as a subprocess watching one namespace."""

    def __init__(
        self,
        cluster: Cluster,
        namespace: str,
        log_dir: Path,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.extra_args = extra_args
        self.env = env or {}
        self.collector_port = free_port()
        self.metrics_port = free_port()
        self.collector = f"http://127.0.0.1:{self.collector_port}"
        self.log_path = log_dir / "operator.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.cluster.kubeconfig),
            "KUBETUNE_COLLECTOR_SECRET": SECRET,
            **self.env,
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kubetune.cli",
                "operator",
                "--namespace",
                self.namespace,
                "--collector-address",
                f"127.0.0.1:{self.collector_port}",
                "--collector-url",
                self.collector,
                "--metrics-address",
                f"127.0.0.1:{self.metrics_port}",
                *self.extra_args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.starts += 1
        wait_until(self._healthy, 60, "the operator's collector to answer")

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the operator exited:\n{self.log_tail()}")
        try:
            with urllib.request.urlopen(f"{self.collector}/healthz", timeout=2):
                return True
        except OSError:
            return False

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def metric(self, name: str, labels: str = "") -> float:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5
        ) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + labels + " ") or (
                    not labels and line.startswith(name + " ")
                ):
                    return float(line.split()[-1])
        return 0.0


def post_reports(
    collector: str, namespace: str, trial: str, token: str, body: dict[str, Any]
) -> int:
    """Post as the sidecar does: the trial named in the path, `body` as the JSON body."""
    request = urllib.request.Request(
        collector + wire.render_path(namespace, trial),
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def sidecar_token(pod: dict[str, Any]) -> str:
    sidecar = next(c for c in pod["spec"].get("initContainers", []) if c["name"] == SIDECAR)
    return str(next(e["value"] for e in sidecar["env"] if e["name"] == "KUBETUNE_TOKEN"))


Behaviour = Callable[["Player", dict[str, Any], dict[str, Any]], None]


class Player:
    """Plays each running trial pod: reports like a sidecar would, then ends the pod."""

    def __init__(self, cluster: Cluster, namespace: str, operator: Operator, study: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.operator = operator
        self.study = study
        self.done: set[str] = set()

    def running_pods(self) -> Iterator[dict[str, Any]]:
        pods = self.cluster.get(
            "pods", "-l", f"kubetune.io/study={self.study}", namespace=self.namespace
        )
        for pod in pods["items"]:
            if (
                pod.get("status", {}).get("phase") == "Running"
                and pod["metadata"]["name"] not in self.done
            ):
                yield pod

    def params(self, pod: dict[str, Any]) -> dict[str, Any]:
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        result: dict[str, Any] = self.cluster.get("trial", trial, namespace=self.namespace)["spec"][
            "params"
        ]
        return result

    def post(self, pod: dict[str, Any], body: dict[str, Any]) -> int:
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        return post_reports(
            self.operator.collector, self.namespace, trial, sidecar_token(pod), body
        )

    def finish(self, pod: dict[str, Any], code: int = 0) -> None:
        self.cluster.kubectl(
            "annotate",
            "pod",
            pod["metadata"]["name"],
            f"kubetune.io/fake-exit={code}",
            namespace=self.namespace,
            check=False,
        )
        self.done.add(pod["metadata"]["name"])

    def phase(self) -> str:
        status = self.cluster.get("study", self.study, namespace=self.namespace).get("status") or {}
        return str(status.get("phase", ""))

    def play(
        self,
        behaviour: Behaviour,
        timeout: float = 180,
        each_round: Callable[[], None] | None = None,
    ) -> None:
        deadline = time.monotonic() + timeout
        while self.phase() not in ("Succeeded", "Failed"):
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"study {self.study} did not finish in {timeout}s; operator log:\n{self.operator.log_tail()}"
                )
            for pod in list(self.running_pods()):
                behaviour(self, pod, self.params(pod))
            if each_round:
                each_round()
            time.sleep(0.2)  # the harness's own polling cadence, not a wait for a condition


def score(params: dict[str, Any]) -> float:
    return 1 - (float(params["x"]) - 0.3) ** 2


def report_and_finish(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
    status = player.post(
        pod, {"reports": [{"seq": 1, "step": 1, "metrics": {"score": score(params)}}]}
    )
    assert status == 200, status
    player.finish(pod)

"""The real local cluster for tests: brought up once per session (or reused), a fresh
namespace per test, and the tail of every component's log attached to a failing test."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

if TYPE_CHECKING:
    from .operator_harness import Operator

ROOT = Path(__file__).resolve().parents[3]
HACK = ROOT / "hack"


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll until `predicate` returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    bin_dir: Path
    state_dir: Path

    def tool(self, name: str) -> str:
        return str(self.bin_dir / name)

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True, namespace: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        command = [self.tool("kubectl"), "--kubeconfig", str(self.kubeconfig)]
        if namespace:
            command += ["-n", namespace]
        done = subprocess.run(
            [*command, *args], input=stdin, capture_output=True, text=True, timeout=60
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{done.stderr}")
        return done

    def helm(self, *args: str) -> str:
        done = subprocess.run(
            [self.tool("helm"), "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"helm {' '.join(args)} failed:\n{done.stderr}"
        return done.stdout

    def install_chart(self, release: str, namespace: str, *args: str) -> str:
        """`helm upgrade --install` of the repo's chart (charts/kubetune)."""
        chart = str(ROOT / "charts" / "kubetune")
        return self.helm("upgrade", "--install", release, chart, "-n", namespace, *args)

    def get(self, *args: str, namespace: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(
            self.kubectl("get", *args, "-o", "json", namespace=namespace).stdout
        )
        return result

    def apply(self, manifest: dict[str, Any], namespace: str | None = None) -> None:
        self.kubectl("apply", "-f", "-", stdin=json.dumps(manifest), namespace=namespace)

    def log_tails(self, lines: int = 30) -> str:
        parts = []
        for log in sorted((self.state_dir / "logs").glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name} (last {len(tail)} lines)\n" + "\n".join(tail))
        return "\n".join(parts)


def _environment() -> dict[str, str]:
    out = subprocess.run([str(HACK / "env.sh")], capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _found() -> Cluster:
    env = _environment()
    return Cluster(
        Path(env["KUBECONFIG"]), Path(env["KUBETUNE_BIN_DIR"]), Path(env["KUBETUNE_STATE_DIR"])
    )


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    found = _found()
    already_up = (found.state_dir / "pids" / "kube-apiserver.pid").exists()
    # Cold, this builds Kubernetes from the module proxy (~15 min on 2 cores, cached after).
    up = subprocess.run([str(HACK / "cluster-up.sh")], capture_output=True, text=True, timeout=3600)
    if up.returncode != 0:
        pytest.fail(f"make cluster-up failed:\n{up.stdout}\n{up.stderr}\n{found.log_tails()}")
    yield found
    if not already_up and os.environ.get("KUBETUNE_KEEP_CLUSTER") != "1":
        subprocess.run([str(HACK / "cluster-down.sh")], capture_output=True, timeout=120)


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    cluster.kubectl("create", "namespace", name)
    wait_until(
        lambda: (
            cluster.kubectl(
                "get", "serviceaccount", "default", namespace=name, check=False
            ).returncode
            == 0
        ),
        30,
        "the namespace's default service account",
    )
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def crds(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(ROOT / "crds"))
    for name in ("studies.kubetune.io", "trials.kubetune.io"):
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")


@pytest.fixture(scope="session")
def runtime(cluster: Cluster) -> str:
    """The chart's ClusterTrainingRuntime, as `helm install --set trainer.enabled=true` makes it."""
    rendered = cluster.helm(
        "template",
        "kubetune",
        str(ROOT / "charts" / "kubetune"),
        "--set",
        "trainer.enabled=true",
        "--set",
        "trainer.runtime.name=kwok-tests-torch",  # not the name a release of the chart owns
        "--show-only",
        "templates/trainingruntime.yaml",
    )
    (document,) = [d for d in yaml.safe_load_all(rendered) if d]
    cluster.apply(document)
    return str(document["metadata"]["name"])


@pytest.fixture
def operator(cluster: Cluster, crds: None, namespace: str, tmp_path: Path) -> Iterator[Operator]:
    """`kubetune operator` as a process watching the test's namespace; when the test fails,
    the tail of its log is printed with the failure (see the hook below)."""
    from .operator_harness import Operator  # noqa: PLC0415 - it imports this module

    running = Operator(cluster, namespace, tmp_path)
    running.start()
    yield running
    running.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test shows what it ran against: the operator's log and the cluster's."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.failed:
        return
    running = getattr(item, "funcargs", {}).get("operator")
    if running is not None:
        report.sections.append(("operator log (last 200 lines)", running.log_tail(200)))
    if "cluster" in getattr(item, "fixturenames", ()):
        report.sections.append(("cluster component logs", _found().log_tails()))


@pytest.fixture(scope="session")
def prometheus() -> dict[str, str]:
    done = subprocess.run(
        [str(HACK / "prometheus-up.sh")], capture_output=True, text=True, timeout=900
    )
    if done.returncode != 0:
        pytest.fail(f"make prometheus-up failed:\n{done.stdout}\n{done.stderr}")
    return {"prometheus": "http://127.0.0.1:29090", "pushgateway": "http://127.0.0.1:29091"}

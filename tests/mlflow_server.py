"""A real MLflow tracking server for the tests (sqlite store), from hack/mlflow-server.sh's
cached environment, and reads of what it holds through MLflow's own client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MlflowServer:
    """`mlflow server` on 127.0.0.1; stop() and start() again keep its store and port."""

    def __init__(self, folder: Path, host: str = "127.0.0.1") -> None:
        self.folder = folder
        self.host = host
        self.port = _free_port()
        self.command = subprocess.run(
            [str(ROOT / "hack" / "mlflow-server.sh")], capture_output=True, text=True, check=True
        ).stdout.strip()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = (self.folder / "server.log").open("ab")
        store = f"sqlite:///{self.folder / 'mlflow.db'}"
        options = ["--backend-store-uri", store, "--default-artifact-root", str(self.folder)]
        self.process = subprocess.Popen(
            [self.command, "server", "--host", self.host, "--port", str(self.port), *options],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self.healthy, 120, f"mlflow server at {self.uri}")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
            self.process = None

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.uri)

    def runs(self, experiment: str) -> dict[str, Any]:
        """The experiment's runs by name (each name once: a run written twice fails here)."""
        client = self.client()
        found = client.get_experiment_by_name(experiment)
        assert found is not None, f"no MLflow experiment {experiment!r}"
        runs = client.search_runs([found.experiment_id])
        names = sorted(r.info.run_name for r in runs)
        assert len(names) == len(set(names)), f"runs made twice: {names}"
        return {r.info.run_name: r for r in runs}

    def history(self, run: Any, metric: str) -> list[tuple[int, float]]:
        points = self.client().get_metric_history(run.info.run_id, metric)
        return sorted((m.step, m.value) for m in points)

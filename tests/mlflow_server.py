"""A real MLflow tracking server for the tests (sqlite store), from hack/mlflow-server.sh's
cached environment, and reads of what it holds through MLflow's own client."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
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


class Outage:
    """A TCP door in front of a server that a test shuts (connections refused, as from a
    server that is down) and opens again at once: the client sees the server go and come
    back, without the server's own restart time."""

    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.target = target_port
        self.port = _free_port()
        self.listener: socket.socket | None = None
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.up()

    @property
    def uri(self) -> str:
        return f"http://{self.host}:{self.port}"

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        if self.listener is not None:
            self.listener.close()  # new connections are refused from now on
            self.listener = None
        with self.lock:  # and the kept-alive ones end, as a stopped server's would
            for connection in self.open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self.open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # shut
            threading.Thread(target=self._pipe_both, args=(client,), daemon=True).start()

    def _pipe_both(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection((self.host, self.target), timeout=30)
        except OSError:
            client.close()
            return
        with self.lock:
            self.open |= {client, server}
        threading.Thread(target=_pipe, args=(server, client), daemon=True).start()
        _pipe(client, server)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

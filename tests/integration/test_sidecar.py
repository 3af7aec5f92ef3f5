"""The metrics sidecar on its own: a real process's output in, exactly its reports out."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from kubetune.controller.collector import serve_collector
from kubetune.metrics import wire

from conftest import wait_for

TRAINER = """
import sys, time, kubetune
for step in range(1, 31):
    kubetune.report(step=step, accuracy=step / 30, loss=1 - step / 30)
    print(f"epoch {step} done, lr=0.1 noise")
    if step % 10 == 0:
        sys.stdout.flush(); time.sleep(0.3)
sys.stdout.write('kubetune-report {"metrics": {"accuracy": 0.999}, "step": 31}')
sys.stdout.flush()
"""


class Recorder:
    """A collector intake that records every post it accepts for `trial` with `token`."""

    def __init__(self, token: str = "x", namespace: str = "ns", trial: str = "t") -> None:
        self.expected = (token, namespace, trial)
        self.bodies: list[wire.Body] = []
        self.lock = threading.Lock()

    def authorize(self, namespace: str, trial: str, token: str) -> str | None:
        return "uid" if (token, namespace, trial) == self.expected else None

    def record(self, namespace: str, trial: str, uid: str, body: wire.Body) -> tuple[int, str]:
        with self.lock:
            self.bodies.append(body)
        return 200, "ok"

    @property
    def reports(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r.__dict__ for b in self.bodies for r in b.reports]


def test_the_sidecar_forwards_exactly_what_the_process_printed(tmp_path: Path) -> None:
    recorder = Recorder("right-token", "ns", "t-0")
    server = serve_collector("127.0.0.1", 0, recorder)
    output = tmp_path / "output.log"
    env = {
        **os.environ,
        "KUBETUNE_OUTPUT": str(output),
        "KUBETUNE_COLLECTOR_URL": f"http://127.0.0.1:{server.server_address[1]}",
        "KUBETUNE_TOKEN": "right-token",
        "KUBETUNE_NAMESPACE": "ns",
        "KUBETUNE_TRIAL": "t-0",
        "KUBETUNE_METRICS": "accuracy,loss",
        "KUBETUNE_FORMAT": "kubetune",
    }
    sidecar = subprocess.Popen(
        [sys.executable, "-m", "kubetune.cli", "sidecar"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    with output.open("w") as out:  # the trainer's output teed into the shared volume
        trainer = subprocess.run(
            [sys.executable, "-c", TRAINER], stdout=out, stderr=subprocess.STDOUT, timeout=60
        )
    assert trainer.returncode == 0
    wait_for(
        lambda: len(recorder.reports) >= 30,
        30,
        "the first 30 reports while the trainer's pod lives",
    )
    sidecar.send_signal(signal.SIGTERM)  # the kubelet ends the sidecar after the trainer exits
    _, stderr = sidecar.communicate(timeout=30)
    server.shutdown()
    assert sidecar.returncode == 0, stderr
    received = recorder.reports
    steps = [r["step"] for r in received]
    assert steps == list(range(1, 32)), steps  # every report once, the unterminated last one too
    assert [r["seq"] for r in received] == list(range(1, 32))
    assert received[9]["metrics"] == {"accuracy": 10 / 30, "loss": 1 - 10 / 30}
    assert received[-1]["metrics"] == {"accuracy": 0.999}
    assert recorder.bodies[-1].final is True


def test_the_sidecar_reports_a_bad_value_as_an_error(tmp_path: Path) -> None:
    recorder = Recorder()
    server = serve_collector("127.0.0.1", 0, recorder)
    output = tmp_path / "output.log"
    output.write_text('kubetune-report {"metrics": {"accuracy": "NaN"}, "step": 1}\n')
    sidecar = start_sidecar(output, server.server_address[1])
    wait_for(lambda: any(b.error for b in recorder.bodies), 30, "the error to be posted")
    sidecar.send_signal(signal.SIGTERM)
    assert sidecar.wait(timeout=30) == 0
    server.shutdown()
    error = next(b.error for b in recorder.bodies if b.error)
    assert "accuracy" in error and "NaN" in error


def test_the_sidecar_exits_by_itself_once_the_trainer_is_done(tmp_path: Path) -> None:
    """No SIGTERM: the wrapper's exit-code file says all output is written. (A SIGTERM sent
    to a container's PID 1 before it installs its handler is lost, and the kubelet would
    SIGKILL the sidecar after the grace period, dropping the last reports.)"""
    recorder = Recorder()
    server = serve_collector("127.0.0.1", 0, recorder)
    output, code = tmp_path / "output.log", tmp_path / "exit-code"
    output.write_text('kubetune-report {"metrics": {"accuracy": 0.5}, "step": 1}\n')
    sidecar = start_sidecar(output, server.server_address[1], KUBETUNE_EXIT_CODE=str(code))
    wait_for(lambda: len(recorder.reports) == 1, 30, "the first report")
    with output.open("a") as out:  # the last line, printed just before the trainer exits
        out.write('kubetune-report {"metrics": {"accuracy": 0.9}, "step": 2}')
    code.write_text("0\n")
    assert sidecar.wait(timeout=30) == 0
    server.shutdown()
    assert [r["metrics"]["accuracy"] for r in recorder.reports] == [0.5, 0.9]


def start_sidecar(output: Path, port: int, **extra: str) -> subprocess.Popen[bytes]:
    """`kubetune sidecar` for trial ns/t, metric accuracy, posting to 127.0.0.1:port."""
    env = {
        **os.environ,
        "KUBETUNE_OUTPUT": str(output),
        "KUBETUNE_TOKEN": "x",
        "KUBETUNE_NAMESPACE": "ns",
        "KUBETUNE_TRIAL": "t",
        "KUBETUNE_METRICS": "accuracy",
        "KUBETUNE_COLLECTOR_URL": f"http://127.0.0.1:{port}",
        **extra,
    }
    return subprocess.Popen([sys.executable, "-m", "kubetune.cli", "sidecar"], env=env)


def test_the_last_reports_wait_out_a_collector_that_is_down(tmp_path: Path) -> None:
    """The operator's pod restarting as a trial ends: the reports arrive once it is back."""
    down = socket.socket()  # "down": every connection is accepted and dropped at once
    down.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    down.bind(("127.0.0.1", 0))
    down.listen()
    port = down.getsockname()[1]
    attempts = []

    def drop_connections() -> None:
        while True:
            try:
                connection, _ = down.accept()
            except OSError:
                return  # closed: the collector takes the port
            attempts.append(1)
            connection.close()

    dropper = threading.Thread(target=drop_connections, daemon=True)
    dropper.start()
    output = tmp_path / "output.log"
    lines = [
        f'kubetune-report {{"step": {s}, "metrics": {{"accuracy": {s / 10}}}}}' for s in (1, 2)
    ]
    output.write_text("\n".join(lines) + "\n")
    (tmp_path / "exit-code").write_text("0\n")  # the trainer is already done
    sidecar = start_sidecar(output, port)
    recorder = Recorder()

    try:
        # More failed posts than the 5 quick retries the sidecar used to give up after.
        wait_for(lambda: len(attempts) >= 7, 30, "7 refused posts")
        assert sidecar.poll() is None
        down.shutdown(socket.SHUT_RDWR)  # wakes the accept() so the port is really free
        down.close()
        dropper.join(5)
        server = serve_collector("127.0.0.1", port, recorder)
        assert sidecar.wait(timeout=60) == 0
        server.shutdown()
    finally:
        sidecar.kill()
        down.close()
    assert [r["step"] for r in recorder.reports] == [1, 2]

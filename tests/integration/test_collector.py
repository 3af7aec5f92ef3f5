"""The collector under abuse, as a process of its own on a real socket: nothing a client
sends costs it more than bounded memory, threads and time, and every refusal is an answer."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kubetune.controller import collector
from kubetune.metrics import wire

from waiting import wait_for

SERVER = """
import sys, time
from kubetune.controller.collector import serve_collector

class Intake:
    def authorize(self, namespace, trial, token):
        return "uid-1" if token == "good" else None
    def record(self, namespace, trial, uid, body):
        return 200, f"recorded {len(body.reports)}"

server = serve_collector("127.0.0.1", 0, Intake())
print(server.server_address[1], flush=True)
time.sleep(3600)
"""
GOOD = json.dumps({"reports": [{"seq": 1, "step": 1, "metrics": {"acc": 0.5}}]}).encode()


class Collector:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port

    def status(self, field: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=30)

    def post(self, head: bytes, body: bytes = b"") -> tuple[int, str]:
        with self.connect() as sock:
            sock.sendall(head + body)
            return answer(sock)


def answer(sock: socket.socket) -> tuple[int, str]:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["message"]


def request(length: str | None = None, token: str = "good", extra: str = "") -> bytes:
    lines = [f"POST {wire.render_path('ns', 'demo-1')} HTTP/1.1", "Host: x"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.fixture
def server() -> Iterator[Collector]:
    process = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    port = int(process.stdout.readline())
    yield Collector(process, port)
    process.kill()
    process.wait()


def test_a_good_post_is_recorded(server: Collector) -> None:
    assert server.post(request(str(len(GOOD))), GOOD) == (200, "recorded 1")


def test_no_body_is_read_to_its_end_without_a_valid_length(server: Collector) -> None:
    before = server.status("VmRSS")
    with server.connect() as sock:  # a negative length, then 200 MB and a half-close
        sock.sendall(request("-1"))
        head = sock.recv(4096)  # answered at once: it does not wait for a body
        sent = 0
        with contextlib.suppress(OSError):  # the collector closed: sends fail, soon
            for _ in range(200):
                sent += sock.send(b"x" * (1 << 20))
            sock.shutdown(socket.SHUT_WR)
    assert head.split()[1] == b"400" and b"Content-Length" in head
    assert sent < 50 * (1 << 20)
    assert server.status("VmRSS") - before < 10 * 1024  # KiB: nothing of the 200 MB kept
    assert server.post(request("abc"), b"{}")[0] == 400  # answered, not just closed
    too_big = server.post(request(str(wire.MAX_BODY_BYTES + 1)))
    assert too_big[0] == 413
    chunked = server.post(
        request(None, extra="Transfer-Encoding: chunked"), b"5\r\nhello\r\n0\r\n\r\n"
    )
    assert chunked[0] == 411 and "Content-Length" in chunked[1]
    assert server.post(request(None))[0] == 411


def test_the_token_is_checked_before_the_body_is_read(server: Collector) -> None:
    with server.connect() as sock:  # announces a body it never sends
        sock.sendall(request("1000", token="forged"))
        sock.settimeout(2)
        head = sock.recv(4096)
    assert head.split()[1] == b"403"
    assert server.post(request("2", token=""), b"{}")[0] == 401


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"reports": "abc"}', "reports: expected a list"),
        (b'{"reports": [{"step": "abc", "metrics": {"acc": 1}}]}', "reports[0].step"),
        (b"\xff\xfe garbage", "body is not JSON"),
        (b"[]", "expected a JSON object"),
    ],
)
def test_a_malformed_body_gets_a_400_with_a_one_line_reason(
    server: Collector, body: bytes, words: str
) -> None:
    code, message = server.post(request(str(len(body))), body)
    assert code == 400 and words in message and "\n" not in message


def test_clients_that_never_finish_hold_neither_threads_nor_memory_for_long(
    server: Collector,
) -> None:
    idle_threads = server.status("Threads")
    stalled = []
    for i in range(200):  # half announce a body and never send it, half never end the headers
        sock = server.connect()
        sock.sendall(request("100") if i % 2 else request("100")[:40])
        stalled.append(sock)
    wait_for(lambda: server.status("Threads") > idle_threads, 10, "workers to pick them up")
    assert server.status("Threads") <= idle_threads + collector.WORKERS + 2
    started = time.monotonic()
    with ThreadPoolExecutor(20) as pool:  # trials posting meanwhile get through
        codes = list(pool.map(lambda _: server.post(request(str(len(GOOD))), GOOD)[0], range(20)))
    assert codes == [200] * 20
    # The stalled clients hold a worker 2 s (headers) or 5 s (a body announced with a valid
    # token and never sent) each, 64 at a time: the posts wait at most for them to drain.
    assert time.monotonic() - started < 200 * collector.BODY_SECONDS / collector.WORKERS + 10
    closed = [0]

    def drained() -> bool:
        for sock in list(stalled):
            sock.setblocking(False)
            try:
                if sock.recv(4096) == b"":
                    closed[0] += 1
                    stalled.remove(sock)
            except BlockingIOError:
                pass
            except OSError:
                closed[0] += 1
                stalled.remove(sock)
        return not stalled

    wait_for(drained, 30, "the collector to drop every stalled client")
    assert closed[0] == 200


def test_a_thousand_posts_from_a_hundred_clients_at_once_are_all_answered(
    server: Collector,
) -> None:
    codes: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(100)

    def poster() -> None:
        barrier.wait()
        for _ in range(10):
            code = server.post(request(str(len(GOOD))), GOOD)[0]
            with lock:
                codes.append(code)

    threads = [threading.Thread(target=poster) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(codes) == 1000 and set(codes) == {200}

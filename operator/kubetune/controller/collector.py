"""The collector sidecars post reports to: `POST /v1/reports/NAMESPACE/TRIAL` (see `wire`).

It faces every pod of the cluster, so nothing a client sends may cost it more than a bounded
amount of memory, threads or time:
- a fixed pool of worker threads, a bounded number of connections waiting for one (beyond
  that a 503 at once), and a listen backlog fit for hundreds of trials ending together;
- the token is checked from the path and headers, before the body is read;
- the body is read only with a valid `Content-Length` no larger than `MAX_BODY_BYTES`
  (chunked bodies are refused with 411, negative or non-numeric lengths with 400);
- a worker gives a connection 2 s for its headers, 5 s more for an authorized body, 1 s to
  drain a refused one: deadlines enforced by a reaper that shuts the socket (a per-read
  timeout alone lets a client dribble a byte at a time for ever). The time a connection
  waits for a worker does not count, so a burst of clients that never finish delays a
  sidecar's post (it retries) but never fails it;
- every malformed body gets a 400 with a one-line reason, never a 500.
The standard library's HTTP server is enough for small JSON bodies and adds no dependency.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Protocol

from kubetune.metrics import wire

log = logging.getLogger("kubetune.collector")
WORKERS = 64
QUEUED = 256  # accepted connections waiting for a worker; more get a 503 at once
BACKLOG = 1024  # connections the kernel holds before accept (the listen queue)
#: A sidecar's post is a few KiB sent at once: headers and body arrive together.
HEADERS_SECONDS = 2.0
BODY_SECONDS = 5.0
DRAIN_SECONDS = 1.0


class Intake(Protocol):
    """What the collector hands posts to (`controller.intake.ReportIntake` in the operator)."""

    def authorize(self, namespace: str, trial: str, token: str) -> str | None:
        """The Trial uid the token is good for, or None; no I/O."""
        ...

    def record(self, namespace: str, trial: str, uid: str, body: wire.Body) -> tuple[int, str]:
        """(HTTP status, message) for an authorized, well-formed post."""
        ...


class _Reaper:
    """Shuts the socket of any connection past its deadline, waking its blocked read."""

    def __init__(self) -> None:
        self.deadlines: dict[socket.socket, float] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self._run, name="collector-reaper", daemon=True).start()

    def watch(self, connection: socket.socket, seconds: float) -> None:
        """(Re)set the connection's deadline to `seconds` from now."""
        with self.lock:
            self.deadlines[connection] = time.monotonic() + seconds

    def release(self, connection: socket.socket) -> None:
        with self.lock:
            self.deadlines.pop(connection, None)

    def _run(self) -> None:
        while True:
            time.sleep(0.5)
            now = time.monotonic()
            with self.lock:
                late = [c for c, at in self.deadlines.items() if at < now]
                for connection in late:
                    del self.deadlines[connection]
            for connection in late:
                with contextlib.suppress(OSError):  # already closed by its worker
                    connection.shutdown(socket.SHUT_RDWR)


class CollectorServer(HTTPServer):
    """An HTTP server with a bounded worker pool instead of a thread per connection."""

    request_queue_size = BACKLOG
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        intake: Intake,
        on_refused: Callable[[str], None],
        workers: int = WORKERS,
        queued: int = QUEUED,
    ) -> None:
        super().__init__(address, _Handler)
        self.intake = intake
        self.on_refused = on_refused
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="collector")
        self.slots = threading.BoundedSemaphore(workers + queued)
        self.reaper = _Reaper()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.on_refused("busy")
            with contextlib.suppress(OSError):
                request.sendall(_BUSY)
            self.shutdown_request(request)
            return
        self.pool.submit(self._work, request, client_address)

    def _work(self, request: Any, client_address: Any) -> None:
        self.reaper.watch(request, HEADERS_SECONDS)
        try:
            self.finish_request(request, client_address)
        except Exception:  # the collector outlives any one connection
            log.debug("collector connection from %s failed", client_address, exc_info=True)
        finally:
            self.reaper.release(request)
            self.shutdown_request(request)
            self.slots.release()

    def server_close(self) -> None:
        super().server_close()
        self.pool.shutdown(wait=False, cancel_futures=True)


_BUSY_BODY = json.dumps({"message": "collector busy; retry soon"}).encode()
_BUSY = (
    b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    + f"Content-Length: {len(_BUSY_BODY)}\r\n\r\n".encode()
    + _BUSY_BODY
)


class _Handler(BaseHTTPRequestHandler):
    server: CollectorServer
    timeout = BODY_SECONDS  # per read; the reaper bounds each phase
    unread = 0  # body bytes announced and not read yet

    def do_POST(self) -> None:
        named = wire.parse_path(self.path)
        if named is None:
            self._refuse(404, "not-found", f"unknown path; POST {wire.REPORTS_PATH}/NS/TRIAL")
            return
        if not self._body_length():
            return
        namespace, trial = named
        token = self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not token:
            self._refuse(401, "bad-token", "missing bearer token")
            return
        uid = self.server.intake.authorize(namespace, trial, token)
        self.server.reaper.watch(self.connection, BODY_SECONDS if uid else DRAIN_SECONDS)
        if uid is None:
            log.warning("refused reports for %s/%s: bad token", namespace, trial)
            self._refuse(403, "bad-token", "token does not match this trial")
            return
        raw = self.rfile.read(self.unread)
        if len(raw) < self.unread:
            self.close_connection = True  # the client went away or the deadline passed
            return
        self.unread = 0
        try:
            body = wire.parse_body(raw)
        except wire.BadBodyError as error:
            self._refuse(400, "malformed", str(error))
            return
        try:
            code, message = self.server.intake.record(namespace, trial, uid, body)
        except Exception:  # an API outage, say: the sidecar retries a 503
            log.exception("collector failed on %s/%s", namespace, trial)
            code, message = 503, "could not record the reports now; retry"
        self._reply(code, message)

    def _body_length(self) -> bool:
        """Take the announced length, or refuse the post; nothing of the body is read."""
        if self.headers.get("Transfer-Encoding"):
            self._refuse(411, "malformed", "send the body with a Content-Length, not chunked")
            return False
        declared = self.headers.get("Content-Length")
        if declared is None:
            self._refuse(411, "malformed", "Content-Length required")
            return False
        if not declared.strip().isdigit():
            self._refuse(400, "malformed", f"Content-Length: not a byte count: {declared!r:.40}")
            return False
        if int(declared) > wire.MAX_BODY_BYTES:
            self._refuse(413, "too-large", f"body over {wire.MAX_BODY_BYTES} bytes")
            return False
        self.unread = int(declared)
        return True

    def do_GET(self) -> None:
        healthy = self.path == "/healthz"
        self._reply(200 if healthy else 404, "ok" if healthy else "not found")

    def _refuse(self, code: int, reason: str, message: str) -> None:
        self.server.on_refused(reason)
        self._reply(code, message)
        self._discard()

    def _discard(self) -> None:
        """Read and drop a refused post's body (bounded: at most MAX_BODY_BYTES, within the
        deadline), so that closing the socket does not reset the connection before the
        client has read the answer, and it sees a 403 instead of a network error to retry."""
        while self.unread > 0:
            chunk = self.rfile.read(min(self.unread, 65536))
            if not chunk:
                return
            self.unread -= len(chunk)

    def _reply(self, code: int, message: str) -> None:
        body = json.dumps({"message": message}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("collector: " + format, *args)


def serve_collector(
    host: str, port: int, intake: Intake, on_refused: Callable[[str], None] = lambda _: None
) -> CollectorServer:
    """Start the collector in a daemon thread; returns the server (port 0 -> a free one)."""
    server = CollectorServer((host, port), intake, on_refused)
    threading.Thread(target=server.serve_forever, name="collector", daemon=True).start()
    return server

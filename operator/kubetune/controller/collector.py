"""The collector endpoint sidecars post reports to: `POST /v1/reports`.

Body: {"namespace", "trial", "reports": [{"seq", "step", "metrics"}], "error"?, "final"?};
header `Authorization: Bearer <per-trial token>`. The standard library's threading HTTP
server is enough here (small JSON bodies, one sidecar per trial) and adds no dependency.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger("kubetune.collector")
MAX_BODY = 1 << 20

Handler = Callable[[str, str, str, Mapping[str, Any]], tuple[int, str]]


def serve_collector(host: str, port: int, handle: Handler) -> ThreadingHTTPServer:
    """Start the collector in a daemon thread; returns the server (its port may be 0 -> real)."""

    class Reports(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/v1/reports":
                self._reply(404, "unknown path; POST /v1/reports")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._reply(413, "body too large")
                return
            auth = self.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ").strip()
            try:
                payload = json.loads(self.rfile.read(length) or b"{}")
                namespace, trial = str(payload["namespace"]), str(payload["trial"])
            except (ValueError, KeyError, TypeError):
                self._reply(400, "expected JSON with namespace, trial and reports")
                return
            if not token:
                self._reply(401, "missing bearer token")
                return
            try:
                code, message = handle(namespace, trial, token, payload)
            except Exception:  # the collector must outlive any one bad request
                log.exception("collector failed on %s/%s", namespace, trial)
                code, message = 500, "internal error"
            self._reply(code, message)

        def do_GET(self) -> None:
            self._reply(
                200 if self.path == "/healthz" else 404,
                "ok" if self.path == "/healthz" else "not found",
            )

        def _reply(self, code: int, message: str) -> None:
            body = json.dumps({"message": message}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("collector: " + format, *args)

    server = ThreadingHTTPServer((host, port), Reports)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="collector", daemon=True).start()
    return server

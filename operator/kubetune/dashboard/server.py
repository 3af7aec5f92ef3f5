"""The dashboard's HTTP server: the page, its files, and the JSON API the page itself uses.

The standard library's threading HTTP server: a read-only dashboard for one team needs no
framework, and the operator image then carries nothing new but one file of Plotly. It answers GET
(and HEAD) only. The page polls `GET /api/studies/{key}` twice a second with the ETag it last
saw; while the study's revision is unchanged the answer is a bodiless 304, so following a
study costs a stat of its results file (or one cached list of its Trials), not a recompute.

  GET /api/studies                           every study's summary (a list)
  GET /api/studies/{key}                     the study page's data: summary and every plot
  GET /api/studies/{key}/trials[?format=csv|json]   its trials (the table; the exports)
  GET /api/studies/{key}/trials/{trial}      one trial: params, series, stop record, events
  GET /api/studies/{key}/trials/{trial}/logs its logs, as text
  GET /api/status                            errors the sources met (shown above the list)
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from kubetune import __version__
from kubetune.dashboard import assets
from kubetune.dashboard.export import export_csv, export_json
from kubetune.dashboard.sources import Snapshot, SourceError, Sources
from kubetune.dashboard.views import pair_contour, study_view, summary, trial_row, trial_view

#: Where the browser may fetch from: this server only (so a CDN could not sneak in), and
#: `unsafe-eval` for Plotly's WebGL plots (regl compiles its shader wrappers at run time).
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html"}


class _Views:
    """Study pages computed once per revision (a few kept: one per open study is enough).
    A view being computed is computed once: a second asker waits for the first's answer
    (the warm-up and a page's first request often ask for the same one)."""

    def __init__(self, size: int = 16) -> None:
        self._cache: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
        self._building: dict[tuple[str, str, str], threading.Event] = {}
        self._lock = threading.Lock()
        self.size = size

    def get(self, snapshot: Snapshot, kind: str, build: Callable[[], Any]) -> bytes:
        key = (snapshot.key, snapshot.revision, kind)
        while True:
            with self._lock:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    return self._cache[key]
                pending = self._building.get(key)
                if pending is None:
                    self._building[key] = threading.Event()
                    break
            pending.wait()  # then read the cache (or build it, if the builder failed)
        try:
            body = json.dumps(build(), default=float, allow_nan=False).encode()
            with self._lock:
                self._cache[key] = body
                while len(self._cache) > self.size:
                    self._cache.popitem(last=False)
            return body
        finally:
            with self._lock:
                self._building.pop(key).set()


class Dashboard:
    def __init__(self, sources: Sources, clock: Callable[[], float] = time.time) -> None:
        self.sources = sources
        self.clock = clock
        self.views = _Views()

    def study_body(self, snapshot: Snapshot) -> bytes:
        return self.views.get(
            snapshot, "study", lambda: study_view(snapshot.study, snapshot.trials, self.clock())
        )

    def trials_body(self, snapshot: Snapshot) -> bytes:
        return self.views.get(
            snapshot,
            "trials",
            lambda: sorted((trial_row(t) for t in snapshot.trials), key=lambda r: r["index"]),
        )

    def warm(self) -> None:
        """Compute the newest studies' pages before anyone asks: a 10,000-trial study takes
        about a second to aggregate, which would otherwise be the first visitor's wait."""
        try:
            snapshots, _ = self.sources.studies()
        except SourceError:
            return
        newest = sorted(snapshots, key=lambda s: -(summary(s.study, 0.0)["started"] or 0.0))
        for listed in newest[: self.views.size // 2]:
            try:
                snapshot = self.sources.snapshot(listed.key)  # a list's snapshots lack trials
            except SourceError:
                continue
            if snapshot is not None:
                self.study_body(snapshot)
                self.trials_body(snapshot)

    def make_handler(self) -> type[BaseHTTPRequestHandler]:
        dashboard = self

        class Handler(_Handler):
            app = dashboard

        return Handler

    def serve(self, host: str, port: int) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer((host, port), self.make_handler())
        server.daemon_threads = True
        return server


class _Handler(BaseHTTPRequestHandler):
    app: Dashboard
    server_version = f"kubetune-dashboard/{__version__}"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if "--verbose" in sys.argv:
            super().log_message(format, *args)

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.strip("/").split("/") if p]
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            self._route(parts, query)
        except SourceError as error:
            self._json({"error": str(error)}, HTTPStatus.BAD_GATEWAY)
        except assets.MissingAssetError as error:
            self._send(HTTPStatus.NOT_FOUND, f"not found: {error}".encode(), "text/plain")
        except BrokenPipeError:
            pass

    def _route(self, parts: list[str], query: dict[str, str]) -> None:
        if not parts or parts == ["index.html"]:
            self._send(HTTPStatus.OK, assets.read("index.html"), TYPES[".html"])
        elif parts[0] == "static" and len(parts) == 2:
            suffix = parts[1][parts[1].rfind(".") :]
            body = assets.read(parts[1])
            self._send(HTTPStatus.OK, body, TYPES.get(suffix, "application/octet-stream"), 3600)
        elif parts == ["healthz"]:
            self._send(HTTPStatus.OK, b"ok\n", "text/plain")
        elif parts[:1] == ["api"]:
            self._api(parts[1:], query)
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

    def _api(self, parts: list[str], query: dict[str, str]) -> None:
        app = self.app
        if parts == ["status"]:
            _, errors = app.sources.studies()
            self._json({"version": __version__, "errors": errors})
            return
        if parts == ["studies"]:
            found, _ = app.sources.studies()
            now = app.clock()
            self._json(sorted((summary(s.study, now) for s in found), key=_newest_first))
            return
        if len(parts) < 2 or parts[0] != "studies":
            self._json({"error": "no such API path"}, HTTPStatus.NOT_FOUND)
            return
        snapshot = app.sources.snapshot(parts[1])
        if snapshot is None:
            self._json({"error": f"no study {parts[1]!r}"}, HTTPStatus.NOT_FOUND)
            return
        rest = parts[2:]
        etag = f'"{snapshot.revision}"'
        if not rest:
            if self.headers.get("If-None-Match") == etag:
                self._send(HTTPStatus.NOT_MODIFIED, b"", None, etag=etag)
                return
            self._send(HTTPStatus.OK, app.study_body(snapshot), "application/json", etag=etag)
        elif rest == ["trials"]:
            self._trials(snapshot, query.get("format", ""), etag)
        elif len(rest) == 3 and rest[0] == "contour":
            pair = rest[1:]
            body = app.views.get(
                snapshot,
                f"contour:{pair[0]}:{pair[1]}",
                lambda: pair_contour(snapshot.study, snapshot.trials, pair),
            )
            self._send(HTTPStatus.OK, body, "application/json", etag=etag)
        elif len(rest) == 2 and rest[0] == "trials":
            trial = _find(snapshot, rest[1])
            if trial is None:
                self._json({"error": f"no trial {rest[1]!r}"}, HTTPStatus.NOT_FOUND)
                return
            view = trial_view(snapshot.study, trial)
            view["events"] = app.sources.events(snapshot.key, rest[1])
            self._json(view)
        elif len(rest) == 3 and rest[0] == "trials" and rest[2] == "logs":
            if _find(snapshot, rest[1]) is None:
                self._json({"error": f"no trial {rest[1]!r}"}, HTTPStatus.NOT_FOUND)
                return
            # A trial with no logs (not started, its pod gone, a simulated node) is no error.
            text = app.sources.logs(snapshot.key, rest[1]) or "(no logs: no pod yet, or no more)\n"
            self._send(HTTPStatus.OK, text.encode(), "text/plain; charset=utf-8")
        else:
            self._json({"error": "no such API path"}, HTTPStatus.NOT_FOUND)

    def _trials(self, snapshot: Snapshot, form: str, etag: str) -> None:
        name = snapshot.study["metadata"]["name"]
        if form == "csv":
            body = export_csv(snapshot.study, snapshot.trials).encode()
            self._send(HTTPStatus.OK, body, "text/csv; charset=utf-8", download=f"{name}.csv")
        elif form == "json":
            body = export_json(snapshot.study, snapshot.trials, self.app.clock()).encode()
            self._send(HTTPStatus.OK, body, "application/json", download=f"{name}.json")
        else:
            self._send(HTTPStatus.OK, self.app.trials_body(snapshot), "application/json", etag=etag)

    def _json(self, value: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        body = json.dumps(value, default=float).encode()
        self._send(status, body, "application/json")

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        kind: str | None,
        max_age: int = 0,
        etag: str | None = None,
        download: str | None = None,
    ) -> None:
        self.send_response(status)
        for header, value in SECURITY_HEADERS.items():
            self.send_header(header, value)
        if kind:
            self.send_header("Content-Type", kind)
        self.send_header("Cache-Control", f"max-age={max_age}" if max_age else "no-cache")
        if etag:
            self.send_header("ETag", etag)
        if download:
            self.send_header("Content-Disposition", f'attachment; filename="{download}"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _find(snapshot: Snapshot, name: str) -> Any:
    return next((t for t in snapshot.trials if t["metadata"]["name"] == name), None)


def _newest_first(row: dict[str, Any]) -> tuple[float, str]:
    return (-(row["started"] or 0.0), row["key"])

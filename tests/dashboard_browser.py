"""A real `kubetune dashboard` and a real headless Chromium (Debian's, driven by Playwright),
for the dashboard's tests and benchmark. Screenshots go to test-artifacts/dashboard/."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("KUBETUNE_ARTIFACTS", ROOT / "test-artifacts")) / "dashboard"
#: Software WebGL (SwiftShader): the parallel-coordinates and large scatter plots need WebGL,
#: and CI machines have no GPU.
CHROMIUM_ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]


def chromium_path() -> str:
    done = subprocess.run(
        [str(ROOT / "hack" / "browser.sh")], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"hack/browser.sh failed:\n{done.stderr[-2000:]}"
    return done.stdout.strip().splitlines()[-1]


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Watched:
    """A page whose console errors, uncaught exceptions and off-site requests are kept."""

    def __init__(self, browser: Browser, base: str, height: int = 3600) -> None:
        # Plots are drawn as they come into view: the tests' tall window shows them all.
        self.page: Page = browser.new_page(viewport={"width": 1400, "height": height})
        self.base = base.replace(":80/", "/", 1)  # the browser drops http's default port
        self.errors: list[str] = []
        self.offsite: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        self.page.on("request", self._request)

    def _request(self, request: Any) -> None:
        url = request.url
        if not url.startswith((self.base, "data:", "blob:", "file:")):
            self.offsite.append(url)

    def open(self, fragment: str, wait_for: str | None = None) -> Page:
        """Go to a page (a new hash is no navigation: the last page's DOM stays until the
        new one replaces it, so the wait is for something only the new page has)."""
        if wait_for is None:
            kind = "trial" if "/trial/" in fragment else "study"
            wait_for = f"body[data-page={kind}] #plot-{'series' if kind == 'trial' else 'objective'}[data-rendered]"
        self.page.goto(f"{self.base}{fragment}")
        self.page.wait_for_selector(wait_for, timeout=30_000)
        return self.page

    def mark(self, name: str, timeout: float = 60) -> int:
        """Milliseconds from navigation to the page's performance mark `name` (waited for)."""
        self.page.wait_for_function(
            f"performance.getEntriesByName('{name}').length > 0", timeout=timeout * 1000
        )
        return int(self.page.evaluate(f"performance.getEntriesByName('{name}')[0].startTime"))

    def points(self, plot_id: str) -> int:
        """How many points the plot drew, once it has drawn (plots draw as they come into
        view, each in its own turn)."""
        self.page.wait_for_selector(f"#{plot_id}[data-rendered]", timeout=30_000)
        return int(self.page.get_attribute(f"#{plot_id}", "data-points") or -1)

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def clean(self) -> None:
        assert not self.errors, f"the browser console had errors: {self.errors}"
        assert not self.offsite, f"the page fetched from elsewhere: {self.offsite}"


class Server:
    """`kubetune dashboard ARGS --port 0` in a process of its own; `url` once it listens."""

    def __init__(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        command = [sys.executable, "-m", "kubetune.cli", "dashboard", *args, "--port", "0"]
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = ""
        self.output: list[str] = []
        found = threading.Event()

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                match = re.search(r"(http://[\d.]+:\d+/)", line)
                if match and not self.url:
                    self.url = match.group(1)
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        found.wait(60)
        assert self.url, f"the dashboard did not start: {''.join(self.output)}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)

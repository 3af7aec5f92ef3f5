"""The dashboard over a 10,000-trial study: server time per API answer, and time to first
render of the study page in headless Chromium (Debian's, SwiftShader WebGL).

    .venv/bin/python benchmarks/dashboard_bench.py [--trials 10000] [--out FILE]

Writes a results file of a synthetic study (three parameters, ten reports a trial, a third
stopped early by a median rule) with kubetune's own ResultsFile, serves it with `kubetune
dashboard`, and prints a table; the JSON goes to benchmarks/results/dashboard.json.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from kubetune.dashboard.sources import LocalSource
from kubetune.dashboard.views import study_view
from kubetune.engine import NewTrial, StopDecision, TrialState
from kubetune.local import results as results_module
from kubetune.local.results import ResultsFile

from dashboard_browser import Server, Watched, chromium
from factories import manifest


class _NoSync:
    """The `os` module as ResultsFile sees it here, with fsync a no-op."""

    def __getattr__(self, name: str) -> object:
        import os  # noqa: PLC0415

        return (lambda fd: None) if name == "fsync" else getattr(os, name)


#: A study of three parameters under a median rule (the tests' manifest builder).
MANIFEST = manifest(
    objective={"metric": "loss", "goal": "minimize"},
    parameters=[
        {"name": "lr", "type": "float", "min": 1e-5, "max": 1.0, "log": True},
        {"name": "depth", "type": "int", "min": 1, "max": 12},
        {"name": "opt", "type": "categorical", "values": ["adam", "sgd", "rmsprop"]},
    ],
    earlyStopping={"name": "median"},
    budget={"maxTrials": 10000, "parallelism": 8},
)
MANIFEST["metadata"]["name"] = "big"


def write_study(path: Path, trials: int) -> None:
    """Through ResultsFile itself (the file is what `kubetune run` writes), minus the fsync
    after each event: this generates data, and 130,000 fsyncs would take minutes."""
    results_module.os = _NoSync()  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    results = ResultsFile(path)
    now = 1_700_000_000.0
    manifest = json.loads(json.dumps(MANIFEST))
    manifest["spec"]["budget"]["maxTrials"] = trials
    results.write("study", now, manifest=manifest)
    for index in range(trials):
        name = f"big-{index}"
        lr = float(10 ** rng.uniform(-5, 0))
        params = {
            "lr": lr,
            "depth": int(rng.integers(1, 13)),
            "opt": ["adam", "sgd", "rmsprop"][index % 3],
        }
        final = (math.log10(lr) + 2.5) ** 2 + params["depth"] / 10 + rng.normal(0, 0.2)
        if index % 97 == 0:
            final = 1e6  # a diverged trial
        results.created(now, NewTrial(name=name, index=index, params=params, budget=None))
        results.write("started", now, trial=name, attempt=1)
        stopped = index % 3 == 1
        steps = 4 if stopped else 10
        for step in range(1, steps + 1):
            results.write("report", now, trial=name, step=step, metrics={"loss": final * 10 / step})
        if stopped:
            stop = StopDecision(name, 4, final * 2.5, "median", final, "below the median")
            results.finished_trial(now, name, TrialState.EARLY_STOPPED, stop.reason, None, stop)
        else:
            results.finished_trial(now, name, TrialState.SUCCEEDED, None, final)
        now += 1.0
    results.write("study_finished", now, reason="MaxTrialsReached", succeeded=True, message="done")
    results.close()


#: Scroll half a window at a time to the end, two frames apart, as a reader would.
SCROLL_THROUGH = """async () => {
  const frame = () => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
  while (window.scrollY + window.innerHeight < document.body.scrollHeight - 2) {
    window.scrollBy(0, window.innerHeight / 2);
    await frame();
    await frame();
  }
}"""


def seen(watched: Watched) -> dict[str, int]:
    """Milliseconds from navigation: the table shown, the plots in the window sketched,
    Plotly loaded, those plots drawn by Plotly; then the page scrolled to its end and every
    plot sketched, and every plot drawn by Plotly."""
    marks = {name: watched.mark(f"kubetune:{name}") for name in ("table", "visible")}
    marks["plotly"] = watched.mark("kubetune:plotly")
    marks["interactive"] = watched.mark("kubetune:interactive")
    watched.page.evaluate(SCROLL_THROUGH)
    marks["plots"] = watched.mark("kubetune:plots")
    watched.page.wait_for_function(
        "[...document.querySelectorAll('[data-sketched]')].every((d) => d.dataset.rendered)",
        timeout=60_000,
    )
    marks["all_interactive"] = int(watched.page.evaluate("performance.now()"))
    return marks


def timed_get(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(url) as answer:
        body = answer.read()
    return time.perf_counter() - started, len(body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10000)
    parser.add_argument("--out", default="benchmarks/results/dashboard.json")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kubetune-dash-bench-"))
    started = time.perf_counter()
    write_study(folder / "big" / "results.jsonl", args.trials)
    written = time.perf_counter() - started
    size = (folder / "big" / "results.jsonl").stat().st_size
    key = "local%3Abig"
    rows: list[tuple[str, float, int]] = []
    server = Server(str(folder), cwd=folder)
    try:
        for label, path in (
            ("GET /api/studies (first ask)", "api/studies"),
            ("GET /api/studies/{key} (first ask)", f"api/studies/{key}"),
            ("GET /api/studies/{key} (again)", f"api/studies/{key}"),
            ("GET /api/studies/{key}/trials", f"api/studies/{key}/trials"),
            ("GET .../trials?format=csv", f"api/studies/{key}/trials?format=csv"),
        ):
            seconds, length = timed_get(f"{server.url}{path}")
            rows.append((label, seconds, length))
    finally:
        server.stop()
    source = LocalSource([folder])
    snapshot = source.snapshot(source.studies()[0].key)
    assert snapshot is not None
    started = time.perf_counter()
    study_view(snapshot.study, snapshot.trials, time.time())
    rows.append(
        ("aggregating the study page (the warm-up's work)", time.perf_counter() - started, 0)
    )
    renders = []
    with chromium() as browser:
        for _ in range(3):
            # A dashboard just started, a fresh browser at once (its warm-up under way),
            # then a reload: the cache warm, the server's answers computed.
            server = Server(str(folder), cwd=folder)
            try:
                watched = Watched(browser, server.url, height=900)  # a laptop's window
                watched.page.goto(f"{server.url}#/study/{key}")
                cold = seen(watched)
                watched.page.evaluate("window.scrollTo(0, 0)")  # or the reload keeps its place
                watched.page.reload()
                renders.append({"cold": cold, "warm": seen(watched)})
                watched.clean()
                watched.page.close()
            finally:
                server.stop()
    print(
        f"dashboard benchmark: {args.trials} trials, results file {size / 1e6:.1f} MB "
        f"(written in {written:.1f} s); {platform.machine()}, {platform.python_version()}"
    )
    print(f"{'what':48} {'seconds':>8} {'bytes':>10}")
    for label, seconds, length in rows:
        print(f"{label:48} {seconds:8.3f} {length:10d}")
    print(
        "seconds from navigation, 3 runs each (cold: a dashboard just started and a new "
        "browser context; warm: a reload)"
    )
    for label, mark in (
        ("first render: header and trial table", "table"),
        ("the plots in a 1400x900 window sketched", "visible"),
        ("Plotly loaded", "plotly"),
        ("those plots drawn by Plotly (interactive)", "interactive"),
        ("scrolled to the end: every plot sketched", "plots"),
        ("scrolled to the end: every plot drawn by Plotly", "all_interactive"),
    ):
        for cache in ("cold", "warm"):
            values = sorted(r[cache][mark] / 1000 for r in renders)
            text = ", ".join(f"{v:.2f}" for v in values)
            print(f"{'Chromium, ' + cache + ' cache: ' + label:64} {text}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "trials": args.trials,
                "file_bytes": size,
                "api": [{"what": label, "seconds": s, "bytes": n} for label, s, n in rows],
                "chromium_ms_from_navigation": renders,
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`kubetune dashboard`, `export` and `report` over real local studies, in a real Chromium."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Browser

from kubetune.dashboard.importance import MIN_TRIALS

from conftest import events, toy_study
from dashboard_browser import Server, Watched, chromium
from waiting import wait_for

KEY = "local%3Atoy"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubetune.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def asha_study(max_trials: int, sleep: float, parallelism: int = 4) -> dict[str, Any]:
    """The toy trainer (score depends on x only) under ASHA; y is a parameter it ignores."""
    document = toy_study(
        earlyStopping={
            "name": "asha",
            "settings": {"minBudget": 1, "maxBudget": 9, "reductionFactor": 3},
        },
        budget={"maxTrials": max_trials, "parallelism": parallelism},
        args=["--steps=${trial.budget}", f"--sleep={sleep}"],
    )
    document["spec"]["parameters"].append(
        {"name": "y", "type": "float", "min": 0.001, "max": 1.0, "log": True}
    )
    return document


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished local study: 16 trials, some stopped early by ASHA."""
    folder = tmp_path_factory.mktemp("dashboard")
    (folder / "study.yaml").write_text(yaml.safe_dump(asha_study(16, 0.01)))
    done = cli("run", "study.yaml", "--out", "runs/toy", "--no-plot", "--quiet", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture(scope="module")
def server(study_dir: Path) -> Iterator[Server]:
    running = Server("runs", cwd=study_dir)
    yield running
    running.stop()


def recorded(study_dir: Path) -> dict[str, dict[str, Any]]:
    """Each trial's final record, read from the results file itself."""
    trials: dict[str, dict[str, Any]] = {}
    for event in events(study_dir / "runs" / "toy"):
        if event["event"] == "created":
            trials[event["trial"]] = {"reports": 0, **event}
        elif event["event"] == "report":
            trials[event["trial"]]["reports"] += 1
        elif event["event"] == "finished":
            trials[event["trial"]].update(
                state=event["state"], objective=event["objective"], stop=event["stop"]
            )
    return trials


def test_the_api_lists_the_study_as_documented_and_serves_only_reads(
    server: Server, study_dir: Path
) -> None:
    with urllib.request.urlopen(f"{server.url}api/studies") as answer:
        (study,) = json.load(answer)
    trials = recorded(study_dir)
    best = max(
        (t for t in trials.values() if t["state"] == "Succeeded"), key=lambda t: t["objective"]
    )
    assert study["name"] == "toy" and study["namespace"] is None and study["phase"] == "Succeeded"
    assert study["trials"] == 16
    assert study["best"] == {
        "trial": best["trial"],
        "params": best["params"],
        "objective": best["objective"],
    }
    with urllib.request.urlopen(f"{server.url}api/studies/{KEY}/trials") as answer:
        rows = json.load(answer)
    assert [r["name"] for r in rows] == [f"toy-{i}" for i in range(16)]
    assert {r["name"]: r["state"] for r in rows} == {n: t["state"] for n, t in trials.items()}
    request = urllib.request.Request(f"{server.url}api/studies", method="POST", data=b"{}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)
    assert refused.value.code == 501  # GET and HEAD only
    etag = urllib.request.urlopen(f"{server.url}api/studies/{KEY}").headers["ETag"]
    again = urllib.request.Request(
        f"{server.url}api/studies/{KEY}", headers={"If-None-Match": etag}
    )
    with pytest.raises(urllib.error.HTTPError) as unchanged:
        urllib.request.urlopen(again)
    assert unchanged.value.code == 304


def test_every_page_renders_its_plots_with_the_recorded_points(
    browser: Browser, server: Server, study_dir: Path
) -> None:
    trials = recorded(study_dir)
    states = Counter(t["state"] for t in trials.values())
    assert states["EarlyStopped"] >= 3 and states["Succeeded"] >= 3, states
    succeeded = states["Succeeded"]
    watched = Watched(browser, server.url)

    page = watched.open("#/", wait_for="#studies tr[data-key]")
    assert page.locator("#studies tr[data-key]").count() == 1
    page.select_option("#filter-phase", "Succeeded")
    assert page.locator("#studies tr[data-key]").count() == 1
    page.fill("#filter-text", "nothing-like-it")
    assert page.locator("#studies tr[data-key]").count() == 0
    watched.screenshot("local-list")

    page = watched.open(f"#/study/{KEY}")
    page.wait_for_selector("#plot-slice[data-rendered]")
    # One point per trial (each reported; stopped ones at their stop value), plus the star.
    assert watched.points("plot-objective") == 16
    assert page.locator("#plot-objective .scatterlayer .point").count() == 16 + 1
    reports = sum(t["reports"] for t in trials.values())
    assert watched.points("plot-curves") == reports + states["EarlyStopped"]
    assert watched.points("plot-parallel") == succeeded
    assert watched.points("plot-slice") == succeeded
    assert watched.points("plot-contour") > 0
    if succeeded >= MIN_TRIALS:  # how many ASHA let finish depends on the trials' timing
        assert watched.points("plot-importance") == 2
        assert "Method: PED-ANOVA" in page.inner_text("#note-importance")
    else:
        assert "needs at least 8 finished trials" in page.inner_text("#plot-importance")
    best_trial = max(
        (t for t in trials.values() if t["state"] == "Succeeded"), key=lambda t: t["objective"]
    )["trial"]
    assert best_trial in page.inner_text("#best-trial")
    assert "MaxTrialsReached" in page.inner_text("#finished-because")
    watched.screenshot("local-study")

    # Sorting: objective, best first for a maximised metric; then reversed.
    page.click("#trials th[data-col=objective]")
    assert page.locator("#trials tr[data-trial]").first.get_attribute("data-trial") == best_trial
    page.click("#trials th[data-col=objective]")
    first = page.locator("#trials tr[data-trial]").first.get_attribute("data-trial")
    lowest = min(
        (t for t in trials.values() if t["objective"] is not None), key=lambda t: t["objective"]
    )
    assert first == lowest["trial"]
    # Filtering: by state, then by text.
    page.select_option("#trial-state", "EarlyStopped")
    shown = page.locator("#trials tr[data-trial]")
    assert shown.count() == states["EarlyStopped"]
    assert {shown.nth(i).get_attribute("data-state") for i in range(shown.count())} == {
        "EarlyStopped"
    }
    page.select_option("#trial-state", "")
    page.fill("#trial-filter", "toy-1")
    names = page.locator("#trials tr[data-trial]").evaluate_all(
        "rows => rows.map(r => r.dataset.trial)"
    )
    assert sorted(names) == sorted(n for n in trials if n.startswith("toy-1"))

    # The export buttons download what the file says.
    href = page.get_attribute("#export-csv", "href")
    exported = page.request.get(f"{server.url}{href}").text()
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert {r["name"]: r["state"] for r in rows} == {n: t["state"] for n, t in trials.items()}

    stopped = next(t for t in trials.values() if t["state"] == "EarlyStopped")
    page = watched.open(f"#/study/{KEY}/trial/{stopped['trial']}")
    assert page.locator("#params tr").count() == 2
    record = page.inner_text("#stop-record")
    assert "asha" in record and f"{stopped['stop']['threshold']:.5g}"[:5] in record
    assert watched.points("plot-series") == stopped["reports"] * 2  # score and x
    # The threshold it failed is drawn as a line across the plot, named with its rule.
    threshold = page.evaluate(
        "document.getElementById('plot-series').data.find((t) => t.name.startsWith('threshold'))"
    )
    assert threshold["y"] == [stopped["stop"]["threshold"]] * 2 and "asha" in threshold["name"]
    page.wait_for_function("!document.getElementById('logs').textContent.includes('loading')")
    assert f"trial {stopped['trial']} x=" in page.inner_text("#logs")
    reasons = page.locator("#events td:nth-child(3)").all_inner_texts()
    assert reasons[:2] == ["Created", "Started"] and reasons[-1] == "Finished"
    watched.screenshot("local-trial")
    watched.clean()


def test_plots_are_sketched_with_the_same_points_before_and_without_plotly(
    browser: Browser, server: Server, study_dir: Path
) -> None:
    """Plotly is refused: every plot still shows, as the sketch the page draws first, with
    as many points as Plotly draws later, and a sketched point still leads to its trial."""
    trials = recorded(study_dir)
    states = Counter(t["state"] for t in trials.values())
    reports = sum(t["reports"] for t in trials.values())
    watched = Watched(browser, server.url)
    page = watched.page
    page.route("**/plotly-cartesian.min.js", lambda route: route.abort())
    page.goto(f"{watched.base}#/study/{KEY}")
    page.wait_for_selector("#plot-slice[data-sketched]", timeout=30_000)
    page.wait_for_selector("#plotly-missing")

    def sketched(plot_id: str) -> int:
        return int(page.get_attribute(f"#{plot_id}", "data-sketch-points") or -1)

    assert page.locator("[data-rendered]").count() == 0  # none of it is Plotly's
    assert sketched("plot-objective") == 16
    assert page.locator("#plot-objective svg.sketch path[data-trial]").count() == 16 + 1  # star
    assert sketched("plot-curves") == reports + states["EarlyStopped"]
    succeeded = states["Succeeded"]
    assert sketched("plot-parallel") == succeeded * 3  # a vertex per axis: x, y, score
    assert sketched("plot-slice") == succeeded
    # The parallel plot's axis names are in the sketch too.
    assert {"x", "y", "score"} <= set(
        page.locator("#plot-parallel svg.sketch text[font-weight]").evaluate_all(
            "nodes => nodes.map((n) => n.textContent)"
        )
    )
    assert "score per trial" in (page.text_content("#plot-objective svg") or "")
    watched.screenshot("local-study-sketched")
    stopped = next(n for n, t in trials.items() if t["state"] == "EarlyStopped")
    page.click(f"#plot-objective svg.sketch path[data-trial={stopped}]")
    page.wait_for_selector("body[data-page=trial] #stop-record")
    assert page.locator("#plot-series[data-sketched]").count() == 1
    assert all("plotly-cartesian.min.js" in e or "ERR_FAILED" in e for e in watched.errors)
    assert not watched.offsite


def test_a_trial_that_ends_shows_up_in_the_open_page_without_a_reload(
    browser: Browser, tmp_path: Path
) -> None:
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(asha_study(5, 0.25, parallelism=1)))
    run = subprocess.Popen(
        [sys.executable, "-m", "kubetune.cli", "run", "study.yaml", "--out", "runs/toy", "--quiet"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    results = tmp_path / "runs" / "toy" / "results.jsonl"
    wait_for(results.exists, 60, "the run to create its results file")
    server = Server("runs", cwd=tmp_path)  # a PATH that does not exist yet is a usage error
    try:

        def listed() -> bool:
            with urllib.request.urlopen(f"{server.url}api/studies") as answer:
                return bool(json.load(answer))

        wait_for(listed, 60, "the study's first line to be written and listed")
        watched = Watched(browser, server.url)
        page = watched.open(f"#/study/{KEY}")
        page.evaluate(
            """() => { window.kept = true; window.seen = {};
              new MutationObserver(() => {
                for (const row of document.querySelectorAll('#trials tr[data-trial]'))
                  if (row.dataset.state !== 'Running' && row.dataset.state !== 'Pending'
                      && !(row.dataset.trial in window.seen))
                    window.seen[row.dataset.trial] = Date.now() / 1000;
              }).observe(document.getElementById('trial-table'), {subtree: true, childList: true});
            }"""
        )
        assert run.wait(120) == 0, run.stderr
        page.wait_for_function("Object.keys(window.seen).length === 5", timeout=30_000)
        assert page.evaluate("window.kept") is True  # the same page all along: no reload
        finished = {
            e["trial"]: e["time"]
            for e in events(tmp_path / "runs" / "toy")
            if e["event"] == "finished"
        }
        seen = page.evaluate("window.seen")
        lags = sorted(seen[name] - at for name, at in finished.items() if name in seen)
        print(f"trial ended -> shown in the open page: {', '.join(f'{lag:.2f}' for lag in lags)} s")
        assert page.locator("#trials tr[data-state=Succeeded]").count() >= 1
        watched.clean()
    finally:
        run.kill()
        server.stop()


def test_export_and_a_self_contained_report_that_opens_with_no_server(
    browser: Browser, study_dir: Path
) -> None:
    trials = recorded(study_dir)
    done = cli("export", "runs/toy", "-o", "json", cwd=study_dir)
    assert done.returncode == 0, done.stderr
    exported = json.loads(done.stdout)
    assert exported["study"]["name"] == "toy"
    assert {r["name"]: r["objective"] for r in exported["trials"]} == {
        n: t["objective"] for n, t in trials.items()
    }
    done = cli("export", "runs/toy", "-o", "csv", cwd=study_dir)
    header = done.stdout.splitlines()[0].split(",")
    assert header[:6] == ["name", "index", "state", "objective", "param.x", "param.y"]
    assert len(done.stdout.splitlines()) == 17

    out = study_dir / "toy.html"
    done = cli("report", "runs/toy", "--file", str(out), cwd=study_dir)
    assert done.returncode == 0, done.stderr
    html = out.read_text()
    assert "http://" not in html.split("window.KUBETUNE_REPORT")[1][:2000]
    assert '<script src="' not in html and '<link rel="stylesheet" href' not in html
    watched = Watched(browser, out.as_uri())
    page = watched.open("")
    page.wait_for_selector("#plot-slice[data-rendered]")
    assert watched.points("plot-objective") == 16
    assert page.locator("#trials tr[data-trial]").count() == 16
    stopped = next(n for n, t in trials.items() if t["state"] == "EarlyStopped")
    page.click(f"#trials tr[data-trial={stopped}] a")
    page.wait_for_selector("#stop-record")
    assert "asha" in page.inner_text("#stop-record")
    watched.screenshot("report-trial")
    watched.clean()
    assert not [r for r in watched.offsite if not r.startswith("file:")]


def test_sigterm_ends_the_dashboard_at_once_and_cleanly(study_dir: Path) -> None:
    """In a pod the dashboard is PID 1, which ignores a SIGTERM it does not handle."""
    running = Server("runs", cwd=study_dir)
    running.process.send_signal(signal.SIGTERM)
    assert running.process.wait(10) == 0


def test_bad_input_gets_a_clear_error(tmp_path: Path) -> None:
    done = cli("dashboard", "no/such/folder", cwd=tmp_path)
    assert done.returncode == 2 and "no/such/folder: no such results folder" in done.stderr
    done = cli("export", "no/such/folder", cwd=tmp_path)
    assert done.returncode == 2 and "no such results folder" in done.stderr
    (tmp_path / "empty").mkdir()
    done = cli("report", "empty", cwd=tmp_path)
    assert done.returncode == 2 and "holds no results.jsonl" in done.stderr


def test_a_study_with_several_objectives_shows_its_front_apart_from_infeasible_trials(
    browser: Browser, tmp_path: Path
) -> None:
    document = toy_study(
        "pair",
        objective=None,
        objectives=[{"metric": "score", "goal": "maximize"}, {"metric": "x", "goal": "minimize"}],
        constraints=[{"metric": "cost", "max": 5.0}],
        algorithm={"name": "grid"},
        budget={"maxTrials": 20, "parallelism": 2},
        args=["--cost"],
    )
    document["spec"]["parameters"] = [
        {"name": "x", "type": "float", "min": 0.0, "max": 1.0, "step": 0.1}
    ]
    (tmp_path / "pair.yaml").write_text(yaml.safe_dump(document))
    done = cli("run", "pair.yaml", "--out", "runs/pair", "--no-plot", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    running = Server("runs", cwd=tmp_path)
    try:
        view = json.loads(urllib.request.urlopen(f"{running.url}/api/studies/local%3Apair").read())
        pareto = view["pareto"]
        assert len(pareto["points"]["feasible"]["x"]) == 6  # x = 0 .. 0.5
        assert len(pareto["points"]["infeasible"]["x"]) == 5  # cost 10 x > 5
        assert pareto["front"]["x"] == [1.0, 0.99, 0.96, 0.91]  # score, best first
        watched = Watched(browser, running.url)
        page = watched.open("#/study/local%3Apair")
        page.wait_for_selector("#plot-pareto[data-rendered]")
        assert watched.points("plot-pareto") == 11 + 4  # every trial, then the front again
        assert page.inner_text("#front").startswith("4 trials: pair-")
        watched.screenshot("local-pareto")
    finally:
        running.stop()

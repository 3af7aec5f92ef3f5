"""A pbt study's lineage in the dashboard, in a real Chromium: one line per member against
the line's steps, and each exploit (a member continuing another's checkpoint) marked with
what became of its parameters; the same records the results file holds."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_pbt_local import pbt_study

from dashboard_browser import Server, Watched, chromium


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lineage")
    (folder / "pbt.yaml").write_text(yaml.safe_dump(pbt_study("lineage", 16)))
    done = subprocess.run(
        [sys.executable, "-m", "kubetune.cli", "run", "pbt.yaml", "--no-plot", "--quiet"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture(scope="module")
def server(runs: Path) -> Iterator[Server]:
    running = Server("kubetune-runs", cwd=runs)
    yield running
    running.stop()


def created(runs: Path) -> dict[str, dict[str, Any]]:
    lines = (runs / "kubetune-runs" / "lineage" / "results.jsonl").read_text().splitlines()
    return {e["trial"]: e for e in map(json.loads, lines) if e["event"] == "created"}


def test_the_lineage_plot_draws_every_member_and_marks_each_exploit(
    runs: Path, server: Server
) -> None:
    with urllib.request.urlopen(f"{server.url}api/studies/local%3Alineage") as answer:
        view = json.load(answer)["lineage"]
    made = created(runs)
    exploits = sorted(
        name
        for name, e in made.items()
        if e["parent"] is not None and made[e["parent"]]["member"] != e["member"]
    )
    assert exploits, "seed 7 has weak members copy strong ones"
    assert view["population"] == 4 and view["segments"] == 16
    assert [m["member"] for m in view["members"]] == [0, 1, 2, 3]
    assert sorted(t for t in view["jumps"]["trial"][::3]) == exploits
    for member in view["members"]:
        steps = [x for x in member["x"] if x is not None]
        last = max(
            (e for e in made.values() if e["member"] == member["member"]), key=lambda e: e["index"]
        )
        assert max(steps) == 2 * (last["generation"] + 1), "up to its last segment's end"

    with chromium() as browser:
        watched = Watched(browser, server.url)
        page = watched.open("#/study/local%3Alineage")
        page.locator("#plot-lineage").scroll_into_view_if_needed()
        assert watched.points("plot-lineage") > 0
        names = page.evaluate("document.getElementById('plot-lineage').data.map((t) => t.name)")
        assert names == ["member 0", "member 1", "member 2", "member 3", "exploit"]
        note = page.inner_text("#note-lineage")
        assert note.startswith(f"4 members, 16 segments, {len(exploits)} exploits"), note
        page_shot = watched.screenshot("lineage")
        # The card alone, as docs/assets/dashboard-lineage.png shows it.
        card = page.locator("#plot-lineage").locator("xpath=..")
        card.screenshot(path=str(page_shot.with_name("lineage-card.png")))
        watched.clean()

"""`kubetune report`: one self-contained HTML file with the dashboard's study page.

The file carries the page's own script and style, Plotly's JavaScript, and the API answers
the page would have fetched (the study's data, its trial table, each trial's page but its
logs, the exports), so it opens from disk, with no server and no network, after the cluster
objects are gone. About 1.5 MB of it is Plotly.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from kubetune.dashboard import assets
from kubetune.dashboard.export import export_csv, export_json
from kubetune.dashboard.sources import Snapshot
from kubetune.dashboard.views import pair_contour, study_view, summary, trial_row, trial_view

#: A report keeps the contours of every pair of this many parameters (the first in the space):
#: 8 parameters are 28 pairs (each computed once, about 0.1 s at 10,000 trials, and kept both
#: ways round), each a few kilobytes.
CONTOUR_PARAMETERS = 8


def _path(key: str, *rest: str) -> str:
    return "/".join(["api", "studies", quote(key, safe=""), *(quote(r, safe="") for r in rest)])


def responses(snapshot: Snapshot, now: float) -> dict[str, Any]:
    study, trials = snapshot.study, snapshot.trials
    rows = sorted((trial_row(t) for t in trials), key=lambda r: r["index"])
    kept: dict[str, Any] = {
        "api/studies": [summary(study, now)],
        _path(snapshot.key): study_view(study, trials, now),
        _path(snapshot.key, "trials"): rows,
        _path(snapshot.key, "trials") + "?format=csv": export_csv(study, trials),
        _path(snapshot.key, "trials") + "?format=json": export_json(study, trials, now),
    }
    names = [p["name"] for p in study["spec"]["parameters"]][:CONTOUR_PARAMETERS]
    for i, first in enumerate(names):  # every pair the page's pickers offer, both ways round
        for second in names[i + 1 :]:
            contour = pair_contour(study, trials, (first, second))
            kept[_path(snapshot.key, "contour", first, second)] = contour
            kept[_path(snapshot.key, "contour", second, first)] = _swapped(contour)
    for trial in trials:
        view = trial_view(study, trial)
        view["events"] = []
        kept[_path(snapshot.key, "trials", trial["metadata"]["name"])] = view
    return kept


def _swapped(contour: dict[str, Any] | None) -> dict[str, Any] | None:
    """The same contour with its axes exchanged (the grid transposed)."""
    if contour is None:
        return None
    points = contour["points"]
    return {
        **contour,
        "x": contour["y"],
        "y": contour["x"],
        "z": [list(column) for column in zip(*contour["z"], strict=True)],
        "points": {"x": points["y"], "y": points["x"], "trial": points["trial"]},
    }


def _script(text: str) -> str:
    """Text that cannot end the <script> element it sits in (in JavaScript's strings and
    regular expressions, the only places these can occur, `<\\/` means `</`)."""
    return re.sub(
        r"</(script)|<!--",
        lambda m: f"<\\/{m.group(1)}" if m.group(1) else "<\\!--",
        text,
        flags=re.IGNORECASE,
    )


def render_report(snapshot: Snapshot, now: float) -> str:
    data = {"study": snapshot.key, "responses": responses(snapshot, now)}
    page = assets.read("index.html").decode()
    inline = {
        '<link rel="stylesheet" href="static/app.css">': "<style>"
        + assets.read("app.css").decode()
        + "</style>",
        '<script src="static/sketch.js"></script>': "<script>"
        + _script(assets.read(assets.PLOTLY).decode())
        + "</script>\n<script>window.KUBETUNE_REPORT = "
        + json.dumps(data, default=float, allow_nan=False).replace("<", "\\u003c")
        + ";</script>\n<script>"
        + _script(assets.read("sketch.js").decode())
        + "</script>",
        '<script src="static/app.js"></script>': "<script>"
        + _script(assets.read("app.js").decode())
        + "</script>",
    }
    for tag, replacement in inline.items():
        assert tag in page, tag
        page = page.replace(tag, replacement)
    title = f"<title>kubetune report: {snapshot.key}</title>"
    return page.replace("<title>kubetune</title>", title)

"""A study's trials as CSV or JSON: `kubetune export`, the page's download buttons, the report.

One row per trial (the table's row: `views.trial_row`); in CSV every parameter is a column of
its own, named `param.NAME`, so a spreadsheet or pandas reads it with no unpacking.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from kubetune.dashboard.views import summary, trial_row

FIELDS = ("name", "index", "state", "objective", "reason", "reports", "lastStep", "seconds")


def export_json(study: Mapping[str, Any], trials: Sequence[Mapping[str, Any]], now: float) -> str:
    rows = sorted((trial_row(t) for t in trials), key=lambda r: r["index"])
    return json.dumps({"study": summary(study, now), "trials": rows}, indent=1, default=float)


def export_csv(study: Mapping[str, Any], trials: Sequence[Mapping[str, Any]]) -> str:
    names = [p["name"] for p in study["spec"]["parameters"]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*FIELDS[:4], *(f"param.{n}" for n in names), *FIELDS[4:]])
    for row in sorted((trial_row(t) for t in trials), key=lambda r: r["index"]):
        values = [row[f] for f in FIELDS]
        params = [row["params"].get(n) for n in names]
        writer.writerow(["" if v is None else v for v in (*values[:4], *params, *values[4:])])
    return out.getvalue()

"""Read a trial's metrics from Prometheus' HTTP API (`spec.metrics.prometheus`).

`parse_vector` is pure (a query response in, reports out); `fetch_reports` does the HTTP GET.
A sample's `step` label gives its step. Every value is recorded as the study's objective
metric, whatever the series is called in Prometheus: the query is the mapping.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from kubetune.engine.history import Report
from kubetune.metrics.lines import BadValue, parse_number


def render_query(template: str, trial: str) -> str:
    return template.replace("${trial.name}", trial)


def parse_vector(response: Mapping[str, Any], default_metric: str) -> list[Report | BadValue]:
    if response.get("status") != "success":
        raise ValueError(f"Prometheus query failed: {response.get('error', response)}")
    data = response.get("data") or {}
    if data.get("resultType") != "vector":
        raise ValueError(f"expected an instant vector, got {data.get('resultType')}")
    reports: list[Report | BadValue] = []
    for sample in data.get("result", []):
        labels = sample.get("metric") or {}
        name = default_metric
        value = parse_number(name, sample["value"][1])
        if isinstance(value, BadValue):
            reports.append(value)
            continue
        step = labels.get("step")
        reports.append(
            Report(int(step) if step is not None and step.isdigit() else None, {name: value})
        )
    return sorted(reports, key=lambda r: (isinstance(r, BadValue), getattr(r, "step", None) or 0))


def fetch_reports(
    url: str, query: str, default_metric: str, timeout: float = 5.0
) -> list[Report | BadValue]:
    target = url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(target, timeout=timeout) as response:
        return parse_vector(json.load(response), default_metric)

"""The CRDs in crds/ are generated from the models: stale files, or a valid manifest the API
server would refuse, fail here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetune.api import load_study
from kubetune.api.crd import render_crds
from kubetune.cli.serving import render_yaml

from factories import manifest
from schema_check import api_server_problems

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def _schema(name: str) -> dict[str, Any]:
    crd = render_crds()[name]
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@pytest.mark.parametrize("folder", ["crds", "charts/kubetune/crds"])
@pytest.mark.parametrize("name", sorted(render_crds()))
def test_crds_on_disk_match_the_models(folder: str, name: str) -> None:
    on_disk = (ROOT / folder / name).read_text()
    assert on_disk == render_yaml(render_crds()[name]), f"{folder}/{name} is stale: run `make crds`"


def _walk(node: Any, path: str, problems: list[str]) -> None:
    if not isinstance(node, dict):
        return
    if "properties" in node and "additionalProperties" in node:
        problems.append(f"{path}: properties and additionalProperties together")
    untyped_ok = node.get("x-kubernetes-preserve-unknown-fields") or node.get(
        "x-kubernetes-int-or-string"
    )
    if "type" not in node and not untyped_ok:
        problems.append(f"{path}: no type")
    for key in ("$ref", "anyOf", "allOf", "oneOf", "const", "title"):
        if key in node:
            problems.append(f"{path}: {key} is not structural")
    for key, child in node.get("properties", {}).items():
        _walk(child, f"{path}.{key}", problems)
    if isinstance(node.get("items"), dict):
        _walk(node["items"], f"{path}[]", problems)
    if isinstance(node.get("additionalProperties"), dict):
        _walk(node["additionalProperties"], f"{path}{{}}", problems)


@pytest.mark.parametrize("name", sorted(render_crds()))
def test_schemas_are_structural(name: str) -> None:
    problems: list[str] = []
    _walk(_schema(name), "", problems)
    assert problems == []


def test_printer_columns_show_phase_best_and_progress() -> None:
    columns = render_crds()["kubetune.io_studies.yaml"]["spec"]["versions"][0][
        "additionalPrinterColumns"
    ]
    assert [c["name"] for c in columns][:3] == ["Phase", "Best", "Trials"]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_is_accepted_by_the_models_and_the_crd(path: Path) -> None:
    document = yaml.safe_load(path.read_text())
    load_study(document)
    assert api_server_problems(document, _schema("kubetune.io_studies.yaml")) == []


def test_a_full_featured_manifest_is_accepted_by_the_crd() -> None:
    full = manifest(
        algorithm={
            "name": "bayesian",
            "seed": 3,
            "settings": {"nInitialPoints": 6, "acquisition": "lcb"},
        },
        earlyStopping={
            "name": "hyperband",
            "settings": {"minBudget": 1, "maxBudget": 27, "budgetParameter": "layers"},
        },
        budget={"maxTrials": 50, "parallelism": 4, "maxFailedTrials": 2, "timeout": "1h30m"},
        metrics={"format": "regex", "regex": r"(?P<name>\w+)=(?P<value>\S+)"},
        resources={"gpus": 2, "gpuType": "NVIDIA-H100"},
    )
    full["spec"]["objective"]["target"] = 0.99
    full["spec"]["objective"]["additionalMetrics"] = ["loss"]
    load_study(full)
    assert api_server_problems(full, _schema("kubetune.io_studies.yaml")) == []

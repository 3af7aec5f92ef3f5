"""The docs' field reference is rendered from the models: every field of the CRDs is in it."""

from __future__ import annotations

from typing import Any

from kubetune.api.crd import render_crds
from kubetune.api.reference import KINDS, render_reference


def fields(schema: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    items = schema.get("items") if schema.get("type") == "array" else None
    if items is not None:
        return fields(items)
    for name, child in (schema.get("properties") or {}).items():
        found.add(name)
        found |= fields(child)
    return found


def test_every_field_of_study_and_trial_is_in_the_reference() -> None:
    for kind, file in KINDS.items():
        text = render_reference(kind)
        root = render_crds()[file]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for part in ("spec", "status"):
            missing = {f for f in fields(root["properties"][part]) if f"| `{f}` |" not in text}
            assert not missing, (kind, part, missing)
    study = render_reference("Study")
    assert "### `spec.budget`" in study and "| `maxTrials` | integer | `20` |" in study

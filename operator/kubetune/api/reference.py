"""The docs' field reference, rendered from the CRDs that `crd.py` generates from the pydantic
models: the reference cannot drift from what the API server and `kubetune validate` enforce.

One table per object (a field's path, its type, default and bounds, its description); nested
objects get tables of their own below, in the order their fields appear.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubetune.api.crd import render_crds

KINDS = {"Study": "kubetune.io_studies.yaml", "Trial": "kubetune.io_trials.yaml"}


def _type(schema: dict[str, Any]) -> str:
    choices = schema.get("anyOf") or schema.get("oneOf")
    if choices:
        return " or ".join(sorted({_type(s) for s in choices}))
    if schema.get("x-kubernetes-int-or-string"):
        return "integer or string"
    kind = str(schema.get("type", "object"))
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema:
        return f"map of {_type(schema['additionalProperties'])}"
    return kind


def _bounds(schema: dict[str, Any]) -> str:
    notes = []
    if "enum" in schema:
        notes.append("one of " + ", ".join(f"`{v}`" for v in schema["enum"]))
    for key, word in (("minimum", "at least"), ("maximum", "at most")):
        if key in schema:
            notes.append(f"{word} {schema[key]}")
    for key, word in (("minItems", "at least"), ("maxItems", "at most")):
        if key in schema:
            notes.append(f"{word} {schema[key]} item{'s' if schema[key] != 1 else ''}")
    if "maxLength" in schema:
        notes.append(f"at most {schema['maxLength']} characters")
    if "pattern" in schema:
        notes.append(f"matches `{schema['pattern']}`")
    return "; ".join(notes)


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _objects(path: str, schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object with properties under `schema`, itself first (lists' items included)."""
    if schema.get("type") == "array":
        yield from _objects(f"{path}[]", schema.get("items", {}))
        return
    properties = schema.get("properties")
    if not properties:
        return
    yield path, schema
    for name, child in properties.items():
        yield from _objects(f"{path}.{name}", child)


def _table(path: str, schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", ()))
    rows = [f"{'##' if '.' not in path else '###'} `{path}`", ""]
    if schema.get("description"):
        rows += [_cell(schema["description"]), ""]
    rows += ["| field | type | default | bounds | description |", "|---|---|---|---|---|"]
    for name, child in schema["properties"].items():
        default = f"`{child['default']}`" if "default" in child else ""
        if name in required:
            default = "required"
        rows.append(
            f"| `{name}` | {_type(child)} | {_cell(default)} | {_cell(_bounds(child))} | "
            f"{_cell(child.get('description', ''))} |"
        )
    return [*rows, ""]


def render_reference(kind: str) -> str:
    """The markdown reference of `kind`'s spec and status."""
    crd = render_crds()[KINDS[kind]]
    root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    lines: list[str] = []
    for part in ("spec", "status"):
        if part not in root:
            continue
        for path, schema in _objects(part, root[part]):
            lines += _table(path, schema)
    return "\n".join(lines)

"""Render the CustomResourceDefinitions in `crds/` from the pydantic models: one source of truth.

Pure: returns dicts, writes nothing (the CLI writes them; a test fails when `crds/` is stale).
pydantic emits JSON Schema 2020-12; the API server wants a *structural* OpenAPI v3 schema, so
references are inlined, optional unions collapsed, open objects marked
`x-kubernetes-preserve-unknown-fields`, and per-algorithm `settings` rendered as the union of
the settings models with a CEL rule per field naming the algorithms that accept it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from kubetune.api.algorithms import SAMPLERS, STOPPING_RULES, ChosenSampler, ChosenStopping
from kubetune.api.base import cel
from kubetune.api.study import GROUP, VERSION, Study, StudySpec, StudyStatus
from kubetune.api.trial import TrialSpec, TrialStatus

Schema = dict[str, Any]
_DROP = {"title", "$defs", "discriminator"}


def _inline(node: Any, defs: dict[str, Schema]) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = _inline(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**target, **_inline(rest, defs)}
    return {k: _inline(v, defs) for k, v in node.items() if k not in _DROP}


def _structural(node: Any) -> Any:
    """Rewrite one inlined JSON Schema node into the API server's structural dialect."""
    if isinstance(node, list):
        return [_structural(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "anyOf" in node:
        branches = [b for b in node.pop("anyOf") if b.get("type") != "null"]
        if len(branches) == 1:
            node = {**branches[0], **node}
        else:
            node.setdefault("x-kubernetes-preserve-unknown-fields", True)
    if "const" in node:
        node["enum"] = [node.pop("const")]
        node.setdefault("type", "string")
    if "exclusiveMinimum" in node:
        node["minimum"] = node.pop("exclusiveMinimum")
        node["exclusiveMinimum"] = True
    if node.get("additionalProperties") is True:
        del node["additionalProperties"]
        node["x-kubernetes-preserve-unknown-fields"] = True
    elif node.get("additionalProperties") is False:
        del node["additionalProperties"]  # structural schemas prune unknown fields instead
    default = node.get("default")
    if default is None or isinstance(default, dict | list):
        node.pop("default", None)
    return {k: _structural(v) for k, v in node.items()}


def render_schema(model: type[BaseModel]) -> Schema:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    result: Schema = _structural(_inline(raw, raw.get("$defs", {})))
    return result


def _settings_schema(
    registry: Mapping[str, type[BaseModel]], default_name: str
) -> tuple[Schema, list[dict[str, str]]]:
    """The union of every algorithm's settings, plus rules tying each field to its algorithms."""
    properties: Schema = {}
    owners: dict[str, list[str]] = {}
    rules: list[dict[str, str]] = []
    for name, model in registry.items():
        schema = render_schema(model)
        for field, field_schema in schema.get("properties", {}).items():
            # No defaults here: the server would write one algorithm's defaults into another's
            # settings. The operator applies them from the model of the chosen algorithm.
            properties.setdefault(field, {k: v for k, v in field_schema.items() if k != "default"})
            owners.setdefault(field, []).append(name)
        for required in schema.get("required", []):
            rules.append(
                cel(
                    f"(has(self.name) ? self.name : '{default_name}') != '{name}' || "
                    f"(has(self.settings) && has(self.settings.{required}))",
                    f"settings.{required} is required for {name}",
                    ".settings",
                )
            )
    for field, names in owners.items():
        allowed = ", ".join(f"'{n}'" for n in names)
        rules.append(
            cel(
                f"!has(self.settings) || !has(self.settings.{field}) || "
                f"(has(self.name) ? self.name : '{default_name}') in [{allowed}]",
                f"settings.{field} applies only to {' or '.join(names)}",
                ".settings",
            )
        )
    settings = {
        "type": "object",
        "description": "Settings of the chosen algorithm; see the README for each one.",
        "properties": properties,
    }
    return settings, rules


def render_study_schema() -> Schema:
    spec = render_schema(StudySpec)
    for registry, shared in ((SAMPLERS, ChosenSampler), (STOPPING_RULES, ChosenStopping)):
        # One object for the whole union: the fields every member shares, `name` as an enum,
        # and `settings` as the union of the members' settings (structural schemas have no
        # oneOf of objects, and `kubectl explain` reads one object better anyway).
        node = render_schema(shared)
        node.pop("required", None)
        node["description"] = spec["properties"][registry.field].get("description", "")
        node["properties"]["name"] = {
            "default": registry.default,
            "description": registry.description,
            "enum": registry.names,
            "type": "string",
        }
        settings, rules = _settings_schema(registry.settings, registry.default)
        node["properties"]["settings"] = settings
        node["x-kubernetes-validations"] = [*registry.rules, *rules]
        spec["properties"][registry.field] = node
    study_rules = Study.model_json_schema()["x-kubernetes-validations"]
    return {
        "type": "object",
        "required": ["spec"],
        "x-kubernetes-validations": study_rules,
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": render_schema(StudyStatus),
        },
    }


def render_trial_schema() -> Schema:
    return {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": render_schema(TrialSpec),
            "status": render_schema(TrialStatus),
        },
    }


def _crd(kind: str, plural: str, short: str, schema: Schema, columns: list[Schema]) -> Schema:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": [short],
                "categories": ["kubetune"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                }
            ],
        },
    }


def _column(name: str, path: str, kind: str = "string", priority: int = 0) -> Schema:
    column: Schema = {"name": name, "type": kind, "jsonPath": path}
    if priority:
        column["priority"] = priority
    return column


def render_crds() -> dict[str, Schema]:
    """File name -> CRD manifest, for `crds/`."""
    study_columns = [
        _column("Phase", ".status.phase"),
        _column("Best", ".status.bestTrial.objective", "number"),
        _column("Trials", ".status.progress"),
        _column("Running", ".status.trials.running", "integer"),
        _column("Queued", ".status.trials.queued", "integer"),
        # the best trial's own metric: `.spec.objective` is empty with several objectives, and
        # a printer column takes one plain JSONPath (no fallback to `.spec.objectives[0]`)
        _column("Metric", ".status.bestTrial.metric"),
        _column("Front", ".status.paretoFrontSize", "integer", priority=1),
        _column("Algorithm", ".status.algorithm.name", priority=1),
        _column("Reason", ".status.finishedBecause", priority=1),
        _column("Age", ".metadata.creationTimestamp", "date"),
    ]
    trial_columns = [
        _column("Study", ".spec.study"),
        _column("Phase", ".status.phase"),
        _column("Objective", ".status.objective", "number"),
        _column("Params", ".spec.params"),
        _column("Reason", ".status.reason", priority=1),
        # pbt: the member whose line this segment trains, and whose checkpoint it continues
        _column("Member", ".status.member", "integer", priority=1),
        _column("Parent", ".status.parent", priority=1),
        _column("Age", ".metadata.creationTimestamp", "date"),
    ]
    return {
        "kubetune.io_studies.yaml": _crd(
            "Study", "studies", "study", render_study_schema(), study_columns
        ),
        "kubetune.io_trials.yaml": _crd(
            "Trial", "trials", "trial", render_trial_schema(), trial_columns
        ),
    }

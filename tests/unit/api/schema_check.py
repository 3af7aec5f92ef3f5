"""What the API server would say about a manifest, short of running one: the generated CRD's
structural schema (types, required, enum, pattern, bounds, unknown fields) and its CEL rules,
evaluated with cel-python. Issue 3's real API server supersedes this; until then it keeps the
CRD and the pydantic models honest with each other.
"""

from __future__ import annotations

import re
from typing import Any

import celpy

Schema = dict[str, Any]
_ENV = celpy.Environment()


def _numbers_as_doubles(value: Any, schema: Schema) -> Any:
    """The API server hands CEL a double for every `type: number`, and applies defaults."""
    kind = schema.get("type")
    if kind == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind == "object" and isinstance(value, dict):
        props = schema.get("properties", {})
        result = {k: _numbers_as_doubles(v, props.get(k, {})) for k, v in value.items()}
        for key, prop in props.items():
            if key not in result and "default" in prop:
                result[key] = prop["default"]
        return result
    if kind == "array" and isinstance(value, list):
        return [_numbers_as_doubles(v, schema.get("items", {})) for v in value]
    return value


def _structural(value: Any, schema: Schema, path: str, problems: list[str]) -> None:
    if schema.get("x-kubernetes-preserve-unknown-fields") and "type" not in schema:
        return
    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, bool) or not isinstance(value, int | str):
            problems.append(f"{path}: must be an integer or a string")
        return
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int}
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{path}: must be a number")
            return
    elif kind in types and (
        not isinstance(value, types[kind]) or (kind == "integer" and isinstance(value, bool))
    ):
        problems.append(f"{path}: must be of type {kind}")
        return
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: Unsupported value: {value!r}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        problems.append(f"{path}: must match {schema['pattern']}")
    if "minimum" in schema and isinstance(value, int | float):
        low = schema["minimum"]
        if value < low or (schema.get("exclusiveMinimum") and value == low):
            problems.append(
                f"{path}: must be greater than {'' if schema.get('exclusiveMinimum') else 'or equal to '}{low}"
            )
    if "maximum" in schema and isinstance(value, int | float) and value > schema["maximum"]:
        problems.append(f"{path}: must be less than or equal to {schema['maximum']}")
    if isinstance(value, list | str):
        if ("minItems" in schema and len(value) < schema["minItems"]) or (
            "minLength" in schema and len(value) < schema["minLength"]
        ):
            problems.append(f"{path}: too short")
        if ("maxItems" in schema and len(value) > schema["maxItems"]) or (
            "maxLength" in schema and len(value) > schema["maxLength"]
        ):
            problems.append(f"{path}: too long")
    if kind == "object" and isinstance(value, dict):
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            problems.append(f"{path}: must have at most {schema['maxProperties']} items")
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            problems.append(f"{path}: must have at least {schema['minProperties']} items")
        props = schema.get("properties", {})
        for required in schema.get("required", []):
            if required not in value:
                problems.append(f"{path}.{required}: Required value")
        for key, item in value.items():
            if path == "" and key == "metadata":
                continue  # ObjectMeta is the API server's own, not the CRD schema's
            if key in props:
                _structural(item, props[key], f"{path}.{key}", problems)
            elif "additionalProperties" in schema:
                _structural(item, schema["additionalProperties"], f"{path}.{key}", problems)
            elif not schema.get("x-kubernetes-preserve-unknown-fields"):
                problems.append(f"{path}.{key}: unknown field")
    if kind == "array" and isinstance(value, list):
        if schema.get("x-kubernetes-list-type") == "set":
            seen: set[tuple[str, Any]] = set()
            for index, item in enumerate(value):
                key = (type(item).__name__, repr(item))
                if key in seen:
                    problems.append(f"{path}[{index}]: Duplicate value: {item!r}")
                seen.add(key)
        for index, item in enumerate(value):
            _structural(item, schema.get("items", {}), f"{path}[{index}]", problems)


def _rules(value: Any, schema: Schema, path: str, problems: list[str]) -> None:
    for rule in schema.get("x-kubernetes-validations", []):
        if "oldSelf" in rule["rule"]:
            continue  # transition rules run on updates only; tests/integration covers them
        program = _ENV.program(_ENV.compile(rule["rule"]))
        result = program.evaluate({"self": celpy.json_to_cel(value)})
        if isinstance(result, celpy.CELEvalError):
            problems.append(f"{path}: rule error {result}")
        elif not bool(result):
            problems.append(f"{path}{rule.get('fieldPath', '')}: {rule['message']}")
    if isinstance(value, dict):
        for key, item in value.items():
            sub = schema.get("properties", {}).get(key)
            if sub:
                _rules(item, sub, f"{path}.{key}" if path else key, problems)
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _rules(item, schema["items"], f"{path}[{index}]", problems)


def api_server_problems(manifest: dict[str, Any], schema: Schema) -> list[str]:
    problems: list[str] = []
    _structural(manifest, schema, "", problems)
    if problems:
        return [p.lstrip(".") for p in problems]
    _rules(_numbers_as_doubles(manifest, schema), schema, "", problems)
    return problems

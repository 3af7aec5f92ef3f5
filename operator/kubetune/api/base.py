"""The one pydantic base every manifest model shares: frozen, camelCase, unknown fields refused.

Refusing unknown fields is what turns a typo (`maxTrial:`) into an error naming the field
instead of a silently ignored setting.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    """A manifest object: immutable, written in camelCase, strict about unknown fields."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        use_attribute_docstrings=False,
        # YAML's .inf and .nan: no JSON (so no API server) carries them, and no bound,
        # target or budget means anything as one.
        allow_inf_nan=False,
        # No coercion: `maxTrials: true` or `"5"` is a mistake to name, not a 1 or a 5 (the
        # API server's schema refuses both too).
        strict=True,
    )


class OpenModel(BaseModel):
    """A Kubernetes object we read a few fields of and pass the rest through untouched."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)


def cel(rule: str, message: str, field_path: str | None = None) -> dict[str, Any]:
    """One `x-kubernetes-validations` entry: the API server's copy of a cross-field check."""
    entry: dict[str, Any] = {"rule": rule, "message": message}
    if field_path:
        entry["fieldPath"] = field_path
    return entry

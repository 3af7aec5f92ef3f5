"""How validation problems are named for users: `spec.parameters[2].min: must be > 0 ...`.

pydantic reports a location tuple and a message; users think in manifest paths. This module
turns one into the other and lets cross-field validators name the exact field they blame
(a model validator otherwise reports the whole object). No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import ValidationError


class FieldError(ValueError):
    """A validator's complaint about one field (relative to the model being validated)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __reduce__(self) -> tuple[type[FieldError], tuple[str, str]]:
        # Exceptions pickle their `args` (the joined text) by default, which this __init__
        # cannot take back; worker processes (the benchmark's pool) pickle them.
        return (type(self), (self.field, self.message))


class InvalidStudyError(ValueError):
    """A manifest that cannot run; `problems` holds one `path: message` line per fault."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("invalid Study:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = list(problems)

    def __reduce__(self) -> tuple[type[InvalidStudyError], tuple[list[str]]]:
        return (type(self), (self.problems,))


#: The error type of a `name` no registered algorithm has (api/algorithms.py).
UNKNOWN_NAME = "unknown_name"


def union_tag(name: str) -> str:
    """The tag of one member of a union discriminated on `name`: pydantic puts it in an
    error's location, and `render_path` leaves it out (the manifest has no such field)."""
    return f"tagged-union[{name}]"


def render_path(loc: Iterable[str | int], root: str = "") -> str:
    """`("spec", "parameters", 2, "min")` -> `spec.parameters[2].min`."""
    path = root
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith(("function-", "tagged-union[")):
            continue  # pydantic's internal validator frames are not manifest fields
        else:
            path = f"{path}.{part}" if path else part
    return path


_FRIENDLY = {
    "extra_forbidden": "unknown field; check its spelling (fields are camelCase)",
    "missing": "required field is missing",
}


def render_problems(error: ValidationError, root: str = "") -> list[str]:
    """One line per pydantic error, with the field path first and the fix after it."""
    lines: list[str] = []
    for item in error.errors():
        path = render_path(item["loc"], root)
        ctx = item.get("ctx") or {}
        cause = ctx.get("error")
        if isinstance(cause, FieldError):
            path = f"{path}.{cause.field}" if path else cause.field
            message = cause.message
        elif item["type"] == UNKNOWN_NAME:
            path = f"{path}.name" if path else "name"
            message = str(item["msg"])
        elif item["type"] in _FRIENDLY:
            message = _FRIENDLY[item["type"]]
        else:
            message = str(item["msg"]).removeprefix("Value error, ")
            if item["type"] == "literal_error" and "expected" in ctx:
                message = f"must be one of {ctx['expected']}"
        lines.append(f"{path}: {message}")
    return lines

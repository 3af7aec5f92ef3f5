"""The converted Study as YAML, with what changed said as comments above it.

The comments are the conversion's notes, one per Katib field, so that a reviewer reads what
kubetune does differently before applying the Study; the YAML below them is plain (kubectl
and `kubetune validate` read it as any other).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

import yaml


def render_study(study: dict[str, Any], notes: Sequence[str], source: str) -> str:
    lines = [f"# Converted by `kubetune convert` from the Katib Experiment in {source}."]
    if notes:
        lines.append("# What changed:")
        for note in notes:
            wrapped = textwrap.wrap(note, 96, initial_indent="# - ", subsequent_indent="#   ")
            lines += wrapped
    else:
        lines.append("# Nothing changed in meaning.")
    body = yaml.safe_dump(study, sort_keys=False, width=100, allow_unicode=True)
    return "\n".join(lines) + "\n" + body

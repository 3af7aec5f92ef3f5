"""MkDocs hook: the field reference pages are rendered from the API models at build time
(`kubetune.api.reference`), where a page holds the `<!-- fields: KIND -->` marker."""

from __future__ import annotations

import re
from typing import Any

from kubetune.api.reference import render_reference

MARKER = re.compile(r"<!-- fields: (Study|Trial) -->")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    return MARKER.sub(lambda found: render_reference(found.group(1)), markdown)

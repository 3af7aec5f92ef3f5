"""The page's files, all served by kubetune itself, so nothing is fetched from a CDN
(air-gapped clusters are common): our own script, sketcher and style, and Plotly's JavaScript.

Plotly is plotly.js's "cartesian" distribution (every trace the page draws), copied into
static/ by hack/vendor-plotly.sh at a pinned version and checksum (MIT licensed; its notice
heads the file). The full bundle in the plotly wheel is 4.8 MB to its 1.5 MB and took three
times as long to parse, which was most of the time a page took to open in a fresh browser.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"
PLOTLY = "plotly-cartesian.min.js"


class MissingAssetError(LookupError):
    pass


def read(name: str) -> bytes:
    path = STATIC / name
    if path.parent != STATIC or not path.is_file():
        raise MissingAssetError(name)
    return path.read_bytes()

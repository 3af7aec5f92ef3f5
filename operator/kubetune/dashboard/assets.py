"""The page's files: our own script and style, and Plotly's JavaScript from the `plotly`
package on PyPI (it ships plotly.min.js), so that nothing is fetched from a CDN: air-gapped
clusters are common. `plotly` is only a data dependency: it is located, never imported."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

STATIC = Path(__file__).parent / "static"
PLOTLY_HINT = "pip install 'kubetune[dashboard]' (it brings the plotly package, for plotly.min.js)"


class MissingAssetError(LookupError):
    pass


@cache
def plotly_js_path() -> Path:
    spec = importlib.util.find_spec("plotly")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "package_data" / "plotly.min.js"
        if path.is_file():
            return path
    raise MissingAssetError(f"plotly.min.js not found; {PLOTLY_HINT}")


def read(name: str) -> bytes:
    if name == "plotly.min.js":
        return plotly_js_path().read_bytes()
    path = STATIC / name
    if path.parent != STATIC or not path.is_file():
        raise MissingAssetError(name)
    return path.read_bytes()

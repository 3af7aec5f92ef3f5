"""Screenshots of examples/notebooks/digits.ipynb as a rendered notebook shows it, for the docs.

Executes the notebook (local backend) in a Jupyter kernel, renders it to HTML with nbconvert
(the progress bar is an ipywidgets widget, drawn by @jupyter-widgets/html-manager, fetched from
npm once into ~/.cache/kubetune/npm: nothing from a CDN), and photographs the `tune` cell (the
progress bar) and the DataFrame cell with Debian's chromium:

    .venv/bin/pip install nbconvert && .venv/bin/python hack/notebook-screenshots.py

writes docs/assets/notebook-progress.png and docs/assets/notebook-dataframe.png.
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
NPM = Path.home() / ".cache" / "kubetune" / "npm"
PACKAGES = {"html-manager": "@jupyter-widgets/html-manager@1.0.15", "requirejs": "requirejs@2.3.8"}
sys.path.insert(0, str(ROOT / "tests"))


def unpacked(name: str, spec: str) -> Path:
    folder = NPM / name
    if not (folder / "package").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        packed = subprocess.run(
            ["npm", "pack", spec, "--silent"],
            cwd=folder,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()[-1]
        with tarfile.open(folder / packed) as archive:
            archive.extractall(folder, filter="data")
    return folder / "package"


def main() -> None:
    from dashboard_browser import chromium  # noqa: PLC0415 - tests/ is on the path above

    work = Path(tempfile.mkdtemp(prefix="kubetune-notebook-"))
    notebook = nbformat.read(ROOT / "examples" / "notebooks" / "digits.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(work)}},
        store_widget_state=True,
    ).execute()
    exporter = HTMLExporter()
    manager = unpacked("html-manager", PACKAGES["html-manager"])
    exporter.widget_renderer_url = (manager / "dist" / "embed-amd.js").as_uri()
    exporter.require_js_url = (unpacked("requirejs", PACKAGES["requirejs"]) / "require.js").as_uri()
    html, _ = exporter.from_notebook_node(notebook)
    page_file = work / "digits.html"
    page_file.write_text(html)
    assets = ROOT / "docs" / "assets"
    code_cells = range(len(notebook.cells))
    tune_cell = next(i for i in code_cells if "kubetune.tune(" in notebook.cells[i].source)
    frame_cell = next(i for i in code_cells if ".dataframe()" in notebook.cells[i].source)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(page_file.as_uri())
        page.locator(".widget-hprogress").wait_for(timeout=30_000)
        cells = page.locator(".jp-Cell")
        cells.nth(tune_cell).screenshot(path=str(assets / "notebook-progress.png"))
        cells.nth(frame_cell).screenshot(path=str(assets / "notebook-dataframe.png"))
    print(f"wrote {assets}/notebook-progress.png and notebook-dataframe.png (page: {page_file})")


if __name__ == "__main__":
    main()

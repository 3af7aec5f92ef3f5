"""examples/notebooks/digits.ipynb executed end to end in a real Jupyter kernel (nbclient), with
the local backend: the function's trials run as processes, the progress bar is a widget, the
result comes back as a DataFrame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "notebooks" / "digits.ipynb"

pytestmark = pytest.mark.slow


def outputs(cell: Any, kind: str, output_type: str | None = None) -> list[Any]:
    return [
        o["data"][kind]
        for o in cell.get("outputs", [])
        if kind in o.get("data", {}) and output_type in (None, o["output_type"])
    ]


def test_the_digits_notebook_runs_with_the_local_backend(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    (parameters,) = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    parameters.source = 'BACKEND = "local"\nNAMESPACE = None\nPOD = None\nMAX_TRIALS = 8'
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},  # the kernel's working folder
        store_widget_state=True,
    ).execute()
    errors = [
        o for c in notebook.cells for o in c.get("outputs", []) if o["output_type"] == "error"
    ]
    assert errors == []

    code = [c for c in notebook.cells if c.cell_type == "code"]
    tune_cell, best_cell, frame_cell = code[2], code[3], code[4]
    (said,) = outputs(tune_cell, "text/plain", "execute_result")
    assert said.startswith(
        "StudyResult('digits-svc', local kubetune-runs/digits-svc, Succeeded, 8 trials"
    )
    params, value = eval(
        outputs(best_cell, "text/plain", "execute_result")[0]
    )  # a tuple's repr: dict and float
    assert set(params) == {"C", "gamma", "kernel"} and 0.9 < value <= 1.0
    (table,) = outputs(frame_cell, "text/html")
    assert "<table" in table and "params_C" in table and table.count("Succeeded") == 8
    assert (tmp_path / "kubetune-runs" / "digits-svc" / "results.jsonl").is_file()

    # The progress bar is ipywidgets' (tqdm.auto in a kernel), and it reached 8 of 8.
    assert outputs(tune_cell, "application/vnd.jupyter.widget-view+json")
    models = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    bars = [m["state"] for m in models.values() if m["model_name"] == "FloatProgressModel"]
    assert [(b["value"], b["max"]) for b in bars] == [(8.0, 8.0)]
    texts = [
        m["state"]["value"].replace("\u2007", " ")
        for m in models.values()
        if m["model_name"] == "HTMLModel"
    ]
    assert any("8/8" in t and "best accuracy=" in t for t in texts), texts
    nbformat.write(notebook, tmp_path / "digits.executed.ipynb")

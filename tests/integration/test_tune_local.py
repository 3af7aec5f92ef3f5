"""`kubetune.tune(fn, backend="local")` outside a notebook: packages installed once for every
trial, a function that fails some trials, and the same suggestions as `kubetune run` of the
Study it becomes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import kubetune
from kubetune import search


def writes_toml(params: dict[str, Any]) -> float:
    import tomli_w  # noqa: PLC0415 - installed by packages=, not in the test's environment

    text = tomli_w.dumps({"x": params["x"]})
    return float(text.split("=")[1])


def test_packages_are_installed_once_and_imported_by_every_trial(tmp_path: Path) -> None:
    with pytest.raises(ImportError):
        import tomli_w  # noqa: F401, PLC0415
    result = kubetune.tune(
        writes_toml,
        parameters={"x": search.float(0.0, 1.0)},
        objective="x",
        max_trials=3,
        parallelism=3,
        packages=["tomli-w==1.2.0"],
        out=tmp_path / "out",
        progress=False,
    )
    assert result.phase == "Succeeded", result.status
    assert [t.objective for t in result.trials] == [t.params["x"] for t in result.trials]
    folder = tmp_path / "out" / "function" / "packages"
    assert (folder / "tomli_w").is_dir() and (folder / ".kubetune-installed").is_file()
    assert "tomli_w" not in sys.modules, "the notebook's own process was changed"


def flaky(params: dict[str, Any]) -> float:
    if params["kind"] == "bad":
        raise RuntimeError(f"diverged with x={params['x']:.3f}")
    return params["x"]


def test_a_failing_call_fails_its_trial_and_the_study_says_why(tmp_path: Path) -> None:
    space = {"x": search.float(0.0, 1.0), "kind": search.categorical(["good", "bad"])}
    result = kubetune.tune(
        flaky, parameters=space, objective="x", max_trials=8, seed=3, out=tmp_path, progress=False
    )
    failed = [t for t in result.trials if t.state == "Failed"]
    assert failed and all(t.params["kind"] == "bad" for t in failed)
    log = (tmp_path / "trials" / f"{failed[0].name}.log").read_text()
    assert "RuntimeError: diverged with x=" in log
    assert all(t.state == "Succeeded" for t in result.trials if t.params["kind"] == "good")


def test_the_study_it_runs_is_a_study_kubetune_run_runs_the_same_way(tmp_path: Path) -> None:
    space = {"x": search.float(0.0, 1.0), "kind": search.categorical(["good", "bad"])}
    first = kubetune.tune(
        flaky, parameters=space, objective="x", max_trials=4, out=tmp_path / "a", progress=False
    )
    events = [json.loads(line) for line in (tmp_path / "a" / "results.jsonl").open()]
    manifest = next(e["manifest"] for e in events if e["event"] == "study")
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(manifest))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "kubetune.cli",
            "run",
            str(tmp_path / "study.yaml"),
            "--out",
            str(tmp_path / "b"),
            "--no-plot",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode in (0, 1), run.stderr
    again = [json.loads(line) for line in (tmp_path / "b" / "results.jsonl").open()]
    created = [e["params"] for e in again if e["event"] == "created"]
    assert created == [t.params for t in first.trials]


def two_losses(params: dict[str, Any]) -> dict[str, float]:
    return {"a": params["x"] ** 2, "b": (params["x"] - 1) ** 2}


def test_several_objectives_come_back_as_a_front(tmp_path: Path) -> None:
    result = kubetune.tune(
        two_losses,
        parameters={"x": search.float(-0.5, 1.5)},
        objective=[{"metric": "a", "goal": "minimize"}, {"metric": "b", "goal": "minimize"}],
        max_trials=8,
        out=tmp_path,
        progress=False,
    )
    front = result.pareto
    losses = {t.name: (t.values["a"], t.values["b"]) for t in result.trials}

    def dominated(name: str) -> bool:
        mine = losses[name]
        return any(o != mine and o[0] <= mine[0] and o[1] <= mine[1] for o in losses.values())

    assert sorted(m.name for m in front) == sorted(n for n in losses if not dominated(n))
    assert len(front) >= 2
    for member in front:
        x = member.params["x"]
        assert member.objectives == pytest.approx({"a": x**2, "b": (x - 1) ** 2})
    frame = result.dataframe()
    assert {"a", "b", "params_x"} <= set(frame.columns)

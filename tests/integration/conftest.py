"""Helpers for running `kubetune run` for real: a subprocess, real trial processes, files."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from factories import manifest
from mlflow_server import MlflowServer
from waiting import wait_for

__all__ = ["wait_for"]

TRAINER = Path(__file__).parent / "trainers" / "toy.py"


def toy_study(name: str = "toy", args: list[str] | None = None, **spec: Any) -> dict[str, Any]:
    """A Study whose trials run trainers/toy.py with --x from the search space."""
    sections: dict[str, Any] = {
        "objective": {"metric": "score", "goal": "maximize", "additionalMetrics": ["x", "device"]},
        "parameters": [{"name": "x", "type": "float", "min": 0.0, "max": 1.0}],
        "algorithm": {"name": "random", "seed": 3},
    }
    document = manifest(**{**sections, **spec})
    document["metadata"]["name"] = name
    container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["command"] = ["python", str(TRAINER), "--x=${trial.params.x}"]
    container["args"] = args or []
    return document


def events(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


class Kubetune:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    def write(self, document: dict[str, Any], name: str = "study.yaml") -> Path:
        path = self.tmp_path / name
        path.write_text(yaml.safe_dump(document))
        return path

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "kubetune.cli", *args]

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args), capture_output=True, text=True, timeout=timeout, cwd=self.tmp_path
        )

    def run_json(self, *args: str) -> tuple[int, dict[str, Any], str]:
        done = self.run(*args, "--output", "json")
        try:
            summary = json.loads(done.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"no JSON summary; stderr:\n{done.stderr}") from None
        return done.returncode, summary, done.stderr


@pytest.fixture
def kubetune(tmp_path: Path) -> Kubetune:
    return Kubetune(tmp_path)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One real MLflow server for every tracking test, local and on the cluster (each test
    logs to experiments of its own; a test that stops it starts it again)."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow"))
    server.start()
    yield server
    server.stop()

"""`kubetune export --tensorboard DIR`: read back with TensorBoard's own reader, and served by a
real `tensorboard` whose HParams dashboard lists every trial with its parameters and metrics."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import metadata, plugin_data_pb2
from tensorboard.util import tensor_util

from conftest import Kubetune, events, toy_study, wait_for

PARAMETERS = [
    {"name": "x", "type": "float", "min": 0.0, "max": 1.0},
    {"name": "depth", "type": "int", "min": 1, "max": 4},
    {"name": "kind", "type": "categorical", "values": ["a", "b"]},
]


def hparams_content(folder: Path) -> plugin_data_pb2.HParamsPluginData:
    reader = EventAccumulator(str(folder))
    reader.Reload()
    found = reader.PluginTagToContent(metadata.PLUGIN_NAME)
    (content,) = [c for tag, c in found.items() if tag != metadata.SESSION_END_INFO_TAG]
    return plugin_data_pb2.HParamsPluginData.FromString(content)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """One study run and exported for both tests."""
    folder = tmp_path_factory.mktemp("hparams")
    kubetune = Kubetune(folder)
    document = toy_study(parameters=PARAMETERS, args=["--steps=3"])
    document["spec"]["budget"] = {"maxTrials": 4, "parallelism": 2}
    assert kubetune.run("run", str(kubetune.write(document)), "--out", "out").returncode == 0
    done = kubetune.run("export", "out", "--tensorboard", "tb")
    assert done.returncode == 0, done.stderr
    assert "wrote 4 trials of toy to tb" in done.stderr
    return folder / "tb", events(folder / "out")


def test_the_export_reads_back_with_tensorboards_reader(
    exported: tuple[Path, list[dict[str, Any]]],
) -> None:
    folder, log = exported
    experiment = hparams_content(folder).experiment
    assert [h.name for h in experiment.hparam_infos] == ["x", "depth", "kind"]
    x, depth, kind = experiment.hparam_infos
    assert (x.domain_interval.min_value, x.domain_interval.max_value) == (0.0, 1.0)
    assert (depth.domain_interval.min_value, depth.domain_interval.max_value) == (1, 4)
    assert [v.string_value for v in kind.domain_discrete.values] == ["a", "b"]
    assert [m.name.tag for m in experiment.metric_infos] == ["score", "x", "device"]
    created = {e["trial"]: e for e in log if e["event"] == "created"}
    for trial, made in created.items():
        start = hparams_content(folder / trial).session_start_info
        assert start.group_name == trial
        assert start.hparams["x"].number_value == made["params"]["x"]
        assert start.hparams["depth"].number_value == made["params"]["depth"]
        assert start.hparams["kind"].string_value == made["params"]["kind"]
        reader = EventAccumulator(str(folder / trial))
        reader.Reload()
        written = [
            (t.step, float(tensor_util.make_ndarray(t.tensor_proto)))
            for t in reader.Tensors("score")
        ]
        reported = [
            (e["step"], e["metrics"]["score"])
            for e in log
            if e["event"] == "report" and e["trial"] == trial
        ]
        assert written == reported and len(written) == 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_a_real_tensorboard_shows_the_study_in_its_hparams_dashboard(
    exported: tuple[Path, list[dict[str, Any]]],
) -> None:
    folder, log = exported
    port = free_port()
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(folder)]
    board = subprocess.Popen(
        [*command, "--port", str(port), "--host", "127.0.0.1", "--load_fast=false"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/data/plugin/hparams"
    query = {
        "experimentName": "",
        "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE"],
        "colParams": [],
        "startIndex": 0,
        "sliceSize": 100,
    }

    def groups() -> list[dict[str, Any]]:
        try:
            found: list[dict[str, Any]] = post(f"{base}/session_groups", query)["sessionGroups"]
        except (OSError, urllib.error.URLError, KeyError):
            return []
        return found if len(found) == 4 else []

    try:
        wait_for(groups, 60, "tensorboard to serve the 4 trials' sessions")
        experiment = post(f"{base}/experiment", {"experimentName": ""})
        assert sorted(h["name"] for h in experiment["hparamInfos"]) == ["depth", "kind", "x"]
        finished = {e["trial"]: e for e in log if e["event"] == "finished"}
        for group in groups():
            trial = finished[group["name"]]
            score = {m["name"]["tag"]: m["value"] for m in group["metricValues"]}["score"]
            assert score == pytest.approx(trial["objective"], rel=1e-6)
            (session,) = group["sessions"]
            assert session["status"] == "STATUS_SUCCESS" and session["endTimeSecs"] > 0
    finally:
        board.terminate()
        board.wait(timeout=30)

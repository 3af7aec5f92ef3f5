"""A metrics file followed as the trainer appends to it: text in the study's line format, or
JSON lines; lines still being written wait; bad lines fail the trial."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetune.api.sources import MetricsSource
from kubetune.engine import Report
from kubetune.metrics.files import MetricsFileFollower
from kubetune.metrics.sources import build_follower

KNOWN = ["accuracy", "loss"]


def follower(path: Path, **metrics: object) -> MetricsFileFollower:
    source = MetricsSource.model_validate(metrics)
    built = build_follower(source, KNOWN, path)
    assert isinstance(built, MetricsFileFollower)
    return built


def test_json_lines_are_read_as_they_are_appended(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    reader = follower(path, file={"format": "json"})
    assert reader.poll().reports == ()  # no file yet
    path.write_text('{"accuracy": 0.5, "step": 1, "timestamp": "2026-12-06T10:00:00Z"}\n{"acc')
    assert reader.poll().reports == (Report(1, {"accuracy": 0.5}),)
    with path.open("a") as out:
        out.write('uracy": "0.75", "loss": 0.1, "epoch": 2}\n\n')
    assert reader.poll().reports == (Report(2, {"accuracy": 0.75, "loss": 0.1}),)


def test_the_last_line_without_a_newline_counts_once_the_trainer_ended(tmp_path: Path) -> None:
    path = tmp_path / "metrics.log"
    reader = follower(path, format="keyvalue", file={})
    path.write_text("epoch 1: accuracy=0.5 loss=0.3\nstep=2 accuracy=0.625")
    assert reader.poll().reports == (Report(None, {"accuracy": 0.5, "loss": 0.3}),)
    assert reader.poll(final=True).reports == (Report(2, {"accuracy": 0.625}),)


def test_text_lines_follow_the_studys_regex(tmp_path: Path) -> None:
    path = tmp_path / "metrics.log"
    regex = r"(?P<name>\w+)\s*=\s*(?P<value>[-+\d.eE]+)"
    reader = follower(path, format="regex", regex=regex, file={})
    path.write_text("2026-12-06T10:00:00Z accuracy = 0.9 other = 3\n")
    assert reader.poll().reports == (Report(None, {"accuracy": 0.9}),)


def test_a_file_written_anew_is_read_again_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    reader = follower(path, file={"format": "json"})
    path.write_text('{"accuracy": 0.1, "step": 1}\n{"accuracy": 0.2, "step": 2}\n')
    assert len(reader.poll().reports) == 2
    path.write_text('{"accuracy": 0.3, "step": 3}\n')
    assert reader.poll().reports == (Report(3, {"accuracy": 0.3}),)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("[1, 2]\n", "not a JSON object but a list"),
        ("accuracy=0.5\n", "not a JSON object"),
        ('{"accuracy": "high"}\n', "metric 'accuracy' reported 'high': not a number"),
        ('{"loss": NaN}\n', "NaN"),
    ],
)
def test_a_bad_line_fails_the_trial_once_naming_the_file(
    tmp_path: Path, line: str, words: str
) -> None:
    path = tmp_path / "metrics.json"
    reader = follower(path, file={"format": "json"})
    path.write_text('{"accuracy": 0.5}\n' + line + '{"accuracy": 0.7}\n')
    polled = reader.poll()
    assert polled.reports == (Report(None, {"accuracy": 0.5}),)
    assert polled.error is not None
    assert polled.error.startswith(f"metrics file {path}: ") and words in polled.error
    assert reader.poll(final=True).reports == ()


def test_a_large_file_is_caught_up_with_at_the_final_poll(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    reader = follower(path, file={"format": "json"})
    line = '{"loss": 0.5, "step": 1, "padding": "' + "x" * 1000 + '"}\n'
    path.write_text(line * 6000)  # 6 MB: more than one poll reads
    assert len(reader.poll(final=True).reports) == 6000


def test_the_output_and_prometheus_are_not_followed(tmp_path: Path) -> None:
    assert build_follower(MetricsSource(), KNOWN, tmp_path) is None

"""A dashboard following a results file that a running study appends to."""

from __future__ import annotations

import os
from pathlib import Path

from kubetune.dashboard.sources import LocalSource
from kubetune.engine import NewTrial, TrialState
from kubetune.local.results import ResultsFile

from factories import manifest


def start(path: Path) -> ResultsFile:
    results = ResultsFile(path)
    results.write("study", 1.0, manifest=manifest())
    return results


def add_trial(results: ResultsFile, index: int, objective: float) -> None:
    name = f"demo-{index}"
    params = {"lr": 0.01, "layers": 2, "optimizer": "adam"}
    results.created(2.0, NewTrial(name=name, index=index, params=params, budget=None))
    results.write("started", 2.0, trial=name, attempt=1)
    results.write("report", 3.0, trial=name, step=1, metrics={"accuracy": objective})
    results.finished_trial(4.0, name, TrialState.SUCCEEDED, None, objective)


def test_appended_trials_show_and_an_unchanged_file_keeps_its_revision(tmp_path: Path) -> None:
    path = tmp_path / "demo" / "results.jsonl"
    results = start(path)
    add_trial(results, 0, 0.5)
    source = LocalSource([tmp_path])
    (first,) = source.studies()
    assert first.key == "local:demo" and len(first.trials) == 1
    assert source.studies()[0].revision == first.revision
    add_trial(results, 1, 0.9)
    (second,) = source.studies()
    assert len(second.trials) == 2 and second.revision != first.revision
    assert second.study["status"]["bestTrial"]["name"] == "demo-1"


def test_a_half_written_line_waits_and_a_replaced_file_is_read_anew(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    results = start(path)
    add_trial(results, 0, 0.5)
    results.close()
    source = LocalSource([path])
    before = source.studies()[0]
    with path.open("ab") as out:
        out.write(b'{"event": "created", "trial": "demo-1", "ind')
    assert source.studies()[0].revision == before.revision  # nothing whole to show yet
    os.rename(path, tmp_path / "old.jsonl")  # --fresh: a new file under the same name
    fresh = start(path)
    for index in range(3):
        add_trial(fresh, index, 0.1)
    assert len(source.studies()[0].trials) == 3


def test_a_broken_file_is_reported_not_raised_and_other_studies_still_show(
    tmp_path: Path,
) -> None:
    add_trial(start(tmp_path / "good" / "results.jsonl"), 0, 0.5)
    bad = tmp_path / "bad" / "results.jsonl"
    start(bad).close()
    with bad.open("a") as out:
        out.write('not json\n{"event": "interrupted", "time": 1}\n')
    source = LocalSource([tmp_path])
    assert [s.key for s in source.studies()] == ["local:demo"]
    assert any("line 2" in error for error in source.errors())

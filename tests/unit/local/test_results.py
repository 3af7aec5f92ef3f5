from __future__ import annotations

from pathlib import Path

from kubetune.engine import TrialState
from kubetune.local.results import ResultsFile, set_aside


def write_study(results: ResultsFile, now: float) -> None:
    results.write("study", now, manifest={"spec": {}})


def test_events_fold_into_trial_records(tmp_path: Path) -> None:
    results = ResultsFile(tmp_path / "r.jsonl")
    write_study(results, 10)
    results.write("created", 10, trial="s-0", index=0, params={"x": 1}, budget=None)
    results.write("started", 11, trial="s-0")
    results.write("report", 12, trial="s-0", step=1, metrics={"a": 0.5})
    results.write(
        "finished", 13, trial="s-0", state="Succeeded", objective=0.5, reason=None, stop=None
    )
    results.close()
    [record] = ResultsFile.load(results.path).history("s", 20).trials
    assert record.state == TrialState.SUCCEEDED and record.objective == 0.5
    assert [r.metrics for r in record.reports] == [{"a": 0.5}]


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    results = ResultsFile(tmp_path / "r.jsonl")
    write_study(results, 0)
    results.write("created", 0, trial="s-0", index=0, params={}, budget=None)
    results.close()
    with results.path.open("a") as out:
        out.write('{"event": "report", "trial": "s-0", "st')
    loaded = ResultsFile.load(results.path)
    assert [r.name for r in loaded.rows()] == ["s-0"]


def test_interrupted_trials_become_pending_and_lose_their_partial_reports(tmp_path: Path) -> None:
    results = ResultsFile(tmp_path / "r.jsonl")
    write_study(results, 0)
    for i in range(2):
        results.write("created", 0, trial=f"s-{i}", index=i, params={}, budget=None)
        results.write("started", 0, trial=f"s-{i}")
    results.write("report", 1, trial="s-1", step=1, metrics={"a": 1.0})
    results.write("finished", 2, trial="s-0", state="Failed", objective=None, reason="x", stop=None)
    results.write("interrupted", 3)
    results.close()
    rows = {r.name: r for r in ResultsFile.load(results.path).rows()}
    assert rows["s-0"].state == TrialState.FAILED
    assert rows["s-1"].state == TrialState.PENDING and rows["s-1"].reports == []


def test_elapsed_time_carries_across_sessions_so_timeouts_resume(tmp_path: Path) -> None:
    results = ResultsFile(tmp_path / "r.jsonl")
    write_study(results, 100)
    results.write("interrupted", 130)
    results.close()
    later = ResultsFile.load(results.path)
    write_study(later, 1000)
    assert later.history("s", 1005).started_at == 1000 - 30


def test_setting_a_study_aside_keeps_its_logs_and_checkpoints_beside_the_new_run(
    tmp_path: Path,
) -> None:
    results = tmp_path / "results.jsonl"
    results.write_text("{}\n")
    for folder in ("trials", "checkpoints"):
        (tmp_path / folder / "s-0").mkdir(parents=True)
    set_aside(results)
    left = sorted(p.name.split(".")[0] for p in tmp_path.iterdir())
    assert left == ["checkpoints", "results", "trials"]
    assert not (tmp_path / "checkpoints").exists() and not (tmp_path / "trials").exists()
    assert len(list(tmp_path.glob("checkpoints.*/s-0"))) == 1

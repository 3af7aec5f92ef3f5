from __future__ import annotations

from pathlib import Path

import pytest

from kubetune.engine import TrialState
from kubetune.local.results import ResultsFile
from kubetune.local.tuner import StudyFinishedError, Tuner

from factories import manifest


def test_ask_tell_runs_a_study_to_max_trials_and_finds_the_best() -> None:
    tuner = Tuner.from_manifest(
        manifest(budget={"maxTrials": 8, "parallelism": 1}), clock=lambda: 0.0
    )
    while not tuner.finished:
        asked = tuner.ask()
        tuner.tell(asked.name, -abs(asked.params["lr"] - 0.01))
    assert len(tuner.history.trials) == 8
    best = tuner.best
    assert best is not None
    assert best.objective == max(
        t.objective for t in tuner.history.trials if t.objective is not None
    )
    with pytest.raises(StudyFinishedError):
        tuner.ask()


def test_asks_without_tells_get_distinct_trials() -> None:
    tuner = Tuner.from_manifest(manifest(budget={"maxTrials": 4, "parallelism": 1}))
    names = [tuner.ask().name for _ in range(3)]
    assert names == ["demo-0", "demo-1", "demo-2"]


def test_report_returns_the_stop_decision_and_ends_the_trial() -> None:
    spec = manifest(
        earlyStopping={"name": "asha", "settings": {"maxBudget": 9}},
        budget={"maxTrials": 4, "parallelism": 1},
    )
    tuner = Tuner.from_manifest(spec)
    good = tuner.ask()
    assert tuner.report(good.name, 1, accuracy=0.9) is None
    tuner.tell(good.name, accuracy=0.95)
    bad = tuner.ask()
    stop = tuner.report(bad.name, 1, accuracy=0.1)
    assert stop is not None and stop.rule == "asha"
    assert tuner.history.trials[1].state == TrialState.EARLY_STOPPED
    with pytest.raises(ValueError, match="already EarlyStopped"):
        tuner.tell(bad.name, 0.2)


def test_tell_failed_and_unknown_trials() -> None:
    tuner = Tuner.from_manifest(manifest())
    asked = tuner.ask()
    tuner.tell(asked.name, failed=True)
    assert tuner.history.trials[0].state == TrialState.FAILED
    with pytest.raises(KeyError, match="ask"):
        tuner.tell("nope", 1.0)


def test_tell_without_a_value_takes_the_last_report_or_fails_as_every_shell_does() -> None:
    tuner = Tuner.from_manifest(manifest(budget={"maxTrials": 4, "parallelism": 2}))
    reported, silent = tuner.ask(), tuner.ask()
    tuner.report(reported.name, 1, accuracy=0.4)
    tuner.report(reported.name, 2, accuracy=0.6)
    tuner.tell(reported.name)
    tuner.tell(silent.name)
    first, second = tuner.history.trials
    assert (first.state, first.objective) == (TrialState.SUCCEEDED, 0.6)
    assert second.state == TrialState.FAILED
    assert (
        second.reason is not None and "objective metric 'accuracy' never reported" in second.reason
    )


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda t, n: t.tell(n, float("nan")), "accuracy=nan is refused (NaN"),
        (lambda t, n: t.tell(n, float("inf")), "accuracy=inf is refused (an infinite value"),
        (lambda t, n: t.tell(n, "0.9"), "accuracy='0.9' is refused (not a number)"),
        (lambda t, n: t.tell(n, True), "accuracy=True is refused (a boolean"),
        (lambda t, n: t.report(n, 1, accuracy=float("nan")), "report('demo-0'): accuracy=nan"),
        (lambda t, n: t.report(n, "3", accuracy=0.5), "step must be a whole number"),
    ],
)
def test_a_value_that_is_not_a_finite_number_is_refused_and_the_study_goes_on(
    call: object, words: str
) -> None:
    tuner = Tuner.from_manifest(manifest(budget={"maxTrials": 3, "parallelism": 1}))
    asked = tuner.ask()
    with pytest.raises(ValueError, match=r"is refused|step must") as refused:
        call(tuner, asked.name)  # type: ignore[operator]
    assert words in str(refused.value)
    assert tuner.history.trials[0].state == TrialState.RUNNING  # unchanged, still open
    tuner.tell(asked.name, 0.5)
    while not tuner.finished:
        tuner.tell(tuner.ask().name, 0.7)
    assert tuner.best_value == 0.7 and tuner.best_params is not None


def test_a_notebook_continues_a_study_the_runner_wrote_and_the_runner_one_it_wrote(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out" / "results.jsonl"
    first = Tuner.from_manifest(manifest(budget={"maxTrials": 5, "parallelism": 2}), results=path)
    done = first.ask()
    first.tell(done.name, 0.4)
    left_open = first.ask()  # the session ends with this one running
    first.results.close()

    again = Tuner.from_results(tmp_path / "out")
    assert [t.state for t in again.trials] == [TrialState.SUCCEEDED, TrialState.PENDING]
    rerun = again.ask()  # the open one comes back first, same name and params
    assert (rerun.name, rerun.params) == (left_open.name, left_open.params)
    again.tell(rerun.name, 0.9)
    while not again.finished:
        again.tell(again.ask().name, 0.1)
    rows = again.to_rows()
    assert [r["name"] for r in rows] == [f"demo-{i}" for i in range(5)]
    assert rows[1]["objective"] == 0.9 and rows[1]["state"] == "Succeeded"
    assert set(rows[0]) >= {"params_lr", "params_layers", "params_optimizer", "reason"}
    assert again.best_params == dict(left_open.params)

    # And what the Tuner wrote is a results file like the runner's: it loads whole.
    assert len(ResultsFile.load(path).rows()) == 5


def test_a_new_tuner_never_overwrites_a_results_file(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    Tuner.from_manifest(manifest(), results=path)
    with pytest.raises(ValueError, match="already holds a study; continue it with from_results"):
        Tuner.from_manifest(manifest(), results=path)


def test_a_notebook_learns_from_an_earlier_study_and_asks_its_hand_given_trials_first(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "kubetune-runs"
    old = manifest(budget={"maxTrials": 4, "parallelism": 1})
    old["metadata"]["name"] = "old"
    earlier = Tuner.from_manifest(old, results=runs / "old")
    for value in (0.5, 0.9, 0.6, 0.7):
        earlier.tell(earlier.ask().name, value)
    earlier.results.close()

    hand = {"lr": 0.01, "layers": 2, "optimizer": "adam"}
    warm = {"trials": [{"params": hand}], "studies": ["old"]}
    new = manifest(budget={"maxTrials": 3, "parallelism": 1}, warmStart=warm)
    tuner = Tuner.from_manifest(new, results=runs / "demo")  # looks beside its own folder
    assert [source.describe() for source in tuner.warm_start] == ["old: 4 trials learned from"]
    assert len(tuner.history.prior) == 4
    assert tuner.best is None  # the earlier study's 0.9 is evidence, never this study's best
    first = tuner.ask()
    assert dict(first.params) == hand
    tuner.tell(first.name, 0.1)
    assert tuner.best_value == 0.1
    tuner.results.close()
    assert len(Tuner.from_results(runs / "demo").history.prior) == 4  # and after a restart

    in_memory = Tuner.from_manifest(new, runs_dir=runs)
    assert len(in_memory.history.prior) == 4

    missing = manifest(warmStart={"studies": ["nope"]})
    with pytest.raises(
        ValueError, match=r"spec.warmStart.studies\[0\]: no results of study 'nope'"
    ):
        Tuner.from_manifest(missing, results=runs / "other")
    assert not (runs / "other").exists()  # refused before anything was written


def test_a_pbt_tuner_says_which_checkpoint_each_segment_continues() -> None:
    document = manifest(
        algorithm={"name": "pbt", "seed": 1, "settings": {"population": 2, "readyInterval": 3}},
        budget={"maxTrials": 6, "parallelism": 2},
    )
    tuner = Tuner.from_manifest(document, clock=lambda: 0.0)
    states: dict[str, float] = {}  # the caller's checkpoints: the line's score so far
    while not tuner.finished:
        asked = tuner.ask()
        assert asked.lineage is not None and asked.budget == 3 * (asked.lineage.generation + 1)
        parent = asked.lineage.parent
        states[asked.name] = (states[parent] if parent else 0.0) + float(asked.params["lr"])
        tuner.tell(asked.name, states[asked.name])
    assert len(tuner.history.trials) == 6
    later = [t.lineage for t in tuner.history.trials[2:]]
    assert all(line is not None and line.parent is not None for line in later)

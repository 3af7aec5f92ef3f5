"""The progress bar `Client.wait` and `tune()` draw: tqdm's when installed, else plain lines."""

from __future__ import annotations

import builtins
import io
from typing import Any

import pytest

from kubetune.client.bar import Bar, best_note


def test_with_tqdm_the_bar_counts_trials_and_shows_the_best() -> None:
    out = io.StringIO()
    with Bar("digits", 4, stream=out) as bar:
        bar.update(1, best_note("accuracy", {"name": "digits-0", "objective": 0.91}))
        bar.update(1, best_note("accuracy", {"name": "digits-0", "objective": 0.91}))
        bar.update(4, best_note("accuracy", {"name": "digits-3", "objective": 0.975}))
    final = out.getvalue().split("\r")[-1]
    assert final.startswith("digits: 100%") and "4/4" in final
    assert "best accuracy=0.975 (digits-3)" in final


def test_without_tqdm_a_line_for_each_change(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_tqdm(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    out = io.StringIO()
    bar = Bar("digits", 3, stream=out)
    bar.update(0)
    bar.update(1, "best accuracy=0.9 (digits-0)")
    bar.update(1, "best accuracy=0.9 (digits-0)")  # nothing new: no line
    bar.update(3, "best accuracy=0.95 (digits-2)")
    bar.close()
    assert out.getvalue().splitlines() == [
        "digits: 1/3 trials · best accuracy=0.9 (digits-0)",
        "digits: 3/3 trials · best accuracy=0.95 (digits-2)",
    ]


def test_a_disabled_bar_says_nothing() -> None:
    out = io.StringIO()
    with Bar("digits", 3, enabled=False, stream=out) as bar:
        bar.update(3, "best")
    assert out.getvalue() == ""


def test_a_budget_that_grows_while_the_study_runs_grows_the_bar(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = io.StringIO()
    with Bar("digits", 4, stream=out) as bar:
        bar.update(2, "", total=4)
        bar.update(3, "", total=8)  # maxTrials raised mid-study
    assert out.getvalue().split("\r")[-1].startswith("digits:  38%") and "3/8" in out.getvalue()

"""`kubetune trials`: a preempted trial (Kueue) is retried in place, so its count says so."""

from __future__ import annotations

from typing import Any

from kubetune.controller.inspect import render_trials

STUDY: dict[str, Any] = {
    "metadata": {"name": "q", "namespace": "ns"},
    "spec": {
        "objective": {"metric": "score", "goal": "maximize"},
        "parameters": [{"name": "x"}],
    },
}


def trial(index: int, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": f"q-{index}"},
        "spec": {"index": index, "params": {"x": 0.5}},
        "status": status,
    }


def test_the_preempted_column_shows_how_often_each_trial_was_preempted() -> None:
    table = render_trials(
        STUDY,
        [
            trial(0, phase="Succeeded", objective=0.9, preemptions=2),
            trial(
                1,
                phase="Queued",
                preemptions=1,
                reason="preempted (Preempted: to accommodate a workload); queued again",
            ),
            trial(2, phase="Succeeded", objective=0.8),
        ],
    )
    header, first, second, third = table.splitlines()  # best first, unfinished last
    assert header.split() == ["TRIAL", "PHASE", "SCORE", "x", "PREEMPTED", "REASON"]
    assert first.split()[:5] == ["q-0", "Succeeded", "0.9", "0.5", "2"]
    assert second.split()[:5] == ["q-2", "Succeeded", "0.8", "0.5", "-"]
    assert third.split()[:5] == ["q-1", "Queued", "-", "0.5", "1"]
    assert "preempted (Preempted" in third


def test_no_preempted_column_where_nothing_was_preempted() -> None:
    table = render_trials(STUDY, [trial(0, phase="Succeeded", objective=0.9)])
    assert "PREEMPTED" not in table

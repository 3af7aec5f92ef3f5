"""`kubetune trials`: a preempted trial (Kueue) is retried in place, so its count says so."""

from __future__ import annotations

from typing import Any

from kubetune.controller.inspect import best_document, render_status, render_trials

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


PAIR: dict[str, Any] = {
    "metadata": {"name": "q", "namespace": "ns"},
    "spec": {
        "objectives": [
            {"metric": "score", "goal": "maximize"},
            {"metric": "size", "goal": "minimize"},
        ],
        "constraints": [{"metric": "latency", "max": 20}],
        "parameters": [{"name": "x"}],
    },
    "status": {
        "paretoFront": [
            {"name": "q-1", "params": {"x": 0.5}, "objectives": {"score": 0.8, "size": 1.0}},
            {"name": "q-2", "params": {"x": 0.5}, "objectives": {"score": 0.9, "size": 3.0}},
        ]
    },
}


def test_with_several_objectives_trials_show_each_one_and_front_members_come_first() -> None:
    values = {"q-0": (0.85, 4.0), "q-1": (0.8, 1.0), "q-2": (0.9, 3.0), "q-3": (0.99, 0.5)}
    trials = [
        trial(i, phase="Succeeded", objective=s, values={"score": s, "size": z})
        for i, (s, z) in enumerate(values.values())
    ]
    trials[3]["status"]["violations"] = [{"metric": "latency", "bound": "max", "limit": 20}]
    header, *rows = render_trials(PAIR, trials).splitlines()
    assert header.split() == ["TRIAL", "PHASE", "SCORE", "SIZE", "FRONT", "x", "REASON"]
    assert [r.split()[0] for r in rows] == ["q-2", "q-1", "q-0", "q-3"]  # infeasible last
    assert rows[0].split()[:5] == ["q-2", "Succeeded", "0.9", "3", "*"]
    assert rows[2].split()[4] == "0.5"  # q-0 is off the front: no mark, its x next


def test_best_of_a_study_with_several_objectives_is_its_front() -> None:
    document = best_document(PAIR)
    assert document is not None
    assert [m["trial"] for m in document["pareto"]] == ["q-1", "q-2"]
    assert document["pareto"][0]["objectives"] == {"score": 0.8, "size": 1.0}
    assert best_document({**PAIR, "status": {}}) is None


def test_status_says_what_each_earlier_study_gave_and_lists_the_front() -> None:
    study = {
        **PAIR,
        "spec": {**PAIR["spec"], "algorithm": {"name": "bayesian"}},
        "status": {
            **PAIR["status"],
            "phase": "Running",
            "warmStart": [
                {"study": "old", "used": 28, "skipped": 2, "firstSkipped": "old-7: params.lr"}
            ],
        },
    }
    text = render_status(study)
    assert "objective  maximize score, minimize size; latency <= 20" in text
    assert "warm start old: 28 trials learned from, 2 skipped (first: old-7: params.lr)" in text
    assert "front      q-1: score 0.8, size 1" in text


def test_a_pbt_studys_trials_show_each_segments_member_and_parent() -> None:
    first, second = trial(0, phase="Succeeded", objective=0.5), trial(1, phase="Running")
    first["spec"]["lineage"] = {"member": 0, "generation": 0, "changes": {}}
    second["spec"]["lineage"] = {"member": 1, "parent": "q-0", "generation": 1, "changes": {}}
    header, *rows = render_trials(STUDY, [first, second]).splitlines()
    assert header.split()[-3:] == ["MEMBER", "PARENT", "REASON"]
    assert rows[0].split()[-2:] == ["0", "-"]
    assert rows[1].split()[-2:] == ["1", "q-0"]
    assert "MEMBER" not in render_trials(STUDY, [trial(2, phase="Running")])

"""`kubetune run` end to end: real trial processes, a real results file, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections import Counter
from pathlib import Path

from conftest import Kubetune, events, toy_study, wait_for


def test_a_study_runs_to_max_trials_with_a_summary_results_and_plots(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    study = kubetune.write(toy_study(budget={"maxTrials": 5, "parallelism": 2}, args=["--steps=3"]))
    code, summary, stderr = kubetune.run_json("run", str(study), "--out", "out")
    assert code == 0, stderr
    assert summary["trials"] == 5 and summary["counts"]["Succeeded"] == 5
    assert summary["finishedBecause"] == "MaxTrialsReached"
    finished = [e for e in events(tmp_path / "out") if e["event"] == "finished"]
    best = max(finished, key=lambda e: e["objective"])
    assert summary["best"]["trial"] == best["trial"]
    assert summary["best"]["objective"] == best["objective"]
    # the objective is the trial's last report: score at the final step, a function of x
    x = summary["best"]["params"]["x"]
    assert abs(summary["best"]["objective"] - (1 - (x - 0.3) ** 2)) < 1e-9
    for plot in ("objective.png", "curves.png"):
        assert (tmp_path / "out" / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "[5/5]" in stderr
    assert "algorithm: random (named in spec.algorithm.name)" in stderr


def test_a_study_naming_no_algorithm_says_what_auto_picked_and_why(kubetune: Kubetune) -> None:
    document = toy_study(budget={"maxTrials": 2, "parallelism": 2})
    del document["spec"]["algorithm"]
    code, _, stderr = kubetune.run_json("run", str(kubetune.write(document)), "--out", "out")
    assert code == 0, stderr
    assert "algorithm: bayesian (auto: 1 parameter and budget.maxTrials 2: the Gaussian" in stderr


def test_placeholders_reach_the_process_and_reports_are_recorded(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    study = kubetune.write(toy_study(budget={"maxTrials": 2, "parallelism": 1}, args=["--steps=4"]))
    assert kubetune.run("run", str(study), "--out", "out").returncode == 0
    log = events(tmp_path / "out")
    params = {e["trial"]: e["params"]["x"] for e in log if e["event"] == "created"}
    reports = [e for e in log if e["event"] == "report"]
    assert Counter(e["trial"] for e in reports) == {"toy-0": 4, "toy-1": 4}
    assert all(e["metrics"]["x"] == params[e["trial"]] for e in reports)
    assert "x=" in (tmp_path / "out" / "trials" / "toy-0.log").read_text()


def test_a_trial_that_prints_garbage_or_crashes_fails_alone_with_its_reason(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    document = toy_study(
        algorithm={"name": "grid"},
        budget={"maxTrials": 10, "parallelism": 2, "maxFailedTrials": 6},
        args=["--mode=${trial.params.mode}"],
    )
    document["spec"]["parameters"] = [
        {"name": "x", "type": "float", "min": 0.3, "max": 0.6, "step": 0.3},
        {"name": "mode", "type": "categorical", "values": ["ok", "garbage", "crash", "silent"]},
    ]
    code, summary, stderr = kubetune.run_json("run", str(kubetune.write(document)), "--out", "out")
    assert code == 0, stderr
    assert summary["finishedBecause"] == "GridExhausted"
    assert summary["counts"]["Succeeded"] == 2 and summary["counts"]["Failed"] == 6
    reasons = {
        e["trial"]: e["reason"] for e in events(tmp_path / "out") if e["event"] == "finished"
    }
    assert "bad value: metric 'score' reported 'nan'" in reasons["toy-1"]
    assert reasons["toy-2"].startswith("trainer exited with code 3: ")
    assert "never reported" in reasons["toy-3"]
    assert summary["best"]["params"] == {"x": 0.3, "mode": "ok"}


def test_too_many_failures_end_the_study_as_failed(kubetune: Kubetune) -> None:
    study = kubetune.write(
        toy_study(
            budget={"maxTrials": 6, "parallelism": 1, "maxFailedTrials": 1}, args=["--mode=crash"]
        )
    )
    code, summary, _ = kubetune.run_json("run", str(study), "--out", "out")
    assert code == 1
    assert summary["finishedBecause"] == "TooManyFailures" and summary["trials"] == 2


def test_an_early_stopped_trial_is_really_terminated(kubetune: Kubetune, tmp_path: Path) -> None:
    document = toy_study(
        earlyStopping={
            "name": "asha",
            "settings": {"minBudget": 2, "maxBudget": 20, "minTrials": 2},
        },
        budget={"maxTrials": 8, "parallelism": 2},
        args=["--steps=${trial.budget}", "--sleep=0.05"],
    )
    code, summary, stderr = kubetune.run_json("run", str(kubetune.write(document)), "--out", "out")
    assert code == 0, stderr
    stopped = [
        e
        for e in events(tmp_path / "out")
        if e["event"] == "finished" and e["state"] == "EarlyStopped"
    ]
    assert stopped, "random x on a ramp must leave some trial below the top third"
    assert summary["counts"]["EarlyStopped"] == len(stopped)
    for event in stopped:
        assert (
            event["stop"]["rule"] == "asha" and event["stop"]["threshold"] > event["stop"]["value"]
        )
        log = (tmp_path / "out" / "trials" / f"{event['trial']}.log").read_text()
        assert "got SIGTERM" in log
        assert log.count("kubetune-report") < 20


def test_the_target_ends_the_study_early(kubetune: Kubetune) -> None:
    document = toy_study(budget={"maxTrials": 30, "parallelism": 1})
    document["spec"]["objective"]["target"] = 0.9
    code, summary, _ = kubetune.run_json("run", str(kubetune.write(document)), "--out", "out")
    assert code == 0
    assert summary["finishedBecause"] == "TargetReached" and summary["trials"] < 30
    assert summary["best"]["objective"] >= 0.9


def test_the_timeout_kills_running_trials(kubetune: Kubetune, tmp_path: Path) -> None:
    document = toy_study(
        budget={"maxTrials": 10, "parallelism": 2, "timeout": "3s"},
        args=["--steps=100", "--sleep=0.1"],
    )
    code, summary, _ = kubetune.run_json("run", str(kubetune.write(document)), "--out", "out")
    assert summary["finishedBecause"] == "Timeout" and code == 1
    assert summary["counts"]["Killed"] == 2


def test_gpu_trials_get_their_own_device(kubetune: Kubetune, tmp_path: Path) -> None:
    document = toy_study(
        budget={"maxTrials": 6, "parallelism": 3},
        resources={"gpus": 1},
        args=["--steps=3", "--sleep=0.1"],
    )
    code, _, stderr = kubetune.run_json(
        "run", str(kubetune.write(document)), "--out", "out", "--gpus", "0,1"
    )
    assert code == 0, stderr
    log = events(tmp_path / "out")
    given = {e["trial"]: e["gpus"] for e in log if e["event"] == "started"}
    assert all(len(g) == 1 and g[0] in ("0", "1") for g in given.values())
    seen = {e["trial"]: e["metrics"]["device"] for e in log if e["event"] == "report"}
    assert {t: str(int(d)) for t, d in seen.items()} == {t: g[0] for t, g in given.items()}
    busy: dict[str, str] = {}  # device -> trial, replayed in file order: never two at once
    for event in log:
        if event["event"] == "started":
            assert event["gpus"][0] not in busy, event
            busy[event["gpus"][0]] = event["trial"]
        if event["event"] == "finished":
            busy = {d: t for d, t in busy.items() if t != event["trial"]}


def test_asking_for_more_gpus_than_exist_is_a_clear_error(kubetune: Kubetune) -> None:
    study = kubetune.write(toy_study(resources={"gpus": 2}))
    done = kubetune.run("run", str(study), "--gpus", "0")
    assert done.returncode == 2
    assert "spec.resources.gpus" in done.stderr and "--gpus" in done.stderr


def test_a_prometheus_study_is_refused_locally_with_the_field_and_the_fix(
    kubetune: Kubetune,
) -> None:
    source = {"url": "http://prometheus:9090", "query": 'x{trial="${trial.name}"}'}
    done = kubetune.run("run", str(kubetune.write(toy_study(metrics={"prometheus": source}))))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "spec.metrics.prometheus" in done.stderr and "kubectl" in done.stderr
    assert not list(kubetune.tmp_path.glob("**/*.jsonl"))  # nothing ran


def test_a_bad_manifest_is_refused_with_the_field_path(kubetune: Kubetune) -> None:
    document = toy_study()
    document["spec"]["parameters"][0]["min"] = 2.0
    done = kubetune.run("run", str(kubetune.write(document)))
    assert done.returncode == 2
    assert "spec.parameters[0].min: must be < max" in done.stderr


def test_ctrl_c_leaves_a_consistent_file_and_resume_finishes_without_rerunning(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    study = kubetune.write(
        toy_study(budget={"maxTrials": 6, "parallelism": 2}, args=["--steps=5", "--sleep=0.2"])
    )
    process = subprocess.Popen(
        kubetune.command("run", str(study), "--out", "out"),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    results = tmp_path / "out" / "results.jsonl"
    finished = lambda: results.exists() and results.read_text().count('"finished"') >= 2  # noqa: E731
    wait_for(finished, 60, "two finished trials")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "--resume" in stderr
    before = events(tmp_path / "out")
    assert before[-1]["event"] == "interrupted"
    done_before = {e["trial"] for e in before if e["event"] == "finished"}
    unfinished = {e["trial"] for e in before if e["event"] == "created"} - done_before
    assert unfinished, "the interrupt should have caught trials mid-run"

    refused = kubetune.run("run", str(study), "--out", "out")
    assert refused.returncode == 2 and "--resume" in refused.stderr

    code, summary, stderr = kubetune.run_json("run", str(study), "--out", "out", "--resume")
    assert code == 0, stderr
    assert summary["trials"] == 6 and summary["counts"]["Succeeded"] == 6
    after = events(tmp_path / "out")
    starts = Counter(e["trial"] for e in after if e["event"] == "started")
    assert all(starts[t] == 1 for t in done_before)  # finished trials never ran again
    # Interrupted ones restarted once more, same name (one created but not yet started when
    # Ctrl-C came starts for the first time).
    started_before = Counter(e["trial"] for e in before if e["event"] == "started")
    assert all(starts[t] == started_before[t] + 1 for t in unfinished)
    assert any(started_before[t] == 1 for t in unfinished)  # at least one was cut mid-run
    created = [e["trial"] for e in after if e["event"] == "created"]
    assert len(created) == len(set(created)) == 6


def test_resume_refuses_a_changed_search_space_but_accepts_a_bigger_budget(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    document = toy_study(budget={"maxTrials": 2, "parallelism": 1})
    study = kubetune.write(document)
    assert kubetune.run("run", str(study), "--out", "out").returncode == 0
    document["spec"]["budget"]["maxTrials"] = 4
    code, summary, _ = kubetune.run_json(
        "run", str(kubetune.write(document)), "--out", "out", "--resume"
    )
    assert code == 0 and summary["trials"] == 4
    document["spec"]["parameters"][0]["max"] = 2.0
    done = kubetune.run("run", str(kubetune.write(document)), "--out", "out", "--resume")
    assert done.returncode == 2 and "spec.parameters changed" in done.stderr


def test_fresh_keeps_the_old_results_beside_the_new(kubetune: Kubetune, tmp_path: Path) -> None:
    study = kubetune.write(toy_study(budget={"maxTrials": 1, "parallelism": 1}))
    assert kubetune.run("run", str(study), "--out", "out").returncode == 0
    assert kubetune.run("run", str(study), "--out", "out", "--fresh").returncode == 0
    assert len(list((tmp_path / "out").glob("results*.jsonl"))) == 2
    assert os.path.getsize(tmp_path / "out" / "results.jsonl") > 0


def test_a_conditional_parameter_reaches_only_the_trials_that_have_it(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    document = toy_study(
        algorithm={"name": "grid"},
        budget={"maxTrials": 8, "parallelism": 2},
        args=["--steps=${trial.params.steps}"],
    )
    document["spec"]["parameters"] = [
        {"name": "x", "type": "float", "min": 0.0, "max": 1.0, "step": 0.5},
        {"name": "deep", "type": "categorical", "values": ["no", "yes"]},
        {"name": "steps", "type": "int", "min": 2, "max": 4, "when": {"deep": ["yes"]}},
    ]
    path = str(kubetune.write(document))
    code, summary, stderr = kubetune.run_json("run", path, "--out", "out")
    assert code == 0, stderr
    assert summary["counts"]["Succeeded"] == 8
    log = events(tmp_path / "out")
    created = {e["trial"]: e["params"] for e in log if e["event"] == "created"}
    assert {frozenset(p) for p in created.values()} == {
        frozenset({"x", "deep"}),  # shallow trials have no steps at all
        frozenset({"x", "deep", "steps"}),
    }
    reports = Counter(e["trial"] for e in log if e["event"] == "report")
    for trial, params in created.items():
        assert ("steps" in params) == (params["deep"] == "yes")
        # without --steps the trainer's own default (1 report); with it, one per step
        assert reports[trial] == params.get("steps", 1), (trial, params)
    # the results file is read back against the study's conditions: as written, it resumes;
    # a deep trial that lost its steps is refused, naming what the study gives it
    assert kubetune.run("run", path, "--out", "out", "--resume").returncode == 0
    results = tmp_path / "out" / "results.jsonl"
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    deep = next(e for e in lines if e["event"] == "created" and "steps" in e["params"])
    del deep["params"]["steps"]
    results.write_text("".join(json.dumps(e) + "\n" for e in lines))
    refused = kubetune.run("run", path, "--out", "out", "--resume")
    assert refused.returncode != 0
    assert f"trial {deep['trial']} has parameters ['deep', 'x'], the study gives it" in (
        refused.stderr
    )


def test_several_objectives_and_a_constraint_give_a_pareto_front_of_feasible_trials(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    document = toy_study(
        objective=None,
        objectives=[{"metric": "score", "goal": "maximize"}, {"metric": "x", "goal": "minimize"}],
        constraints=[{"metric": "cost", "max": 5.0}],
        algorithm={"name": "grid"},
        budget={"maxTrials": 20, "parallelism": 2},
        args=["--cost"],
    )
    document["spec"]["parameters"] = [
        {"name": "x", "type": "float", "min": 0.0, "max": 1.0, "step": 0.1}
    ]
    code, summary, stderr = kubetune.run_json("run", str(kubetune.write(document)), "--out", "out")
    assert code == 0, stderr
    assert summary["counts"]["Succeeded"] == 11
    # score rises with x up to 0.3 and x is minimised: the front is x in [0, 0.3]; x > 0.5
    # breaks cost <= 5 and is never on it, however good its score
    front = {round(m["params"]["x"], 6): m for m in summary["pareto"]}
    assert sorted(front) == [0.0, 0.1, 0.2, 0.3]
    assert front[0.3]["objectives"]["score"] == 1.0 and front[0.3]["objectives"]["x"] == 0.3
    finished = {e["trial"]: e for e in events(tmp_path / "out") if e["event"] == "finished"}
    created = {
        e["trial"]: e["params"]["x"] for e in events(tmp_path / "out") if e["event"] == "created"
    }
    for name, x in created.items():
        reason = finished[name].get("reason") or ""
        assert reason.startswith("infeasible: cost") == (x > 0.5 + 1e-9), (name, x, reason)
    assert summary["best"]["params"]["x"] == 0.3  # best feasible by the first objective
    assert (tmp_path / "out" / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "out/pareto.png" in summary["plots"]
    text = kubetune.run("run", str(kubetune.write(document)), "--out", "again").stdout
    assert "Pareto front (4 trials):" in text


def test_a_study_learns_from_an_earlier_one_and_runs_its_hand_given_trials_first(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    old = toy_study("old", algorithm={"name": "random", "seed": 5}, budget={"maxTrials": 8})
    assert kubetune.run("run", str(kubetune.write(old, "old.yaml"))).returncode == 0
    new = toy_study(
        "new",
        algorithm={"name": "bayesian", "seed": 5},
        budget={"maxTrials": 3, "parallelism": 1},
        warmStart={"studies": ["old"], "trials": [{"params": {"x": 0.25}}]},
    )
    code, summary, stderr = kubetune.run_json("run", str(kubetune.write(new, "new.yaml")))
    assert code == 0, stderr
    assert "warm start from old: 8 trials learned from" in stderr
    assert summary["trials"] == 4  # the hand-given one runs on top of maxTrials
    log = events(tmp_path / "kubetune-runs" / "new")
    created = [e for e in log if e["event"] == "created"]
    assert created[0]["trial"] == "new-0" and created[0]["params"] == {"x": 0.25}
    # bayesian starts from the model of the old study's 8 trials: no random start-up point
    assert all(abs(e["params"]["x"] - 0.3) < 0.2 for e in created[1:]), created


def test_a_warm_start_from_a_study_that_never_ran_is_refused_naming_the_field(
    kubetune: Kubetune,
) -> None:
    new = toy_study("new", warmStart={"studies": ["nowhere"]})
    done = kubetune.run("run", str(kubetune.write(new)))
    assert done.returncode == 2
    assert "spec.warmStart.studies[0]: no results of study 'nowhere'" in done.stderr

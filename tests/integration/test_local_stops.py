"""Stopping `kubetune run` every way a machine does, at seeded random moments, then resuming:
exactly maxTrials trials, no name twice, no finished trial rerun, every report once, and no
trial process outliving the runner. Plus the per-trial limits taken from the Job template."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conftest import Kubetune, events, toy_study, wait_for

STEPS = 3
ROUNDS = 3  # per signal; seeded, so a failure names its round


def trainer_pids(study: str) -> list[int]:
    """Processes (trainers and their children) whose environment names this study."""
    marker = f"KUBETUNE_STUDY={study}".encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def start(kubetune: Kubetune, study: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        kubetune.command("run", str(study), "--out", "out", "--no-plot", *extra),
        cwd=kubetune.tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def check_invariants(out: Path, max_trials: int) -> None:
    history = events(out)
    created = [e["trial"] for e in history if e["event"] == "created"]
    assert len(created) == len(set(created)) == max_trials
    finished = Counter(e["trial"] for e in history if e["event"] == "finished")
    assert set(finished) == set(created) and max(finished.values()) == 1
    # A finished trial never started again; each trial's reports after its last start are
    # exactly steps 1..STEPS, once each.
    last_start: dict[str, int] = {}
    ended: set[str] = set()
    for position, event in enumerate(history):
        if event["event"] == "started":
            assert event["trial"] not in ended, f"{event['trial']} ran again after finishing"
            last_start[event["trial"]] = position
        elif event["event"] == "finished":
            ended.add(event["trial"])
    for trial in created:
        steps = [
            e["step"]
            for e in history[last_start[trial] :]
            if e["event"] == "report" and e["trial"] == trial
        ]
        assert steps == list(range(1, STEPS + 1)), (trial, steps)


@pytest.mark.parametrize("round_", range(ROUNDS))
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_runner_stopped_by_any_signal_resumes_to_exactly_max_trials(
    kubetune: Kubetune, sig: signal.Signals, round_: int
) -> None:
    rng = random.Random(f"{sig.name}-{round_}")
    name = f"stop-{sig.name.lower()}-{round_}"
    document = toy_study(
        name,
        budget={"maxTrials": 6, "parallelism": 2, "timeout": "10m"},
        args=[f"--steps={STEPS}", "--sleep=0.15"],
    )
    study = kubetune.write(document)
    results = kubetune.tmp_path / "out" / "results.jsonl"
    runner = start(kubetune, study)
    # Stop after this many events of the run: early, midway or late by round, jittered.
    moment = 1 + 4 * round_ + rng.randint(0, 3)
    count = lambda: results.read_text().count("\n") if results.exists() else 0  # noqa: E731
    wait_for(lambda: count() >= moment, 60, f"{moment} events")
    runner.send_signal(sig)
    _, stderr = runner.communicate(timeout=30)
    if sig == signal.SIGKILL:
        assert runner.returncode == -signal.SIGKILL
        if round_ > 0:  # and the disk lost the end of its last write
            with results.open("ab") as file:
                file.write(b'{"event": "report", "metrics": {"score": 0.')
    else:
        assert runner.returncode == 128 + sig, stderr
        assert f"stopped ({sig.name})" in stderr and "--resume" in stderr
        assert events(kubetune.tmp_path / "out")[-1] == {
            **events(kubetune.tmp_path / "out")[-1],
            "event": "interrupted",
            "signal": sig.name,
        }
    wait_for(lambda: not trainer_pids(name), 20, "no trial process left from the runner")

    code, summary, stderr = kubetune.run_json(
        "run", str(study), "--out", "out", "--resume", "--no-plot"
    )
    assert code == 0, stderr
    assert summary["trials"] == 6 and summary["counts"]["Succeeded"] == 6, summary
    check_invariants(kubetune.tmp_path / "out", 6)
    assert not trainer_pids(name)
    torn = list((kubetune.tmp_path / "out").glob("results.jsonl.torn-*"))
    assert len(torn) == (1 if sig == signal.SIGKILL and round_ > 0 else 0)


def test_trainers_that_ignore_sigterm_and_fork_die_with_a_killed_runner(
    kubetune: Kubetune,
) -> None:
    study = kubetune.write(
        toy_study("orphans", budget={"maxTrials": 2, "parallelism": 2}, args=["--mode=orphan"])
    )
    runner = start(kubetune, study)
    wait_for(lambda: len(trainer_pids("orphans")) >= 4, 60, "two trainers and their workers")
    runner.kill()
    runner.wait(timeout=10)
    assert trainer_pids("orphans"), "the trainers outlive the runner by the grace period"
    wait_for(lambda: not trainer_pids("orphans"), 30, "the guard to end every trial process")


def test_a_second_ctrl_c_hurries_the_stop_but_still_records_it(kubetune: Kubetune) -> None:
    study = kubetune.write(
        toy_study("hurry", budget={"maxTrials": 2, "parallelism": 2}, args=["--mode=orphan"])
    )
    runner = start(kubetune, study)
    wait_for(lambda: len(trainer_pids("hurry")) >= 4, 60, "two trainers and their workers")
    runner.send_signal(signal.SIGINT)
    log = kubetune.tmp_path / "out" / "trials" / "hurry-0.log"
    wait_for(lambda: "ignoring SIGTERM" in log.read_text(), 10, "the trainer to ignore SIGTERM")
    runner.send_signal(signal.SIGINT)  # within the grace period: SIGKILL now
    _, stderr = runner.communicate(timeout=15)
    assert runner.returncode == 130, stderr
    assert events(kubetune.tmp_path / "out")[-1]["event"] == "interrupted"
    wait_for(lambda: not trainer_pids("hurry"), 5, "every trial process ended")


def limits(kubetune: Kubetune, name: str, mode: str, **job: Any) -> dict[str, Any]:
    document = toy_study(name, budget={"maxTrials": 2, "parallelism": 2}, args=[f"--mode={mode}"])
    document["spec"]["trialTemplate"]["spec"].update(job)
    code, summary, stderr = kubetune.run_json(
        "run", str(kubetune.write(document)), "--out", "out", "--no-plot"
    )
    return {"code": code, "summary": summary, "stderr": stderr}


def test_active_deadline_seconds_fails_a_trial_that_runs_too_long(kubetune: Kubetune) -> None:
    done = limits(kubetune, "deadline", "hang", activeDeadlineSeconds=2)
    assert done["summary"]["counts"]["Failed"] == 2, done
    reasons = {e["reason"] for e in events(kubetune.tmp_path / "out") if e["event"] == "finished"}
    assert reasons == {
        "Job failed: DeadlineExceeded: Job was active longer than specified deadline "
        "(activeDeadlineSeconds: 2)"
    }


def test_backoff_limit_reruns_a_failed_trial_as_a_new_attempt(kubetune: Kubetune) -> None:
    done = limits(kubetune, "flaky", "flaky", backoffLimit=1)
    assert done["code"] == 0 and done["summary"]["counts"]["Succeeded"] == 2, done
    history = events(kubetune.tmp_path / "out")
    retried = [e for e in history if e["event"] == "retried"]
    assert {e["trial"] for e in retried} == {"flaky-0", "flaky-1"}
    assert all(e["attempt"] == 2 and "exited with code 137" in e["reason"] for e in retried)
    assert len({e["trial"] for e in history if e["event"] == "created"}) == 2


def test_backoff_limit_spent_fails_the_trial_naming_the_attempts(kubetune: Kubetune) -> None:
    limits(kubetune, "crashy", "crash", backoffLimit=1)
    reasons = [e["reason"] for e in events(kubetune.tmp_path / "out") if e["event"] == "finished"]
    assert len(reasons) == 2
    assert all(
        r.startswith("trainer exited with code 3: ") and r.endswith("(attempt 2 of 2)")
        for r in reasons
    )


def test_a_malformed_report_line_fails_its_trial_saying_what_is_wrong(kubetune: Kubetune) -> None:
    document = toy_study("garbled", budget={"maxTrials": 1, "parallelism": 1})
    container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["command"] = ["python", "-c", "print('kubetune-report {not json')"]
    kubetune.run("run", str(kubetune.write(document)), "--out", "out", "--no-plot")
    [finished] = [e for e in events(kubetune.tmp_path / "out") if e["event"] == "finished"]
    assert finished["reason"].startswith(
        "unreadable report line (not JSON after 'kubetune-report': Expecting property name"
    )


def test_local_status_trials_and_best_print_as_they_do_for_a_cluster_study(
    kubetune: Kubetune,
) -> None:
    study = kubetune.write(toy_study("inspect", budget={"maxTrials": 3, "parallelism": 1}))
    assert kubetune.run("run", str(study), "--out", "out", "--no-plot").returncode == 0
    status = kubetune.run("status", "out")
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("Study local:out/inspect: Succeeded (MaxTrialsReached)")
    assert "  progress   3/3  succeeded 3" in status.stdout
    trials = kubetune.run("trials", "out/results.jsonl")
    header, *rows = trials.stdout.splitlines()
    assert header.split() == ["TRIAL", "PHASE", "SCORE", "x", "REASON"] and len(rows) == 3
    best = json.loads(kubetune.run("best", "out").stdout)
    assert best["trial"] == rows[0].split()[0] and best["metric"] == "score"
    typo = kubetune.run("status", "ouy/")
    assert (
        typo.returncode == 2 and typo.stderr == "kubetune: ouy/: no such results folder or file\n"
    )


def test_fresh_starts_the_trial_logs_over_too(kubetune: Kubetune) -> None:
    study = kubetune.write(toy_study("fresh", budget={"maxTrials": 1, "parallelism": 1}))
    assert kubetune.run("run", str(study), "--out", "out", "--no-plot").returncode == 0
    assert kubetune.run("run", str(study), "--out", "out", "--no-plot", "--fresh").returncode == 0
    log = (kubetune.tmp_path / "out" / "trials" / "fresh-0.log").read_text()
    assert log.count("started:") == 1
    assert len(list((kubetune.tmp_path / "out").glob("trials.*"))) == 1


BAD_ARGS = [
    (["--gpus", "abc"], "--gpus: 'abc' is not a GPU id"),
    (["--gpus", "-1"], "--gpus: '-1' is not a GPU id"),
    (["--gpus", "0,0"], "--gpus: 0 given twice"),
    (["--out", "study.yaml/out"], "--out study.yaml/out: cannot create it"),
]


@pytest.mark.parametrize(("extra", "words"), BAD_ARGS, ids=[a[1].split(":")[0] for a in BAD_ARGS])
def test_a_bad_argument_is_refused_in_one_line_before_anything_runs(
    kubetune: Kubetune, extra: list[str], words: str
) -> None:
    study = kubetune.write(toy_study())
    done = kubetune.run("run", str(study), *extra)
    assert done.returncode == 2 and done.stderr.startswith(f"kubetune: {words}"), done.stderr
    assert done.stderr.count("\n") == 1 and not (kubetune.tmp_path / "kubetune-runs").exists()


BAD_FILES = [
    ("utf-16", "kind: Study\n".encode("utf-16"), "looks like UTF-16"),
    ("binary", bytes(range(1, 256)), "not UTF-8 text"),
    ("duplicate-key", b"kind: Study\nkind: Study\n", "key 'kind' is written twice"),
    (
        "alias-bomb",
        b"a: &a [x]\n"
        + b"".join(
            f"a{i}: &a{i} [{', '.join(['*a' if i == 1 else f'*a{i - 1}'] * 10)}]\n".encode()
            for i in range(1, 10)
        ),
        "aliases expand to more than",
    ),
    ("boolean-max-trials", None, "spec.budget.maxTrials: Input should be a valid integer"),
    ("missing-trainer", None, "'no-such-trainer' is not an executable file on PATH"),
]


@pytest.mark.parametrize(
    ("data", "words"), [f[1:] for f in BAD_FILES], ids=[f[0] for f in BAD_FILES]
)
def test_a_bad_file_is_refused_without_a_traceback(
    kubetune: Kubetune, data: bytes | None, words: str, request: pytest.FixtureRequest
) -> None:
    path = kubetune.tmp_path / "bad.yaml"
    if data is not None:
        path.write_bytes(data)
    else:
        document = toy_study("bad")
        if "max-trials" in request.node.callspec.id:
            document["spec"]["budget"] = {"maxTrials": True}
        else:
            container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]
            container["containers"][0]["command"] = ["no-such-trainer", "--lr=1"]
        path = kubetune.write(document, "bad.yaml")
    done = kubetune.run("run", str(path))
    assert done.returncode == 2, done.stderr
    assert words in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert not (kubetune.tmp_path / "kubetune-runs").exists() or not any(
        (kubetune.tmp_path / "kubetune-runs").rglob("results.jsonl")
    )
    assert os.path.getsize(path) > 0


def test_the_runner_continues_a_study_a_notebook_started(kubetune: Kubetune) -> None:
    from kubetune.local.tuner import Tuner  # noqa: PLC0415 - the notebook's side, in-process

    document = toy_study("notebook", budget={"maxTrials": 4, "parallelism": 2})
    study = kubetune.write(document)
    tuner = Tuner.from_manifest(document, results=kubetune.tmp_path / "out" / "results.jsonl")
    told = tuner.ask()
    tuner.tell(told.name, 0.5)
    tuner.ask()  # left open in the notebook
    tuner.results.close()
    code, summary, stderr = kubetune.run_json("run", str(study), "--out", "out", "--resume")
    assert code == 0, stderr
    assert summary["trials"] == 4 and summary["counts"]["Succeeded"] == 4
    starts = Counter(
        e["trial"] for e in events(kubetune.tmp_path / "out") if e["event"] == "started"
    )
    assert starts == {"notebook-0": 1, "notebook-1": 2, "notebook-2": 1, "notebook-3": 1}


def test_a_trainer_that_cannot_be_executed_fails_its_trial_not_the_runner(
    kubetune: Kubetune,
) -> None:
    trainer = kubetune.tmp_path / "not-a-program"
    trainer.write_bytes(b"\x7fELF but not really")
    trainer.chmod(0o755)  # executable, so refused only when the kernel tries to run it
    document = toy_study("unrunnable", budget={"maxTrials": 1, "parallelism": 1})
    container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["command"], container["args"] = ["./not-a-program"], []
    code, summary, stderr = kubetune.run_json(
        "run", str(kubetune.write(document)), "--out", "out", "--no-plot"
    )
    assert code == 1 and "Traceback" not in stderr, stderr  # the study failed, not the runner
    assert summary["counts"]["Failed"] == 1
    [finished] = [e for e in events(kubetune.tmp_path / "out") if e["event"] == "finished"]
    assert finished["reason"] == "cannot start './not-a-program': Exec format error"

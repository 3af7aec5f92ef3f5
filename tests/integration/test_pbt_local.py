"""`algorithm: pbt` under `kubetune run`: the lineage each segment records, the checkpoint
folders it is handed and leaves, what is deleted, and the faults (a failed segment, a lost
checkpoint, a runner killed mid-generation)."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

from conftest import Kubetune, events, wait_for
from factories import manifest

TRAINER = Path(__file__).parent / "trainers" / "pbt_toy.py"
INTERVAL = 2


def pbt_study(name: str, max_trials: int, *extra: str, **budget: Any) -> dict[str, Any]:
    document = manifest(
        objective={"metric": "score", "goal": "maximize"},
        parameters=[{"name": "lr", "type": "float", "min": 1e-4, "max": 1.0, "log": True}],
        algorithm={
            "name": "pbt",
            "seed": 7,
            "settings": {"population": 4, "readyInterval": INTERVAL, "quantile": 0.25},
        },
        budget={"maxTrials": max_trials, "parallelism": 2, "maxFailedTrials": 10, **budget},
    )
    document["metadata"]["name"] = name
    container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["command"] = ["python", str(TRAINER)]
    container["args"] = [
        "--lr=${trial.params.lr}",
        "--until=${trial.budget}",
        "--into=${trial.checkpointDir}",
        *extra,
    ]
    return document


def created(out: Path) -> dict[str, dict[str, Any]]:
    return {e["trial"]: e for e in events(out) if e["event"] == "created"}


def finished(out: Path) -> dict[str, dict[str, Any]]:
    return {e["trial"]: e for e in events(out) if e["event"] == "finished"}


def line_of(trial: str, made: dict[str, dict[str, Any]]) -> list[str]:
    """The trials a segment's checkpoint was trained by, first to last, by the parents the
    results file records."""
    path = [trial]
    while made[path[0]]["parent"] is not None:
        path.insert(0, made[path[0]]["parent"])
    return path


def check_lineage(out: Path) -> None:
    made, ended = created(out), finished(out)
    for event in made.values():
        parent = event["parent"]
        if parent is None:
            assert event["generation"] == 0, event
        else:
            assert made[parent]["index"] < event["index"]
            assert event["generation"] == made[parent]["generation"] + 1
            assert ended[parent]["state"] == "Succeeded", "continued from a good checkpoint only"
        assert event["budget"] == INTERVAL * (event["generation"] + 1)
        assert 0 <= event["member"] < 4 and set(event["changes"]) == {"lr"}
    # Reports count steps from the start of the line, not of the segment.
    last_start: dict[str, int] = {}
    history = events(out)
    for position, event in enumerate(history):
        if event["event"] == "started":
            last_start[event["trial"]] = position
    for name, event in made.items():
        if ended[name]["state"] != "Succeeded":
            continue
        steps = [
            e["step"] for e in history[last_start[name] :] if e.get("trial") == name and "step" in e
        ]
        first = INTERVAL * event["generation"] + 1
        assert steps == list(range(first, first + INTERVAL)), (name, steps)


def test_a_pbt_study_records_each_segments_lineage_and_passes_checkpoints_on(
    kubetune: Kubetune,
) -> None:
    study = kubetune.write(pbt_study("pbt-line", 16))
    code, summary, stderr = kubetune.run_json("run", str(study), "--out", "out", "--no-plot")
    assert code == 0, stderr
    assert summary["counts"]["Succeeded"] == 16, summary
    out = kubetune.tmp_path / "out"
    made, ended = created(out), finished(out)
    check_lineage(out)
    first = [e for e in made.values() if e["parent"] is None]
    assert len(first) == 4 and {e["member"] for e in first} == {0, 1, 2, 3}
    assert all(e["changes"] == {"lr": "sampled"} for e in first)
    later = [e for e in made.values() if e["parent"] is not None]
    assert {c for e in later for c in e["changes"].values()} <= {"copied", "perturbed", "resampled"}
    exploits = [e for e in later if made[e["parent"]]["member"] != e["member"]]
    assert exploits, "some weak member continued from a strong one's checkpoint"
    for event in later:
        lr, parent_lr = event["params"]["lr"], made[event["parent"]]["params"]["lr"]
        change = event["changes"]["lr"]
        if change == "copied":
            assert lr == parent_lr
        elif change == "perturbed":  # by 0.8 or 1.2, kept in range
            assert min(abs(lr / parent_lr - f) for f in (0.8, 1.2)) < 1e-6 or lr in (1e-4, 1.0)
    # What is left: the checkpoints a line can still continue from (each member's last good
    # one) and the best trial's; each holds exactly the line the results file records.
    folders = {p.name for p in (out / "checkpoints").iterdir()}
    last = {}
    for event in sorted(made.values(), key=lambda e: e["index"]):
        if ended[event["trial"]]["state"] == "Succeeded":
            last[event["member"]] = event["trial"]
    best = summary["best"]["trial"]
    assert folders == set(last.values()) | {best}
    for name in folders:
        state = json.loads((out / "checkpoints" / name / "state.json").read_text())
        assert state["path"] == line_of(name, made)
        assert state["step"] == INTERVAL * (made[name]["generation"] + 1)
    log = (out / "trials" / f"{later[0]['trial']}.log").read_text()
    assert f"continues {later[0]['parent']} at step" in log


def test_a_failed_segment_and_a_lost_checkpoint_do_not_stop_the_population(
    kubetune: Kubetune,
) -> None:
    # pbt-5 fails (its member starts again from its last good checkpoint); pbt-0 (the best
    # of the first generation) succeeds but leaves no checkpoint, so what continues from it
    # fails with CheckpointMissing, and its member moves on after two such failures in a row.
    study = kubetune.write(
        pbt_study("pbt-faults", 20, "--fail=pbt-faults-5", "--no-save=pbt-faults-0")
    )
    code, summary, stderr = kubetune.run_json("run", str(study), "--out", "out", "--no-plot")
    assert code == 0, stderr
    assert summary["trials"] == 20, summary
    out = kubetune.tmp_path / "out"
    made, ended = created(out), finished(out)
    check_lineage(out)
    assert ended["pbt-faults-5"]["state"] == "Failed"
    member = made["pbt-faults-5"]["member"]
    before = [e for e in made.values() if e["member"] == member and e["index"] < 5]
    good = [e["trial"] for e in before if ended[e["trial"]]["state"] == "Succeeded"][-1]
    after = [e for e in made.values() if e["member"] == member and e["index"] > 5]
    assert after[0]["parent"] == good, "again from the member's last good checkpoint"
    assert ended[after[0]["trial"]]["state"] == "Succeeded"
    lost = [e for e in made.values() if e["parent"] == "pbt-faults-0"]
    assert lost, "something continued from the lost checkpoint"
    for event in lost:
        reason = ended[event["trial"]]["reason"]
        assert ended[event["trial"]]["state"] == "Failed"
        assert reason.startswith("CheckpointMissing: pbt-faults-0's checkpoint folder"), reason
    owner = made["pbt-faults-0"]["member"]
    mine = [e for e in made.values() if e["member"] == owner and e["index"] > 0]
    retries = [e for e in mine if e["parent"] == "pbt-faults-0"]
    assert len(retries) == 2, "two tries from the lost checkpoint, then the member moves on"
    moved = mine[len(retries)]
    assert moved["parent"] != "pbt-faults-0" and ended[moved["trial"]]["state"] == "Succeeded"
    assert summary["counts"]["Succeeded"] == 20 - 1 - len(lost)


def test_a_runner_killed_mid_generation_resumes_every_line(kubetune: Kubetune) -> None:
    study = kubetune.write(pbt_study("pbt-kill", 12, "--sleep=0.2"))
    out = kubetune.tmp_path / "out"
    runner = subprocess.Popen(
        kubetune.command("run", str(study), "--out", "out", "--no-plot"),
        cwd=kubetune.tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Killed once the second generation is under way, with segments running.
    wait_for(
        lambda: (
            (out / "results.jsonl").exists()
            and any(e.get("generation") == 1 for e in created(out).values())
            and events(out)[-1]["event"] == "report"
        ),
        120,
        "the second generation running",
    )
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=30)
    interrupted = {e["trial"] for e in events(out) if e["event"] == "started"} - set(finished(out))
    assert interrupted, "segments were running when the runner died"
    code, summary, stderr = kubetune.run_json(
        "run", str(study), "--out", "out", "--resume", "--no-plot"
    )
    assert code == 0, stderr
    assert summary["trials"] == 12 and summary["counts"]["Succeeded"] == 12, summary
    made = created(out)
    assert len(made) == 12
    check_lineage(out)  # the restarted segments reported from their line's step again
    for name in interrupted:
        state_file = out / "checkpoints" / name / "state.json"
        if state_file.exists():
            assert json.loads(state_file.read_text())["path"] == line_of(name, made)

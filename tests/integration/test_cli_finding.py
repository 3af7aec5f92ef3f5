"""The first hour after `make demo`: a local study is found by its name when there is no
cluster, each command says where it looked, and the hints the CLI prints work when pasted into
a plain shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from conftest import toy_study
from dashboard_browser import Server

NAME = "local-toy"


def plain_env(home: Path) -> dict[str, str]:
    """A shell with no kubeconfig and only the system's PATH (not the virtual environment's)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "KUBECONFIG": str(home / "no-such-kubeconfig"),
        "LANG": "C.UTF-8",
    }


def kubetune(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubetune.cli", *args],
        cwd=cwd,
        env=plain_env(cwd),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A study run as the README says, into ./kubetune-runs/NAME."""
    where = tmp_path_factory.mktemp("first-hour")
    document = toy_study(NAME, budget={"maxTrials": 3, "parallelism": 1})
    (where / "study.yaml").write_text(yaml.safe_dump(document))
    done = kubetune(where, "run", "study.yaml", "--no-plot")
    assert done.returncode == 0, done.stderr
    return where, done


def test_the_printed_hint_works_as_pasted_in_a_plain_shell(
    ran: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    where, done = ran
    hint = next(line for line in done.stdout.splitlines() if line.startswith("explore it: "))
    command = hint.removeprefix("explore it: ")
    assert command.endswith(f" dashboard {Path('kubetune-runs') / NAME}")
    program = command.removesuffix(f" dashboard {Path('kubetune-runs') / NAME}")
    # The same words, given --version instead of starting a server, in a shell that has only
    # the system's PATH: the program part is found as printed.
    shell = subprocess.run(
        ["bash", "-c", f"{program} --version"],
        cwd=where,
        env=plain_env(where),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shell.returncode == 0 and shell.stdout.startswith("kubetune "), (command, shell)
    if program != "kubetune":  # not on that PATH: the line after says how to put it there
        assert "to type plain `kubetune`: . " in done.stdout


def test_a_local_study_is_found_by_name_without_a_kubeconfig(
    ran: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    where, _ = ran
    said = f"kubetune: the local study in kubetune-runs/{NAME}/ (no usable kubeconfig)"
    status = kubetune(where, "status", NAME)
    assert status.returncode == 0, status.stderr
    assert said in status.stderr
    assert "3/3" in status.stdout and NAME in status.stdout

    trials = kubetune(where, "trials", NAME)
    assert trials.returncode == 0 and said in trials.stderr
    assert {f"{NAME}-{i}" for i in range(3)} <= set(trials.stdout.split())

    best = kubetune(where, "best", NAME, "-o", "json")
    assert best.returncode == 0 and said in best.stderr
    results = [
        json.loads(line)
        for line in (where / "kubetune-runs" / NAME / "results.jsonl").read_text().splitlines()
    ]
    scores = [r["objective"] for r in results if r.get("event") == "finished"]
    assert json.loads(best.stdout)["objective"] == max(scores)

    exported = kubetune(where, "export", NAME, "-o", "json")
    assert exported.returncode == 0 and said in exported.stderr
    assert len(json.loads(exported.stdout)["trials"]) == 3

    report = kubetune(where, "report", NAME)
    assert report.returncode == 0 and said in report.stderr
    assert (where / f"{NAME}.html").read_text().startswith("<!doctype html>")


def test_a_local_trial_log_by_name_and_its_tail(
    ran: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    where, _ = ran
    log = (where / "kubetune-runs" / NAME / "trials" / f"{NAME}-1.log").read_text()
    assert log.strip(), "the toy trainer prints its reports"
    done = kubetune(where, "logs", f"{NAME}-1")
    assert done.returncode == 0, done.stderr
    assert done.stdout == log
    assert f"the local trial's log kubetune-runs/{NAME}/trials/{NAME}-1.log" in done.stderr
    tail = kubetune(where, "logs", f"{NAME}-1", "--tail", "2")
    assert tail.stdout.splitlines() == log.splitlines()[-2:]


def test_a_name_found_nowhere_says_both_places(
    ran: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    where, _ = ran
    for command in (["status", "nowhere"], ["logs", "nowhere-0"], ["report", "nowhere"]):
        done = kubetune(where, *command)
        assert done.returncode == 2, done
        line = done.stderr.strip()
        assert "no usable kubeconfig" in line and "kubetune-runs/" in line, line
        assert "Traceback" not in done.stderr


def test_o_is_the_output_format_everywhere_and_a_file_once_given_to_it_still_works(
    ran: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    where, _ = ran
    csv = kubetune(where, "export", NAME, "-o", "csv", "--file", "t.csv")
    assert csv.returncode == 0 and (where / "t.csv").read_text().startswith("name,")
    html = kubetune(where, "report", NAME, "-o", "html", "--file", "page.html")
    assert html.returncode == 0 and (where / "page.html").is_file()
    old = kubetune(where, "report", NAME, "-o", "old.html")
    assert old.returncode == 0 and (where / "old.html").is_file()
    assert "-o is the output format (html)" in old.stderr
    wrong = kubetune(where, "export", NAME, "-o", "xml")
    assert wrong.returncode == 2
    assert "-o xml: the output format is one of csv, json; the file to write is --file" in (
        wrong.stderr
    )
    run = kubetune(where, "run", "study.yaml", "--resume", "-o", "json", "--no-plot")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["study"] == NAME


def test_the_cli_starts_without_the_venv_on_the_path(tmp_path: Path) -> None:
    assert os.access(sys.executable, os.X_OK)
    done = kubetune(tmp_path, "--version")
    assert done.returncode == 0 and done.stdout.startswith("kubetune ")


def test_the_dashboard_opens_a_local_study_by_name(
    ran: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    where, _ = ran
    server = Server(NAME, cwd=where, env=plain_env(where))
    try:
        said = "".join(server.output)
        assert f"#/study/local:{NAME}" in said, said
        assert f"the local study in kubetune-runs/{NAME}/ (no usable kubeconfig)" in said
        with urllib.request.urlopen(f"{server.url}api/studies") as answer:
            assert [s["name"] for s in json.load(answer)] == [NAME]
    finally:
        server.stop()

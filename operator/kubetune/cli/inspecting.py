"""`kubetune status`, `trials`, `best` and `logs`: a study or trial looked at, on the cluster or
in `./kubetune-runs` (see `finding`), printed the same way for both."""

from __future__ import annotations

import argparse
import json
import re
from collections import deque
from pathlib import Path
from typing import Any

from kubetune.cli.finding import Found, find_study, find_trial_log, on_cluster
from kubetune.cli.usage import UsageError, say, typed


def _local_objects(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A local study as the cluster's Study and Trials would show it, so that status, trials
    and best print the same way for both."""
    from kubetune.api import InvalidStudyError  # noqa: PLC0415
    from kubetune.dashboard.local import local_documents  # noqa: PLC0415
    from kubetune.local.results import ResultsError, ResultsFile  # noqa: PLC0415

    try:
        return local_documents(ResultsFile.load(path), path.parent)
    except (ResultsError, InvalidStudyError) as error:
        raise UsageError(f"{path}: cannot read the study: {error}".splitlines()[0]) from None


def _study_and_trials(args: argparse.Namespace, with_trials: bool) -> tuple[Any, list[Any]]:
    found: Found = find_study(args.study, args.namespace)
    if found.results is not None:
        return _local_objects(found.results)
    assert found.study is not None
    trials = found.kube.list_trials(found.namespace, args.study) if with_trials else []
    return found.study, trials


def command_status(args: argparse.Namespace) -> int:
    from kubetune.controller import inspect  # noqa: PLC0415

    study, _ = _study_and_trials(args, with_trials=False)
    print(inspect.render_status(study))
    return 0


def command_trials(args: argparse.Namespace) -> int:
    from kubetune.controller import inspect  # noqa: PLC0415

    study, trials = _study_and_trials(args, with_trials=True)
    print(inspect.render_trials(study, trials))
    return 0


def command_best(args: argparse.Namespace) -> int:
    from kubetune.controller import inspect  # noqa: PLC0415

    study, _ = _study_and_trials(args, with_trials=False)
    best = inspect.best_document(study)
    if best is None:
        raise UsageError(f"Study {args.study!r} has no succeeded trial yet")
    if args.output == "json":
        print(json.dumps(best, indent=2))
    else:
        import yaml  # noqa: PLC0415

        print(yaml.safe_dump(best, sort_keys=False), end="")
    return 0


#: Trial names are DNS labels; anything else is not looked for in the local folders.
_TRIAL_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


def command_logs(args: argparse.Namespace) -> int:
    """The trainer's output: the reporting pod's on the cluster, else the local trial's log."""
    found = on_cluster(args.namespace, "Trial", args.trial)
    if isinstance(found, Found):
        return _cluster_logs(found.kube, found.namespace, args.trial, args.tail)
    why = found
    log = find_trial_log(args.trial) if _TRIAL_NAME.fullmatch(args.trial) else None
    if log is None:
        raise UsageError(
            f"{why}, and no local trial kubetune-runs/*/trials/{args.trial}.log here "
            f"({typed('trials', 'STUDY')} lists a study's trials)"
        )
    say(f"the local trial's log {log} ({why})")
    _print_tail(log, args.tail)
    return 0


def _print_tail(log: Path, tail: int | None) -> None:
    try:
        with log.open(encoding="utf-8", errors="replace") as lines:
            kept = deque(lines, maxlen=tail) if tail is not None else lines.readlines()
    except OSError as error:
        raise UsageError(f"cannot read {log}: {error.strerror}") from None
    print("".join(kept), end="")


def _cluster_logs(kube: Any, namespace: str, trial: str, tail: int | None) -> int:
    from kubetune.client.cluster import trial_logs  # noqa: PLC0415
    from kubetune.client.errors import StudyError  # noqa: PLC0415

    try:
        print(trial_logs(kube, namespace, trial, tail), end="")
    except (StudyError, PermissionError) as error:
        raise UsageError(str(error)) from None
    return 0


def register(commands: Any) -> None:
    for name, target, help_text in (
        ("status", "study", "a Study's phase, progress, best trial and recent stops"),
        ("trials", "study", "a Study's trials, best first"),
        ("best", "study", "the best trial as JSON or YAML"),
        ("logs", "trial", "the trainer's output of a trial (its pod's, or its local log)"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument(
            target,
            help=(
                "a Study's name (on the cluster, else in ./kubetune-runs), or a results folder "
                "or file (kubetune-runs/STUDY)"
                if target == "study"
                else "a Trial's name (on the cluster, else in ./kubetune-runs/*/trials)"
            ),
        )
        sub.add_argument("-n", "--namespace", help="default: the kubeconfig context's namespace")
        if name == "best":
            sub.add_argument("-o", "--output", choices=["json", "yaml"], default="json")
        if name == "logs":
            sub.add_argument("--tail", type=int, help="only the last N lines")
        sub.set_defaults(
            handler={
                "status": command_status,
                "trials": command_trials,
                "best": command_best,
                "logs": command_logs,
            }[name]
        )

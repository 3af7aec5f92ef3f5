"""One way for every command to find the study or trial a user names: on the cluster of the
current kubeconfig context, else in `./kubetune-runs` (what `kubetune run` writes).

A name is looked up on the cluster first (a Study there is what `kubectl get studies` shows);
when there is no usable kubeconfig, the cluster cannot be reached, or it holds no Study of that
name, `kubetune-runs/NAME/` answers instead, and the command says which one it used. A path (a
results folder or file) is always local.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubetune.cli.usage import UsageError, say, typed

#: Where `kubetune run` writes a study unless told otherwise (--out).
RUNS = Path("kubetune-runs")


@dataclass(frozen=True)
class Found:
    """Where a named study is: a local results file, or a Study on the cluster."""

    results: Path | None = None
    kube: Any = None
    namespace: str = ""
    study: dict[str, Any] | None = None


def cluster(namespace: str | None) -> tuple[Any, str]:
    """A Kube client for the current kubeconfig context and the namespace to use; LookupError
    when there is no usable kubeconfig."""
    from kubetune.controller import kube  # noqa: PLC0415 - only the cluster commands need it

    return kube.Kube(), namespace or kube.context_namespace()


def cluster_or_fail(namespace: str | None) -> tuple[Any, str]:
    try:
        return cluster(namespace)
    except LookupError as error:
        raise UsageError(str(error)) from None


def given_results(target: str) -> Path | None:
    """The results file that `target` names as a path (a file, or a folder holding
    results.jsonl); None when `target` is a name."""
    path = Path(target)
    if path.is_dir():
        path = path / "results.jsonl"
        if not path.is_file():
            raise UsageError(f"{target} holds no results.jsonl (kubetune run writes one there)")
    if path.is_file():
        return path
    if "/" in target or target.endswith(".jsonl"):  # no Study name has either
        raise UsageError(f"{target}: no such results folder or file")
    return None


def on_cluster(namespace: str | None, kind: str, name: str) -> Found | str:
    """`kind` (Study or Trial) `name` on the cluster, said so; else why it is not there (no
    kubeconfig, an unreachable cluster, or none of that name), for the local fallback."""
    from kubetune.controller.kube import API_ERRORS, describe  # noqa: PLC0415

    try:
        kube, where = cluster(namespace)
    except LookupError:
        return "no usable kubeconfig"
    fetch = kube.fetch_study if kind == "Study" else kube.fetch_trial
    try:
        found = fetch(where, name)
    except API_ERRORS as error:
        return f"cannot reach the cluster: {describe(error)}"
    if found is None:
        return f"no {kind} {name!r} in namespace {where!r} on the cluster"
    say(f"{kind} {name} in namespace {where} on the cluster")
    return Found(kube=kube, namespace=where, study=found if kind == "Study" else None)


def find_study(target: str, namespace: str | None) -> Found:
    """The study `target` names: a path, a Study on the cluster, or kubetune-runs/NAME."""
    results = given_results(target)
    if results is not None:
        return Found(results=results)
    found = on_cluster(namespace, "Study", target)
    if isinstance(found, Found):
        return found
    local = RUNS / target / "results.jsonl"
    if local.is_file():
        say(f"the local study in {local.parent}/ ({found})")
        return Found(results=local)
    raise UsageError(
        f"{found}, and no local study {local.parent}/ here; {typed('run', 'STUDY.yaml')} writes "
        "one there (or give a results folder or file)"
    )


def find_trial_log(trial: str) -> Path | None:
    """A local trial's log, `kubetune-runs/*/trials/TRIAL.log`; the newest when several
    folders hold one of that name."""
    found = [p for p in RUNS.glob(f"*/trials/{trial}.log") if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None

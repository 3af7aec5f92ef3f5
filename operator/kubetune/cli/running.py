"""`kubetune run` (a Study locally, trials as processes) and `kubetune validate`.

Argument handling and the results folder only: studies run in `kubetune.local`, decisions come
from `kubetune.engine`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubetune import __version__
from kubetune.cli.usage import UsageError, activate_hint, typed

if TYPE_CHECKING:  # the heavy parts load in the commands that need them: --version stays fast
    from kubetune.api import Study
    from kubetune.engine import Finish
    from kubetune.local.results import ResultsFile


def read_study(path: Path) -> Study:
    from kubetune.api import InvalidStudyError, load_study  # noqa: PLC0415
    from kubetune.local.documents import ManifestError, parse_documents  # noqa: PLC0415

    try:
        data = path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    try:
        documents = parse_documents(data, str(path))
    except ManifestError as error:
        raise UsageError(str(error)) from None
    studies = [d for d in documents if isinstance(d, dict) and d.get("kind") == "Study"]
    if len(studies) != 1:
        raise UsageError(
            f"{path} must hold exactly one document of kind: Study, found {len(studies)}"
        )
    try:
        return load_study(studies[0])
    except InvalidStudyError as error:
        raise UsageError(f"{path}: {error}") from None


def _spec_changes(stored: dict[str, Any], study: Study) -> list[str]:
    """Spec fields that differ from the stored run; budget may change (to extend a study)."""
    current = study.model_dump(mode="json", by_alias=True, exclude_none=True)["spec"]
    before = stored.get("spec", {})
    keys = sorted((set(current) | set(before)) - {"budget"})
    return [f"spec.{k}" for k in keys if current.get(k) != before.get(k)]


def open_results(study: Study, out_dir: Path, resume: bool, fresh: bool) -> ResultsFile:
    from kubetune.local.results import ResultsError, ResultsFile, set_aside  # noqa: PLC0415

    _check_writable(out_dir)
    path = out_dir / "results.jsonl"
    if not path.exists():
        return ResultsFile(path)
    if fresh:
        set_aside(path)
        return ResultsFile(path)
    if not resume:
        raise UsageError(
            f"{path} already holds results of this study; pass --resume to continue it, "
            "or --fresh to start over (the old file is kept beside it)"
        )
    try:
        results = ResultsFile.load(path)
    except ResultsError as error:
        raise UsageError(str(error)) from None
    changed = _spec_changes(results.manifest or {}, study)
    if changed:
        raise UsageError(
            f"cannot resume: {', '.join(changed)} changed since {path} was written "
            "(only spec.budget may change); use --fresh or another --out"
        )
    try:
        results.check_against(study.spec)
    except ResultsError as error:
        raise UsageError(str(error)) from None
    return results


def _check_writable(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(
            f"--out {out_dir}: cannot create it ({error.strerror}); pick a folder you can write"
        ) from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out_dir}: not writable; pick a folder you can write")


#: What CUDA_VISIBLE_DEVICES takes: an index, or a GPU or MIG instance's UUID.
_GPU_ID = re.compile(r"\d+|(?:GPU|MIG)-[0-9A-Za-z-]+")


def parse_gpus(given: str) -> list[str]:
    ids = [g.strip() for g in given.split(",") if g.strip()]
    for gpu in ids:
        if not _GPU_ID.fullmatch(gpu):
            raise UsageError(
                f"--gpus: {gpu!r} is not a GPU id; give indexes like 0,1 or UUIDs like "
                "GPU-8f1c..., as nvidia-smi -L lists them ('' for none)"
            )
    repeated = sorted({g for g in ids if ids.count(g) > 1})
    if repeated:
        raise UsageError(f"--gpus: {', '.join(repeated)} given twice; list each GPU once")
    return ids


def summary(study: Study, results: ResultsFile, finish: Finish, plots: list[str]) -> dict[str, Any]:
    from collections import Counter  # noqa: PLC0415

    from kubetune.engine import TrialState  # noqa: PLC0415
    from kubetune.engine.decide import find_best, find_front  # noqa: PLC0415

    history = results.history(study.name, time.time())
    best = find_best(study.spec, history)
    front = find_front(study.spec, history) if study.spec.multi_objective else []
    counts = Counter(t.state.value for t in history.trials)
    return {
        "study": study.name,
        "trials": len(history.trials),
        "counts": {s.value: counts.get(s.value, 0) for s in TrialState},
        "best": None
        if best is None
        else {"trial": best.trial, "params": dict(best.params), "objective": best.objective},
        **(
            {
                "pareto": [
                    {"trial": m.trial, "params": dict(m.params), "objectives": dict(m.objectives)}
                    for m in front
                ]
            }
            if study.spec.multi_objective
            else {}
        ),
        "finishedBecause": finish.reason,
        "succeeded": finish.succeeded,
        "message": finish.message,
        "results": str(results.path),
        "plots": plots,
    }


def write_plots(study: Study, results: ResultsFile, out_dir: Path) -> list[str]:
    try:
        from kubetune.local import plot  # noqa: PLC0415 - matplotlib loads only for plots
    except ImportError as error:  # e.g. in the operator image, which leaves matplotlib out
        print(f"plots skipped: {error}; pip install matplotlib for them", file=sys.stderr)
        return []
    from kubetune.dashboard.local import trial_document  # noqa: PLC0415
    from kubetune.dashboard.pareto import pareto_plot  # noqa: PLC0415
    from kubetune.dashboard.views import curves_plot, objective_plot  # noqa: PLC0415

    metric = study.spec.primary.metric
    maximize = study.spec.primary.goal == "maximize"
    trials = [trial_document(row) for row in results.rows()]
    written = [out_dir / "objective.png"]
    document = study.model_dump(mode="json", by_alias=True, exclude_none=True)
    view = objective_plot(trials, metric, maximize, document["spec"])
    plot.write_objective_plot(view, maximize, written[0])
    if plot.write_curves_plot(curves_plot(trials, metric, maximize), out_dir / "curves.png"):
        written.append(out_dir / "curves.png")
    if study.spec.multi_objective:
        front = pareto_plot(document, trials)
        assert front is not None, "several objectives always give a Pareto view"
        plot.write_pareto_plot(front, out_dir / "pareto.png")
        written.append(out_dir / "pareto.png")
    return [str(p) for p in written]


def command_run(args: argparse.Namespace) -> int:
    from kubetune.engine.samplers.auto import choose  # noqa: PLC0415
    from kubetune.local.gpus import detect_gpus  # noqa: PLC0415
    from kubetune.local.progress import (  # noqa: PLC0415
        Progress,
    )
    from kubetune.local.runner import LocalRunner, RunOptions, Stopped  # noqa: PLC0415
    from kubetune.local.warm_start import load_prior  # noqa: PLC0415

    path = Path(args.file)
    study = read_study(path)
    if study.spec.metrics.prometheus is not None:
        raise UsageError(
            f"{path}: spec.metrics.prometheus: `kubetune run` reads metrics from each trial's "
            "output; a Prometheus source is read by the operator on a cluster. Apply it with "
            "kubectl, or remove spec.metrics.prometheus to run it here."
        )
    gpus = parse_gpus(args.gpus) if args.gpus is not None else detect_gpus()
    out_dir = Path(args.out) if args.out else Path("kubetune-runs") / study.name
    results = open_results(study, out_dir, args.resume, args.fresh)
    spec = study.spec
    maximize = spec.primary.goal == "maximize"
    total = spec.budget.max_trials + len(spec.warm_start.trials)  # warm ones run on top
    progress = Progress(spec.primary.metric, total, maximize, quiet=args.quiet)
    try:
        prior, sources = load_prior(spec, out_dir.resolve().parent)
        sink, tracking = _tracking(study, args.quiet)
        options = RunOptions(out_dir, path.resolve().parent, gpus, prior, tracking)
        runner = LocalRunner(study, results, options, progress)
    except ValueError as error:
        raise UsageError(f"{path}: {error}") from None
    if not args.quiet:
        print(
            f"kubetune {__version__}: study {study.name}, results in {results.path}",
            file=sys.stderr,
        )
        picked = choose(spec)
        print(f"algorithm: {picked.name} ({picked.reason})", file=sys.stderr)
        for source in sources:
            print(f"warm start from {source.describe()}", file=sys.stderr)
    try:
        finish = runner.run()
    except Stopped as stop:
        print(
            f"\nstopped ({stop}); every trial process ended and the results file is consistent. "
            "Continue with: "
            + typed("run", args.file, "--resume", *(["--out", args.out] if args.out else [])),
            file=sys.stderr,
        )
        return 128 + stop.signum
    finally:
        _close_tracking(sink)
        if results.torn_tail is not None and not args.quiet:
            print(
                f"kubetune: the end of {results.path} was cut short by a crash; "
                f"it is kept in {results.torn_tail}",
                file=sys.stderr,
            )
    plots = [] if args.no_plot else write_plots(study, results, out_dir)
    report = summary(study, results, finish, plots)
    _print_outcome(args.output, study, results, report, out_dir)
    return 0 if finish.succeeded else 1


def _print_outcome(
    output: str, study: Study, results: ResultsFile, report: dict[str, Any], out_dir: Path
) -> None:
    """The run's end on stdout: the summary as JSON, or the best trials (the front) as a
    table, then where to look next."""
    from kubetune.engine.decide import feasible_results  # noqa: PLC0415
    from kubetune.local.progress import render_best_table, render_front_table  # noqa: PLC0415

    spec = study.spec
    if output == "json":
        print(json.dumps(report, indent=2, default=float))
        return
    if spec.multi_objective:
        print(render_front_table(report["pareto"], [o.metric for o in spec.goals]))
    else:
        feasible = {t.name for t, _ in feasible_results(spec, results.history(study.name, 0))}
        rows = [r for r in results.rows() if r.name in feasible]
        print(render_best_table(rows, spec.primary.metric, spec.primary.goal == "maximize"))
    print(f"\n{report['trials']} trials; {report['finishedBecause']}: {report['message']}")
    if report["plots"]:
        print("plots: " + ", ".join(report["plots"]))
    print(f"explore it: {typed('dashboard', str(out_dir))}")
    hint = activate_hint()
    if hint is not None:
        print(hint)


def _tracking(study: Study, quiet: bool) -> tuple[Any, Any]:
    """The MLflow sink when MLFLOW_TRACKING_URI is set, and what makes the study's track
    once the results file knows who the study is (a resumed study finds its runs again)."""
    from kubetune.tracking import setup  # noqa: PLC0415

    setup.quiet_client_retries()
    try:
        sink = setup.open_sink(os.environ)
    except setup.TrackingUnavailableError as error:
        print(f"kubetune: {error}", file=sys.stderr)
        return None, None
    if sink is None:
        return None, None
    if not quiet:
        print(f"logging to MLflow at {os.environ[setup.URI_VARIABLE]}", file=sys.stderr)

    def track(results: Any) -> Any:
        where = str(Path(results.path).resolve())
        key = f"local:{where}@{results.opened_at}"
        return setup.open_track(study, key, sink, {"kubetune.results": where})

    return sink, track


def _close_tracking(sink: Any) -> None:
    from kubetune.tracking import setup  # noqa: PLC0415

    if sink is None:
        return

    def waiting(left: int) -> None:
        print(f"kubetune: waiting for MLflow to take {left} more records", file=sys.stderr)

    lost = setup.describe_losses(sink.close(setup.CLOSE_SECONDS, waiting))
    if lost is not None:
        print(f"kubetune: {lost}", file=sys.stderr)


def command_validate(args: argparse.Namespace) -> int:
    study = read_study(Path(args.file))
    print(f"{args.file}: Study {study.name} is valid")
    return 0


def register(commands: Any) -> None:
    run = commands.add_parser("run", help="run a Study locally, trials as processes")
    run.add_argument("file", help="the Study manifest (YAML)")
    run.add_argument("--out", help="results folder (default: kubetune-runs/STUDY)")
    again = run.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue an interrupted study")
    again.add_argument("--fresh", action="store_true", help="start over, keeping the old file")
    run.add_argument("-o", "--output", choices=["text", "json"], default="text")
    run.add_argument("--gpus", help="GPU ids to hand out, e.g. 0,1 (default: detected)")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.add_argument("--no-plot", action="store_true", help="skip the PNG plots")
    run.set_defaults(handler=command_run)

    validate = commands.add_parser("validate", help="check a Study manifest")
    validate.add_argument("file")
    validate.set_defaults(handler=command_validate)

"""The `kubetune` command: `run` a Study locally, `validate` a manifest, render `crds`.

Argument parsing and file handling only; studies run in `kubetune.local`, decisions come from
`kubetune.engine`. Errors users can fix exit with status 2 and a message naming the fix.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from kubetune import __version__

if TYPE_CHECKING:  # the heavy parts load in the commands that need them: --version stays fast
    from kubetune.api import Study
    from kubetune.controller.settings import OperatorSettings
    from kubetune.engine import Finish
    from kubetune.local.results import ResultsFile


class UsageError(Exception):
    """A problem the user can fix; printed without a traceback, exit status 2."""


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
    from kubetune.local.results import ResultsError, ResultsFile  # noqa: PLC0415

    _check_writable(out_dir)
    path = out_dir / "results.jsonl"
    if not path.exists():
        return ResultsFile(path)
    if fresh:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        path.rename(path.with_name(f"results.{stamp}.jsonl"))
        logs = out_dir / "trials"
        if logs.is_dir():  # the new run's trials reuse the names: their logs start empty
            logs.rename(out_dir / f"trials.{stamp}")
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
    from kubetune.engine.decide import feasible_results  # noqa: PLC0415
    from kubetune.local.gpus import detect_gpus  # noqa: PLC0415
    from kubetune.local.progress import (  # noqa: PLC0415
        Progress,
        render_best_table,
        render_front_table,
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
        for source in sources:
            print(f"warm start from {source.describe()}", file=sys.stderr)
    try:
        finish = runner.run()
    except Stopped as stop:
        print(
            f"\nstopped ({stop}); every trial process ended and the results file is consistent. "
            f"Continue with: kubetune run {args.file} --resume"
            + (f" --out {args.out}" if args.out else ""),
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
    if args.output == "json":
        print(json.dumps(report, indent=2, default=float))
    else:
        if spec.multi_objective:
            print(render_front_table(report["pareto"], [o.metric for o in spec.goals]))
        else:
            feasible = {t.name for t, _ in feasible_results(spec, results.history(study.name, 0))}
            rows = [r for r in results.rows() if r.name in feasible]
            print(render_best_table(rows, spec.primary.metric, maximize))
        print(f"\n{report['trials']} trials; {finish.reason}: {finish.message}")
        if plots:
            print("plots: " + ", ".join(plots))
        print(f"explore it: kubetune dashboard {out_dir}")
    return 0 if finish.succeeded else 1


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


def command_convert(args: argparse.Namespace) -> int:
    """A Katib Experiment as a Study; refusals are one line per Katib field, exit 2."""
    from kubetune.api import InvalidStudyError, load_study  # noqa: PLC0415
    from kubetune.convert.conversion import RefusedError  # noqa: PLC0415
    from kubetune.convert.katib import convert_experiment  # noqa: PLC0415
    from kubetune.convert.render import render_study  # noqa: PLC0415
    from kubetune.local.documents import ManifestError, parse_documents  # noqa: PLC0415

    path = Path(args.file)
    try:
        documents = parse_documents(path.read_bytes(), str(path))
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    except ManifestError as error:
        raise UsageError(str(error)) from None
    if len(documents) != 1:
        raise UsageError(f"{path} must hold one Katib Experiment, found {len(documents)} documents")
    reader = _config_map_reader(args) if args.cluster else None
    try:
        converted = convert_experiment(documents[0], reader)
        load_study(converted.study)
    except RefusedError as refused:
        problems = refused.problems
    except InvalidStudyError as invalid:
        problems = [f"the converted Study: {p}" for p in invalid.problems]
    else:
        text = render_study(converted.study, converted.notes, str(path))
        _write_out(text, args.output, f"{len(converted.notes)} notes")
        return 0
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    return 2


def _config_map_reader(args: argparse.Namespace) -> Any:
    from kubetune.controller import kube  # noqa: PLC0415

    client, namespace = _cluster(args)

    def read(name: str, where: str | None, key: str) -> str:
        try:
            data = client.fetch_config_map_data(where or namespace, name)
        except kube.API_ERRORS as error:
            raise LookupError(f"cannot read ConfigMap {name}: {error}") from None
        if data is None:
            raise LookupError(f"no ConfigMap {name} in namespace {where or namespace}")
        if key not in data:
            raise LookupError(f"ConfigMap {name} has no key {key} (it has {sorted(data)})")
        return str(data[key])

    return read


def command_crds(args: argparse.Namespace) -> int:
    from kubetune.api.crd import render_crds  # noqa: PLC0415

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, crd in render_crds().items():
        (out / name).write_text(render_yaml(crd))
        print(f"wrote {out / name}")
    return 0


def render_yaml(document: dict[str, Any]) -> str:
    import yaml  # noqa: PLC0415

    header = "# Generated by `make crds` from kubetune.api; do not edit by hand.\n"
    return header + yaml.safe_dump(document, sort_keys=False, width=100)


def command_operator(args: argparse.Namespace) -> int:
    import logging  # noqa: PLC0415

    import kopf  # noqa: PLC0415 - only the operator needs kopf loaded

    from kubetune.controller import handlers  # noqa: PLC0415 - registers the handlers
    from kubetune.controller.kube import Kube, own_namespace  # noqa: PLC0415
    from kubetune.controller.leader import LeaderElector, default_identity  # noqa: PLC0415
    from kubetune.controller.operator import build_operator, read_secret  # noqa: PLC0415
    from kubetune.controller.telemetry import Telemetry  # noqa: PLC0415

    kopf.configure(verbose=args.verbose)
    if not args.verbose:  # one "Handler ... succeeded." line per watch event drowns the rest
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    telemetry = Telemetry()
    try:
        kube = Kube(on_call=lambda verb: telemetry.api_requests.labels(verb=verb).inc())
        home = args.operator_namespace or own_namespace()
        secret = read_secret(
            kube,
            home,
            args.collector_secret,
            args.collector_secret_file,
            os.environ.get("KUBETUNE_COLLECTOR_SECRET"),
        )
        settings = _operator_settings(args, secret)
    except LookupError as error:
        raise UsageError(f"{error} (in a pod, the service account's own is used)") from None
    except (OSError, ValueError) as error:
        raise UsageError(str(error)) from None
    handlers.watch_workloads(settings.workloads)
    operator = build_operator(settings, kube, telemetry)
    operator.serve()  # the collector and /metrics: served by standbys too
    elector = None
    if args.leader_election:
        elector = LeaderElector(kube, home, args.leader_election)
        if not elector.acquire():
            return 0
        # Losing the Lease means another replica may act already: stop at once, mid-work.
        elector.keep_renewing(on_lost=lambda: os._exit(1))
    try:
        kopf.run(
            # kopf would name itself after getpass.getuser(), which fails for a uid with no
            # passwd entry (the image's 65532, or any runAsUser).
            identity=cast(Any, elector.identity if elector is not None else default_identity()),
            standalone=True,
            namespaces=list(settings.namespaces),
            clusterwide=not settings.namespaces,
            liveness_endpoint=args.liveness,
            memo=kopf.Memo(operator=operator),
        )
    finally:
        if elector is not None:
            elector.release()
    return 0


def _operator_settings(args: argparse.Namespace, secret: bytes | None) -> OperatorSettings:
    """The flags given, over the settings' own defaults (written once, in OperatorSettings)."""
    from kubetune.api.template import WORKLOAD_KINDS  # noqa: PLC0415
    from kubetune.controller.settings import OperatorSettings, parse_address  # noqa: PLC0415

    if secret is None:
        print(
            "kubetune operator: no collector key (--collector-secret, --collector-secret-file "
            "or $KUBETUNE_COLLECTOR_SECRET): using a random one; trials started before a "
            "restart will have their reports refused",
            file=sys.stderr,
        )
        secret = os.urandom(32)
    given: dict[str, Any] = {"secret": secret, "namespaces": tuple(args.namespace or ())}
    given["mlflow_tracking_uri"] = os.environ.get("MLFLOW_TRACKING_URI") or None
    if args.collector_address:
        given["collector_address"] = parse_address(args.collector_address)
    if args.metrics_address is not None:
        given["metrics_address"] = (
            parse_address(args.metrics_address) if args.metrics_address else None
        )
    for flag in ("collector_url", "sidecar_image", "prometheus_url"):
        if getattr(args, flag):
            given[flag] = getattr(args, flag)
    if args.workloads:
        kinds = frozenset(k.strip() for k in args.workloads.split(",") if k.strip())
        unknown = sorted(k for k in kinds - set(WORKLOAD_KINDS) if k.count(".") < 2)
        if unknown or "Job" not in kinds:
            raise ValueError(
                f"--workloads {args.workloads!r}: a comma-separated list of "
                f"{', '.join(WORKLOAD_KINDS)} (or RESOURCE.VERSION.GROUP for any other kind, "
                "e.g. pytorchjobs.v1.kubeflow.org) that includes Job"
            )
        given["workloads"] = kinds
    return OperatorSettings(**given)


def command_sidecar(args: argparse.Namespace) -> int:
    from kubetune.metrics import sidecar  # noqa: PLC0415

    return sidecar.main()


def _cluster(args: argparse.Namespace) -> tuple[Any, str]:
    """A Kube client for the current kubeconfig context, and the namespace to use."""
    from kubetune.controller import kube  # noqa: PLC0415 - only the cluster commands need it

    try:
        namespace = args.namespace or kube.context_namespace()
        return kube.Kube(), namespace
    except LookupError as error:
        raise UsageError(str(error)) from None


def _fetch_study(client: Any, namespace: str, name: str) -> dict[str, Any]:
    from kubetune.controller import kube  # noqa: PLC0415

    try:
        study: dict[str, Any] | None = client.fetch_study(namespace, name)
    except kube.API_ERRORS as error:
        raise UsageError(
            f"cannot reach the cluster of the current kubeconfig context: {error}"
        ) from None
    if study is None:
        raise UsageError(
            f"no Study {name!r} in namespace {namespace!r} (kubectl get studies -A lists them)"
        )
    return study


def _local_results(target: str) -> Path | None:
    """The results file `target` names (a file, or a folder holding results.jsonl), if any."""
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
    local = _local_results(args.study)
    if local is not None:
        return _local_objects(local)
    kube, namespace = _cluster(args)
    study = _fetch_study(kube, namespace, args.study)
    return study, (kube.list_trials(namespace, args.study) if with_trials else [])


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


def command_logs(args: argparse.Namespace) -> int:
    from kubetune.controller.kube import API_ERRORS, describe  # noqa: PLC0415

    kube, namespace = _cluster(args)
    if kube.fetch_trial(namespace, args.trial) is None:
        raise UsageError(f"no Trial {args.trial!r} in namespace {namespace!r}")
    pods = kube.list_pods(namespace, f"kubetune.io/trial={args.trial}")
    if not pods:
        raise UsageError(
            f"Trial {args.trial!r} has no pod (not yet, or no more: a Job's pods go with it)"
        )
    # The reporting pod (a JobSet's or TrainJob's trial has several: rank 0 reports, by its
    # kind's rule), its latest attempt.
    reporting = [p for p in pods if _reports(p["metadata"].get("labels") or {})] or pods
    pod = max(reporting, key=lambda p: p["metadata"].get("creationTimestamp") or "")
    container = pod["spec"]["containers"][0]["name"]
    try:
        print(kube.fetch_logs(namespace, pod["metadata"]["name"], container, args.tail), end="")
    except API_ERRORS as error:
        raise UsageError(
            f"cannot read the logs of pod {pod['metadata']['name']}: {describe(error)}"
        ) from None
    return 0


def _reports(labels: dict[str, str]) -> bool:
    from kubetune.controller.manifests import WORKLOAD_LABEL  # noqa: PLC0415
    from kubetune.controller.workloads.registry import KINDS  # noqa: PLC0415
    from kubetune.metrics.wire import rank_zero  # noqa: PLC0415

    kind = KINDS.get(labels.get(WORKLOAD_LABEL, ""))
    return kind.reports(labels) if kind is not None else rank_zero(labels)


def _snapshot(args: argparse.Namespace) -> Any:
    """The one study that `export` and `report` name: a results folder or file, else a
    Study on the cluster."""
    from kubetune.dashboard.sources import ClusterSource, LocalSource, SourceError  # noqa: PLC0415

    local = _local_results(args.study)
    if local is not None:
        source = LocalSource([local])
        found = source.studies()
        if not found:
            problems = source.errors() or ["it holds no study yet"]
            raise UsageError(f"{local}: {problems[0]}")
        return found[0]
    kube, namespace = _cluster(args)
    try:
        snapshot = ClusterSource(kube, [namespace]).snapshot(f"{namespace}:{args.study}")
    except SourceError as error:
        raise UsageError(str(error)) from None
    if snapshot is None:
        raise UsageError(
            f"no Study {args.study!r} in namespace {namespace!r} "
            "(kubectl get studies -A lists them)"
        )
    return snapshot


def command_export(args: argparse.Namespace) -> int:
    from kubetune.dashboard.export import export_csv, export_json  # noqa: PLC0415

    if args.tensorboard:
        return _export_tensorboard(args)
    snapshot = _snapshot(args)
    if args.output == "csv":
        text = export_csv(snapshot.study, snapshot.trials)
    else:
        text = export_json(snapshot.study, snapshot.trials, time.time()) + "\n"
    _write_out(text, args.file, f"{len(snapshot.trials)} trials")
    return 0


def _write_out(text: str, file: str | None, what: str) -> None:
    """`text` into `file` (saying so on stderr), or onto standard output."""
    if not file:
        print(text, end="")
        return
    try:
        Path(file).write_text(text)
    except OSError as error:
        raise UsageError(f"{file}: cannot write it ({error.strerror})") from None
    print(f"wrote {what} to {file}", file=sys.stderr)


def _export_tensorboard(args: argparse.Namespace) -> int:
    try:
        from kubetune.dashboard.hparams import export_hparams  # noqa: PLC0415
    except ImportError:
        raise UsageError(
            "--tensorboard writes with TensorBoard's own summaries: pip install "
            "'kubetune[tensorboard]' (or tensorboard) first"
        ) from None
    snapshot = _snapshot(args)
    out = Path(args.tensorboard)
    try:
        runs = export_hparams(snapshot.study, snapshot.trials, out, time.time())
    except OSError as error:
        raise UsageError(f"--tensorboard {out}: cannot write there ({error.strerror})") from None
    print(
        f"wrote {runs} trials of {snapshot.study['metadata']['name']} to {out} in TensorBoard's "
        f"HParams format; see them with: tensorboard --logdir {out}",
        file=sys.stderr,
    )
    return 0


def command_report(args: argparse.Namespace) -> int:
    from kubetune.dashboard.report import render_report  # noqa: PLC0415

    snapshot = _snapshot(args)
    page = render_report(snapshot, time.time())
    out = Path(args.output or f"{snapshot.study['metadata']['name']}.html")
    try:
        out.write_text(page)
    except OSError as error:
        raise UsageError(f"-o {out}: cannot write it ({error.strerror})") from None
    print(f"wrote {out} ({len(page) // 1024} KiB, {len(snapshot.trials)} trials)", file=sys.stderr)
    return 0


def command_dashboard(args: argparse.Namespace) -> int:
    paths = [Path(p) for p in args.paths]
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such results folder or file")
    from kubetune.dashboard.server import Dashboard  # noqa: PLC0415
    from kubetune.dashboard.sources import ClusterSource, LocalSource, Source, Sources  # noqa: PLC0415

    sources: list[Source] = []
    default_runs = Path("kubetune-runs")
    if paths or not args.cluster:
        local = paths or ([default_runs] if default_runs.is_dir() else [])
        if local:
            sources.append(LocalSource(local))
    if args.cluster or not paths:
        from kubetune.controller import kube  # noqa: PLC0415

        try:
            sources.append(ClusterSource(kube.Kube(), args.namespace))
        except LookupError as error:
            if args.cluster:
                raise UsageError(str(error)) from None
    if not sources:
        raise UsageError(
            "nothing to show: no kubetune-runs/ here and no usable kubeconfig; give results "
            "folders (kubetune dashboard kubetune-runs/STUDY) or --cluster with a kubeconfig"
        )
    every = Sources(sources)
    every.studies()  # read the results files now, not when the first page asks
    try:
        dashboard = Dashboard(every)
        server = dashboard.serve(args.host, args.port)
    except OSError as error:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {error.strerror}") from None
    host, port = str(server.server_address[0]), int(server.server_address[1])
    shown = ", ".join(
        ", ".join(map(str, s.paths)) if isinstance(s, LocalSource) else "the cluster"
        for s in sources
    )
    # SIGTERM ends it at once: in a pod it is PID 1, for which an unhandled SIGTERM is ignored
    # (every rollout would wait out the 30 s grace period, then SIGKILL). Handled before the
    # address is printed, which is when a supervisor may first signal it.
    signal.signal(
        signal.SIGTERM, lambda signum, frame: threading.Thread(target=server.shutdown).start()
    )
    print(f"kubetune dashboard: http://{host}:{port}/ ({shown}); Ctrl-C stops it", flush=True)
    threading.Thread(target=dashboard.warm, name="warm-up", daemon=True).start()
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def _add_dashboard_commands(commands: Any) -> None:
    dashboard = commands.add_parser(
        "dashboard", help="a web page of every study: local results and the cluster's, read-only"
    )
    dashboard.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="results files or folders of them (default kubetune-runs/, and the cluster when "
        "a kubeconfig is usable)",
    )
    dashboard.add_argument(
        "--cluster", action="store_true", help="also show the cluster's Studies (kubeconfig)"
    )
    dashboard.add_argument(
        "-n", "--namespace", action="append", help="only this namespace (repeat); default all"
    )
    dashboard.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    dashboard.add_argument("--port", type=int, default=8686, help="port (8686; 0 picks one)")
    dashboard.add_argument("--verbose", action="store_true", help="log every request")
    dashboard.set_defaults(handler=command_dashboard)

    for name, help_text in (
        ("export", "a study's trials as CSV or JSON"),
        ("report", "a study's dashboard page as one self-contained HTML file"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument(
            "study", help="a local results folder or file, or a Study's name on the cluster"
        )
        sub.add_argument("-n", "--namespace", help="default: the kubeconfig context's namespace")
        if name == "export":
            sub.add_argument("-o", "--output", choices=["csv", "json"], default="csv")
            sub.add_argument("--file", help="write here instead of standard output")
            sub.add_argument(
                "--tensorboard",
                metavar="DIR",
                help="instead: the study in TensorBoard's HParams format, a run per trial "
                "(tensorboard --logdir DIR)",
            )
            sub.set_defaults(handler=command_export)
        else:
            sub.add_argument("-o", "--output", metavar="FILE", help="default: STUDY.html")
            sub.set_defaults(handler=command_report)


def _add_convert_command(commands: Any) -> None:
    convert = commands.add_parser(
        "convert", help="a Katib Experiment (kubeflow.org/v1beta1) as the equivalent Study"
    )
    convert.add_argument("file", metavar="EXPERIMENT.yaml")
    convert.add_argument("-o", "--output", metavar="STUDY.yaml", help="default: standard output")
    convert.add_argument(
        "--cluster",
        action="store_true",
        help="read a trialTemplate.configMap from the cluster (current kubeconfig)",
    )
    convert.add_argument("-n", "--namespace", help="for --cluster: the ConfigMap's default")
    convert.set_defaults(handler=command_convert)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kubetune", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"kubetune {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a Study locally, trials as processes")
    run.add_argument("file", help="the Study manifest (YAML)")
    run.add_argument("--out", help="results folder (default: kubetune-runs/STUDY)")
    again = run.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue an interrupted study")
    again.add_argument("--fresh", action="store_true", help="start over, keeping the old file")
    run.add_argument("--output", choices=["text", "json"], default="text")
    run.add_argument("--gpus", help="GPU ids to hand out, e.g. 0,1 (default: detected)")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.add_argument("--no-plot", action="store_true", help="skip the PNG plots")
    run.set_defaults(handler=command_run)

    validate = commands.add_parser("validate", help="check a Study manifest")
    validate.add_argument("file")
    validate.set_defaults(handler=command_validate)

    operator = commands.add_parser("operator", help="run the Kubernetes operator (kopf)")
    operator.add_argument(
        "--namespace", action="append", help="watch this namespace (repeat); default all"
    )
    operator.add_argument(
        "--collector-address", help="collector listen address (default 0.0.0.0:8443)"
    )
    operator.add_argument("--collector-url", help="the URL sidecars post reports to")
    operator.add_argument(
        "--workloads",
        help="kinds trials may run as, e.g. Job,JobSet,TrainJob,pytorchjobs.v1.kubeflow.org "
        "(default: every kind kubetune knows by name; "
        "its RBAC must allow each)",
    )
    operator.add_argument("--sidecar-image", help="image of the metrics sidecar")
    operator.add_argument(
        "--metrics-address",
        help="the operator's own /metrics (default 0.0.0.0:8080; empty: off)",
    )
    operator.add_argument(
        "--leader-election",
        metavar="LEASE",
        help="act only while holding this Lease (for several replicas); default: always act",
    )
    operator.add_argument(
        "--prometheus-url", help="Prometheus for Studies whose metrics.prometheus has no url"
    )
    operator.add_argument(
        "--collector-secret",
        metavar="SECRET",
        help="Secret holding the collector's HMAC key (key `secret`); created if missing",
    )
    operator.add_argument(
        "--collector-secret-file",
        metavar="PATH",
        help="a file holding the collector's HMAC key (a mounted Secret of your own)",
    )
    operator.add_argument(
        "--operator-namespace",
        help="where the Lease and the key Secret live (default $POD_NAMESPACE, else kubeconfig's)",
    )
    operator.add_argument("--liveness", help="liveness endpoint, e.g. http://0.0.0.0:8081/healthz")
    operator.add_argument("--verbose", action="store_true")
    operator.set_defaults(handler=command_operator)

    for name, target, help_text in (
        ("status", "study", "a Study's phase, progress, best trial and recent stops"),
        ("trials", "study", "a Study's trials, best first"),
        ("best", "study", "the best trial as JSON or YAML"),
        ("logs", "trial", "the trainer's output of a trial's pod"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument(
            target,
            help="a Study's name on the cluster"
            + (
                ", or a local results folder or file (kubetune-runs/STUDY)"
                if target == "study"
                else ""
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

    _add_dashboard_commands(commands)

    sidecar = commands.add_parser("sidecar", help="the metrics sidecar in a trial pod (reads env)")
    sidecar.set_defaults(handler=command_sidecar)

    _add_convert_command(commands)

    crds = commands.add_parser("crds", help="write the CRDs generated from the API models")
    crds.add_argument("--out", default="crds")
    crds.set_defaults(handler=command_crds)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except UsageError as error:
        print(f"kubetune: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C before a run began, or in a cluster command
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())

"""`kubetune export`, `report` and `dashboard`: what a study learned, as data, as one HTML
page, or served live; each finds the study it is given by name or path (see `finding`)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from kubetune.cli.finding import RUNS, Found, find_study
from kubetune.cli.usage import UsageError, output_and_file, write_out


def _snapshot(args: argparse.Namespace) -> Any:
    """The one study that `export` and `report` name."""
    from kubetune.dashboard.sources import ClusterSource, LocalSource, SourceError  # noqa: PLC0415

    found: Found = find_study(args.study, args.namespace)
    if found.results is not None:
        source = LocalSource([found.results])
        studies = source.studies()
        if not studies:
            problems = source.errors() or ["it holds no study yet"]
            raise UsageError(f"{found.results}: {problems[0]}")
        return studies[0]
    try:
        snapshot = ClusterSource(found.kube, [found.namespace]).snapshot(
            f"{found.namespace}:{args.study}"
        )
    except SourceError as error:
        raise UsageError(str(error)) from None
    if snapshot is None:  # deleted between the two reads
        raise UsageError(f"no Study {args.study!r} in namespace {found.namespace!r} any more")
    return snapshot


def command_export(args: argparse.Namespace) -> int:
    from kubetune.dashboard.export import export_csv, export_json  # noqa: PLC0415

    if args.tensorboard:
        return _export_tensorboard(args)
    snapshot = _snapshot(args)
    output, file = output_and_file(args.output, args.file, ("csv", "json"))
    if output == "csv":
        text = export_csv(snapshot.study, snapshot.trials)
    else:
        text = export_json(snapshot.study, snapshot.trials, time.time()) + "\n"
    write_out(text, file, f"{len(snapshot.trials)} trials")
    return 0


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

    _, file = output_and_file(args.output, args.file, ("html",))
    snapshot = _snapshot(args)
    page = render_report(snapshot, time.time())
    out = Path(file or f"{snapshot.study['metadata']['name']}.html")
    try:
        out.write_text(page)
    except OSError as error:
        raise UsageError(f"--file {out}: cannot write it ({error.strerror})") from None
    print(f"wrote {out} ({len(page) // 1024} KiB, {len(snapshot.trials)} trials)", file=sys.stderr)
    return 0


def _dashboard_targets(
    given: list[str], namespace: str | None
) -> tuple[list[Path], list[tuple[str, str]], Any]:
    """What `kubetune dashboard` was given: results paths, and names found locally (their
    folders) or on the cluster ((namespace, name), with the client that found them)."""
    paths: list[Path] = []
    named: list[tuple[str, str]] = []
    kube = None
    for target in given:
        if Path(target).exists():
            paths.append(Path(target))
            continue
        found = find_study(target, namespace)
        if found.results is not None:
            paths.append(found.results.parent)
        else:
            kube = found.kube
            named.append((found.namespace, target))
    return paths, named, kube


def command_dashboard(args: argparse.Namespace) -> int:
    from kubetune.dashboard.server import Dashboard  # noqa: PLC0415
    from kubetune.dashboard.sources import ClusterSource, LocalSource, Source, Sources  # noqa: PLC0415

    paths, named, kube = _dashboard_targets(args.targets, args.namespace and args.namespace[0])
    sources: list[Source] = []
    if paths or not (args.cluster or named):
        local = paths or ([RUNS] if RUNS.is_dir() and not args.targets else [])
        if local:
            sources.append(LocalSource(local))
    if named:
        sources.append(ClusterSource(kube, sorted({ns for ns, _ in named})))
    elif args.cluster or not args.targets:
        from kubetune.controller import kube as kube_module  # noqa: PLC0415

        try:  # every namespace given (or all): no context namespace needed, as in a pod
            sources.append(ClusterSource(kube_module.Kube(), args.namespace))
        except LookupError as error:
            if args.cluster:
                raise UsageError(str(error)) from None
    if not sources:
        raise UsageError(
            "nothing to show: no kubetune-runs/ here and no usable kubeconfig; give a study's "
            "name, results folders (kubetune dashboard kubetune-runs/STUDY) or --cluster with "
            "a kubeconfig"
        )
    every = Sources(sources)
    studies, _ = every.studies()  # read the results files now, not when the first page asks
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
    # Named one study: the address opens its page.
    page = f"#/study/{studies[0].key}" if len(args.targets) == 1 and len(studies) == 1 else ""
    # SIGTERM ends it at once: in a pod it is PID 1, for which an unhandled SIGTERM is ignored
    # (every rollout would wait out the 30 s grace period, then SIGKILL). Handled before the
    # address is printed, which is when a supervisor may first signal it.
    signal.signal(
        signal.SIGTERM, lambda signum, frame: threading.Thread(target=server.shutdown).start()
    )
    print(f"kubetune dashboard: http://{host}:{port}/{page} ({shown}); Ctrl-C stops it", flush=True)
    threading.Thread(target=dashboard.warm, name="warm-up", daemon=True).start()
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def register(commands: Any) -> None:
    dashboard = commands.add_parser(
        "dashboard", help="a web page of every study: local results and the cluster's, read-only"
    )
    dashboard.add_argument(
        "targets",
        nargs="*",
        metavar="STUDY",
        help="study names (on the cluster, else in ./kubetune-runs) or results files or "
        "folders of them (default: kubetune-runs/, and the cluster when a kubeconfig is usable)",
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
            "study",
            help="a Study's name (on the cluster, else in ./kubetune-runs), or a results "
            "folder or file",
        )
        sub.add_argument("-n", "--namespace", help="default: the kubeconfig context's namespace")
        if name == "export":
            sub.add_argument("-o", "--output", metavar="FORMAT", help="csv (default) or json")
            sub.add_argument("--file", help="write here instead of standard output")
            sub.add_argument(
                "--tensorboard",
                metavar="DIR",
                help="instead: the study in TensorBoard's HParams format, a run per trial "
                "(tensorboard --logdir DIR)",
            )
            sub.set_defaults(handler=command_export)
        else:
            sub.add_argument("-o", "--output", metavar="FORMAT", help="html (the only one)")
            sub.add_argument("--file", help="where to write the page (default: STUDY.html)")
            sub.set_defaults(handler=command_report)

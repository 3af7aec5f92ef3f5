"""`kubetune convert`: a Katib Experiment (kubeflow.org/v1beta1) as the equivalent Study;
what cannot be carried is a comment in the output or a refusal, one line per Katib field."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kubetune.cli.finding import cluster_or_fail
from kubetune.cli.usage import UsageError, output_and_file, write_out


def command_convert(args: argparse.Namespace) -> int:
    """A Katib Experiment as a Study; refusals are one line per Katib field, exit 2."""
    from kubetune.api import InvalidStudyError, load_study  # noqa: PLC0415
    from kubetune.convert.conversion import RefusedError  # noqa: PLC0415
    from kubetune.convert.katib import convert_experiment  # noqa: PLC0415
    from kubetune.convert.render import render_study  # noqa: PLC0415
    from kubetune.local.documents import ManifestError, parse_documents  # noqa: PLC0415

    path = Path(args.file_in)
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
        write_out(
            text,
            output_and_file(args.output, args.file, ("yaml",))[1],
            f"{len(converted.notes)} notes",
        )
        return 0
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    return 2


def _config_map_reader(args: argparse.Namespace) -> Any:
    from kubetune.controller import kube  # noqa: PLC0415

    client, namespace = cluster_or_fail(args.namespace)

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


def register(commands: Any) -> None:
    convert = commands.add_parser(
        "convert", help="a Katib Experiment (kubeflow.org/v1beta1) as the equivalent Study"
    )
    convert.add_argument("file_in", metavar="EXPERIMENT.yaml")
    convert.add_argument(
        "-o",
        "--output",
        metavar="FORMAT",
        help="yaml (the only format); -o STUDY.yaml also writes that file",
    )
    convert.add_argument("--file", metavar="STUDY.yaml", help="default: standard output")
    convert.add_argument(
        "--cluster",
        action="store_true",
        help="read a trialTemplate.configMap from the cluster (current kubeconfig)",
    )
    convert.add_argument("-n", "--namespace", help="for --cluster: the ConfigMap's default")
    convert.set_defaults(handler=command_convert)

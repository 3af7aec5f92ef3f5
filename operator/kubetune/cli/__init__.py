"""The `kubetune` command: `run` a Study locally, look at studies (`status`, `trials`, `best`,
`logs`, `export`, `report`, `dashboard`) on the cluster or in `./kubetune-runs`, `validate`
and `convert` manifests, and the cluster's own commands (`operator`, `sidecar`, `crds`).

One module per command family, each registering its subcommands; they share one way to find a
study (`finding`) and one way to talk to the user (`usage`). Errors users can fix exit with
status 2 and a message naming the fix; the heavy parts load inside the commands that need them,
so that `kubetune --version` stays fast.
"""

from __future__ import annotations

import argparse
import sys

from kubetune import __version__
from kubetune.cli import converting, inspecting, records, running, serving
from kubetune.cli.usage import UsageError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubetune", description="Tune hyperparameters on Kubernetes, or locally."
    )
    parser.add_argument("--version", action="version", version=f"kubetune {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    for family in (running, inspecting, records, converting, serving):
        family.register(commands)
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

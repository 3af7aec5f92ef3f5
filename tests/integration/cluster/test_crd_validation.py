"""Every bad manifest of the table is refused by the real API server, naming the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from kubetune.convert.katib import convert_experiment

from .conftest import ROOT, Cluster
from bad_manifests import CASES, Mutate
from factories import manifest
from katib_experiments import CONVERTIBLE

pytestmark = pytest.mark.cluster
SERVER_CASES = [c for c in CASES if c[4] is not None]


def dry_run(cluster: Cluster, document: dict[str, Any], namespace: str) -> Any:
    """What the API server says of `document` (`kubectl apply --dry-run=server`)."""
    return cluster.kubectl(
        "apply",
        "--dry-run=server",
        "-f",
        "-",
        stdin=json.dumps(document),
        namespace=namespace,
        check=False,
    )


@pytest.fixture(scope="module")
def studies_crd(cluster: Cluster) -> None:
    cluster.kubectl("apply", "-f", str(ROOT / "crds"))
    cluster.kubectl(
        "wait", "--for=condition=Established", "crd/studies.kubetune.io", "--timeout=60s"
    )


@pytest.mark.parametrize(
    ("mutate", "server_path"),
    [(c[1], c[4]) for c in SERVER_CASES],
    ids=[c[0] for c in SERVER_CASES],
)
def test_the_api_server_refuses_it_naming_the_field(
    cluster: Cluster, studies_crd: None, namespace: str, mutate: Mutate, server_path: str
) -> None:
    bad = manifest()
    mutate(bad)
    refused = dry_run(cluster, bad, namespace)
    assert refused.returncode != 0, f"accepted:\n{refused.stdout}"
    assert server_path in refused.stderr, refused.stderr


EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


@pytest.mark.parametrize(
    "document",
    [manifest(), *(yaml.safe_load(p.read_text()) for p in EXAMPLES)],
    ids=["factory", *(p.stem for p in EXAMPLES)],
)
def test_the_api_server_accepts_a_good_one(
    cluster: Cluster, studies_crd: None, namespace: str, document: dict[str, Any]
) -> None:
    """The factory's manifest and every example (examples/conditional.yaml's `when`s too)."""
    accepted = dry_run(cluster, document, namespace)
    assert accepted.returncode == 0, accepted.stderr


@pytest.mark.parametrize("build", CONVERTIBLE.values(), ids=CONVERTIBLE.keys())
def test_the_api_server_accepts_every_study_kubetune_convert_makes(
    cluster: Cluster, studies_crd: None, namespace: str, build: Callable[[], dict[str, Any]]
) -> None:
    study = convert_experiment(build()).study
    study["metadata"]["namespace"] = namespace
    accepted = dry_run(cluster, study, namespace)
    assert accepted.returncode == 0, accepted.stderr

"""manifests/ (for `kubectl apply -k` without Helm): in step with the chart, and accepted
by the real API server."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from .conftest import ROOT, Cluster

pytestmark = pytest.mark.cluster
MANIFESTS = ROOT / "manifests"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_manifests", ROOT / "hack/gen-manifests.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_manifests_are_the_chart_rendered_and_not_stale(cluster: Cluster) -> None:
    expected: dict[str, str] = generator().generate(str(cluster.tool("helm")))
    committed = {p.name: p.read_text() for p in MANIFESTS.glob("*.yaml")}
    assert committed.keys() == expected.keys(), "run `make manifests`"
    for name, content in expected.items():
        assert committed[name] == content, f"manifests/{name} is stale: run `make manifests`"


def test_kubectl_apply_k_is_accepted_by_the_api_server(cluster: Cluster) -> None:
    namespace = generator().NAMESPACE
    if cluster.kubectl("get", "namespace", namespace, check=False).returncode != 0:
        cluster.kubectl("create", "namespace", namespace)  # dry-run objects need it to exist
    out = cluster.kubectl("apply", "-k", str(MANIFESTS), "--dry-run=server").stdout
    for kind, name in (
        ("customresourcedefinition.apiextensions.k8s.io", "studies.kubetune.io"),
        ("deployment.apps", "kubetune"),
        ("clusterrole.rbac.authorization.k8s.io", "kubetune"),
        ("role.rbac.authorization.k8s.io", "kubetune-home"),
        ("service", "kubetune"),
    ):
        assert f"{kind}/{name}" in out, out

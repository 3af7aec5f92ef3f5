"""The Helm chart: lint and template for every option, install onto the local cluster, and a
full study run by an operator holding nothing but the chart's ServiceAccount identity."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetune import __version__

from .conftest import ROOT, Cluster, wait_until
from .operator_harness import Operator, Player, report_and_finish
from .test_operator import study

pytestmark = pytest.mark.cluster
CHART = ROOT / "charts" / "kubetune"
RELEASE, NAMESPACE = "kubetune", "kubetune-system"


def rendered(cluster: Cluster, *values: str) -> list[dict[str, Any]]:
    out = cluster.helm("template", RELEASE, str(CHART), "--namespace", NAMESPACE, *values)
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.mark.parametrize(
    "values", [[], ["-f", str(CHART / "ci-all-options.yaml")]], ids=["defaults", "all-options"]
)
def test_the_chart_lints(cluster: Cluster, values: list[str]) -> None:
    assert "0 chart(s) failed" in cluster.helm("lint", str(CHART), *values)


def test_defaults_render_a_least_privilege_cluster_role_and_a_locked_down_pod(
    cluster: Cluster,
) -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in rendered(cluster)}
    role = docs[("ClusterRole", "kubetune")]
    granted = {
        (g, r, v)
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }
    assert ("", "secrets", "get") not in granted and not any(r == "secrets" for _, r, _ in granted)
    assert ("batch", "jobs", "create") in granted and (
        "kubetune.io",
        "trials/status",
        "patch",
    ) in granted
    assert not any(v in ("*", "update", "deletecollection") for _, _, v in granted)
    assert not any(g == "kueue.x-k8s.io" for g, _, _ in granted)  # only with kueue.enabled
    assert not any(g == "jobset.x-k8s.io" for g, _, _ in granted)  # only with jobset.enabled
    assert not any(g == "trainer.kubeflow.org" for g, _, _ in granted)  # trainer.enabled
    assert not any(kind == "ClusterTrainingRuntime" for kind, _ in docs)
    operator_args = docs[("Deployment", "kubetune")]["spec"]["template"]["spec"]["containers"][0]
    assert "--workloads=Job" in operator_args["args"]
    pod = docs[("Deployment", "kubetune")]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["image"] == f"kubetune/kubetune:{__version__}"  # the package's version
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == chart["version"] == __version__
    assert ("PodDisruptionBudget", "kubetune") not in docs
    assert "--collector-secret=kubetune-collector" in container["args"]
    home = docs[("Role", "kubetune-home")]
    assert home["metadata"]["namespace"] == NAMESPACE
    secret_rules = [r for r in home["rules"] if "secrets" in r["resources"]]
    assert [(r["verbs"], r.get("resourceNames")) for r in secret_rules] == [
        (["create"], None),
        (["get"], ["kubetune-collector"]),  # its own key, by name; no list, no other Secret
    ]
    assert rendered(cluster) == rendered(cluster)  # no random values: GitOps-safe, manifests/


def test_no_secret_is_rendered_so_template_and_install_agree(cluster: Cluster) -> None:
    assert not [d for d in rendered(cluster) if d["kind"] == "Secret"]


def test_all_options_render_namespaced_roles_ha_and_monitoring(cluster: Cluster) -> None:
    docs = rendered(cluster, "-f", str(CHART / "ci-all-options.yaml"))
    kinds = [d["kind"] for d in docs]
    assert [d["metadata"]["name"] for d in docs if d["kind"] == "ClusterRole"] == [
        "kubetune-discovery",
        "kubetune-view",
        "kubetune-edit",
    ]
    assert sorted(
        d["metadata"]["namespace"]
        for d in docs
        if d["kind"] == "Role" and d["metadata"]["name"] == "kubetune"
    ) == ["team-a", "team-b"]
    assert {"PodDisruptionBudget", "ServiceMonitor"} <= set(kinds)
    deployment = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "kubetune"
    )
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=team-a" in args and "--leader-election=kubetune" in args
    assert "--prometheus-url=http://prometheus-server.monitoring.svc:9090" in args
    kueue = {
        (r["resources"][0], v)
        for d in docs
        if d["kind"] == "Role" and d["metadata"]["name"] == "kubetune"
        for r in d["rules"]
        if r["apiGroups"] == ["kueue.x-k8s.io"]
        for v in r["verbs"]
    }
    assert kueue == {("workloads", "get"), ("workloads", "list")}  # read only
    jobsets = {
        v
        for d in docs
        if d["kind"] == "Role" and d["metadata"]["name"] == "kubetune"
        for r in d["rules"]
        if r["apiGroups"] == ["jobset.x-k8s.io"]
        for v in r["verbs"]
    }
    assert jobsets == {"get", "list", "watch", "create", "delete"}
    workloads = {
        (g, r): set(rule["verbs"])
        for d in docs
        if d["kind"] == "Role" and d["metadata"]["name"] == "kubetune"
        for rule in d["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        if g in ("trainer.kubeflow.org", "kubeflow.org")
    }
    assert workloads == {
        ("trainer.kubeflow.org", "trainjobs"): {"get", "list", "watch", "create", "delete"},
        ("trainer.kubeflow.org", "trainingruntimes"): {"get"},
        ("kubeflow.org", "pytorchjobs"): {"get", "list", "watch", "create", "delete"},
    }
    assert "--workloads=Job,JobSet,TrainJob,pytorchjobs.v1.kubeflow.org" in args
    discovery = next(d for d in docs if d["metadata"]["name"] == "kubetune-discovery")
    assert {
        "apiGroups": ["trainer.kubeflow.org"],
        "resources": ["clustertrainingruntimes"],
        "verbs": ["get"],
    } in discovery["rules"]  # cluster-scoped: readable with namespaced Roles too
    (runtime,) = [d for d in docs if d["kind"] == "ClusterTrainingRuntime"]
    assert runtime["metadata"]["name"] == "tune-torch"
    node = runtime["spec"]["template"]["spec"]["replicatedJobs"][0]
    pod = node["template"]["spec"]["template"]["spec"]
    assert node["name"] == "node" and pod["containers"][0]["image"] == "registry.example/torch:2"
    assert pod["initContainers"][0]["name"] == "kubetune-metrics"
    assert pod["initContainers"][0]["image"] == "registry.example/kubetune-sidecar:9.9.9"
    lease_role = next(d for d in docs if d["metadata"]["name"] == "kubetune-home")
    assert lease_role["metadata"]["namespace"] == NAMESPACE  # the Lease: release namespace only
    assert (
        deployment["spec"]["template"]["spec"]["volumes"][0]["secret"]["secretName"]
        == "my-collector-key"
    )
    home = next(d for d in docs if d["metadata"]["name"] == "kubetune-home")
    assert not [r for r in home["rules"] if "secrets" in r["resources"]]  # it is mounted
    # The dashboard: read-only Roles in the watched namespaces, scoped to them, never a
    # ClusterRole; its own pods (the operator's selector does not match them); an Ingress.
    board = {
        (d["kind"], d["metadata"].get("namespace")): d
        for d in docs
        if d["metadata"]["name"] == "kubetune-dashboard"
    }
    assert {ns for kind, ns in board if kind == "Role"} == {"team-a", "team-b"}
    verbs = {
        v
        for (kind, _), d in board.items()
        if kind == "Role"
        for r in d["rules"]
        for v in r["verbs"]
    }
    assert verbs == {"get", "list", "watch"}
    dashboard = board[("Deployment", NAMESPACE)]["spec"]
    assert dashboard["template"]["spec"]["serviceAccountName"] == "kubetune-dashboard"
    assert "--namespace=team-b" in dashboard["template"]["spec"]["containers"][0]["args"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    labels = dashboard["template"]["metadata"]["labels"]
    assert not selector.items() <= labels.items()
    assert board[("Ingress", NAMESPACE)]["spec"]["rules"][0]["host"] == "tune.example"
    assert board[("Service", NAMESPACE)]["spec"]["type"] == "NodePort"


@pytest.fixture(scope="module")
def installed(cluster: Cluster) -> Iterator[str]:
    cluster.install_chart(RELEASE, NAMESPACE, "--create-namespace", "--wait=false")
    yield RELEASE
    cluster.helm("uninstall", RELEASE, "--namespace", NAMESPACE)


def test_helm_install_establishes_crds_and_rbac(cluster: Cluster, installed: str) -> None:
    for crd in ("studies.kubetune.io", "trials.kubetune.io"):
        cluster.kubectl("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")
    assert cluster.get("clusterrole", "kubetune")["rules"]
    assert cluster.get("serviceaccount", "kubetune", namespace=NAMESPACE)


def test_whoever_may_view_a_namespace_reads_its_studies_and_edit_may_start_them(
    cluster: Cluster, installed: str, namespace: str
) -> None:
    """The chart's user roles, aggregated into Kubernetes' own `view` and `edit`: a notebook's
    identity needs nothing kubetune-specific bound to it."""
    for role in ("view", "edit"):
        cluster.kubectl("create", "serviceaccount", role, namespace=namespace)
        cluster.kubectl(
            "create",
            "rolebinding",
            role,
            f"--clusterrole={role}",
            f"--serviceaccount={namespace}:{role}",
            namespace=namespace,
        )

    def can(role: str, verb: str, resource: str, *more: str) -> bool:
        done = cluster.kubectl(
            "auth",
            "can-i",
            verb,
            resource,
            *more,
            f"--as=system:serviceaccount:{namespace}:{role}",
            namespace=namespace,
            check=False,
        )
        return done.stdout.strip() == "yes"

    def aggregated() -> bool:  # the controller manager fills the built-in roles' rules
        return can("view", "watch", "trials.kubetune.io") and can(
            "edit", "create", "studies.kubetune.io"
        )

    wait_until(aggregated, 60, "the chart's roles aggregated into view and edit")
    for verb in ("get", "list", "watch"):
        assert can("view", verb, "studies.kubetune.io") and can("view", verb, "trials.kubetune.io")
    assert can("view", "get", "pods", "--subresource=log")  # Client.logs
    for verb in ("create", "patch", "delete"):
        assert not can("view", verb, "studies.kubetune.io")
        assert can("edit", verb, "studies.kubetune.io")
    assert can("edit", "create", "configmaps")  # tune(backend="cluster") ships its function
    assert not can("edit", "patch", "studies.kubetune.io", "--subresource=status")  # operator's
    assert not can("edit", "create", "trials.kubetune.io")


def token_kubeconfig(cluster: Cluster, tmp_path: Path) -> Path:
    """A kubeconfig that authenticates as the chart's ServiceAccount (TokenRequest API)."""
    token = cluster.kubectl(
        "create", "token", "kubetune", "--duration=1h", namespace=NAMESPACE
    ).stdout.strip()
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    admin["users"] = [{"name": "kubetune-sa", "user": {"token": token}}]
    admin["contexts"][0]["context"]["user"] = "kubetune-sa"
    path = tmp_path / "sa.kubeconfig"
    path.write_text(yaml.safe_dump(admin))
    return path


def test_a_study_runs_under_the_charts_service_account_and_no_more(
    cluster: Cluster, installed: str, namespace: str, tmp_path: Path
) -> None:
    kubeconfig = token_kubeconfig(cluster, tmp_path)
    as_operator = Cluster(kubeconfig, cluster.bin_dir, cluster.state_dir)
    assert (
        as_operator.kubectl(
            "auth", "can-i", "create", "jobs", namespace=namespace, check=False
        ).stdout.strip()
        == "yes"
    )
    for verb, resource, where in (
        ("get", "secrets", "kube-system"),
        ("list", "secrets", namespace),
        ("delete", "nodes", None),
        ("create", "pods", namespace),
        ("create", "leases", namespace),  # its Lease lives in the release namespace only
        ("get", "secrets/someone-elses", NAMESPACE),  # only its own key, by name
    ):
        answer = as_operator.kubectl(
            "auth", "can-i", verb, resource, namespace=where, check=False
        ).stdout.strip()
        assert answer == "no", f"the operator may {verb} {resource}"
    operator = Operator(
        as_operator,
        namespace,
        tmp_path,
        extra_args=(
            "--leader-election",
            RELEASE,
            "--collector-secret",
            "kubetune-collector",
            "--operator-namespace",
            NAMESPACE,
            "--workloads=Job",  # as the chart's defaults run it (no jobset.enabled)
        ),
    )
    operator.start()
    key = cluster.get("secret", "kubetune-collector", namespace=NAMESPACE)["data"]["secret"]
    assert len(key) > 40  # created by the operator on its first start
    try:
        cluster.apply(
            study("charted", budget={"maxTrials": 4, "parallelism": 2}), namespace=namespace
        )
        Player(cluster, namespace, operator, "charted").play(report_and_finish)
        status = cluster.get("study", "charted", namespace=namespace)["status"]
        assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 4
        assert "Forbidden" not in operator.log_tail(400)
        lease = cluster.get("lease", RELEASE, namespace=NAMESPACE)
        assert lease["spec"]["holderIdentity"]  # it led by the chart's Role, not by luck
        operator.stop()
        operator.start()  # a restart reads the same key: running trials' tokens stay valid
        again = cluster.get("secret", "kubetune-collector", namespace=NAMESPACE)["data"]
        assert again["secret"] == key
    finally:
        operator.stop()

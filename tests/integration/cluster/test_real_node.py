"""The user's path on the real node: the chart-installed operator (the locally built image,
in a pod, under the chart's ServiceAccount) runs real trial pods; the native sidecar forwards
what they print. No operator process on the host here."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import kubetune

from .conftest import ROOT, Cluster, wait_until
from .test_operator import trials_of
from dashboard_browser import Watched, chromium
from factories import manifest

pytestmark = pytest.mark.cluster
LOCAL_RUN = ("--out", "out", "--no-plot", "--output", "json")
RELEASE, HOME = "e2e", "kubetune-e2e"
REAL = {
    "nodeSelector": {"kubetune.io/node": "real"},
    "tolerations": [{"key": "kubetune.io/real-node", "operator": "Exists", "effect": "NoSchedule"}],
}


@pytest.fixture(scope="module")
def images(cluster: Cluster) -> None:
    """`make images`: built from the Dockerfiles and loaded into the node (cached by docker)."""
    done = subprocess.run(
        [str(ROOT / "hack" / "images.sh")], capture_output=True, text=True, timeout=1200
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def studies(cluster: Cluster) -> Iterator[str]:
    """The one namespace the installed operator watches (so it never meets other tests')."""
    name = "e2e-studies"
    cluster.kubectl("create", "namespace", name, check=False)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false", check=False)


def install(cluster: Cluster, studies: str, replicas: int = 1) -> None:
    values = {
        "replicaCount": replicas,
        "watchNamespaces": [studies],
        "image": {"pullPolicy": "Never"},  # loaded by make images; no registry anywhere
        "dashboard": {"enabled": True},
        "jobset": {"enabled": True},  # JobSet's RBAC and --workloads=Job,JobSet
        "trainer": {"enabled": True},  # TrainJob's, and the kubetune-torch runtime
        **REAL,
    }
    path = Path(f"/tmp/kubetune-e2e-values-{replicas}.yaml")
    path.write_text(yaml.safe_dump(values))
    cluster.install_chart(RELEASE, HOME, "--create-namespace", "-f", str(path), "--wait")


@pytest.fixture(scope="module")
def operator(cluster: Cluster, images: None, studies: str) -> Iterator[None]:
    install(cluster, studies)
    yield
    cluster.helm("uninstall", RELEASE, "--namespace", HOME, "--wait")


def on_the_real_node(document: dict[str, Any], max_trials: int | None = None) -> dict[str, Any]:
    pod = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]
    pod.update(json.loads(json.dumps(REAL)))
    if max_trials is not None:
        document["spec"]["budget"]["maxTrials"] = max_trials
    return document


def finished(cluster: Cluster, namespace: str, name: str, timeout: float) -> dict[str, Any]:
    def phase() -> Any:
        found = cluster.get("study", name, namespace=namespace).get("status") or {}
        return found if found.get("phase") in ("Succeeded", "Failed") else None

    try:
        result: dict[str, Any] = wait_until(phase, timeout, f"study {name} to finish")
    except AssertionError as error:  # what the operator in its pod said
        logs = cluster.kubectl(
            "logs", f"deployment/{RELEASE}-kubetune", "--tail=60", namespace=HOME, check=False
        )
        raise AssertionError(f"{error}\noperator log:\n{logs.stdout}{logs.stderr}") from None
    return result


def operator_pods(cluster: Cluster) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.get(
        "pods",
        "-l",
        f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/name=kubetune",
        namespace=HOME,
    )["items"]
    return items


def test_the_operator_runs_in_a_pod_on_the_real_node(cluster: Cluster, operator: None) -> None:
    pods = operator_pods(cluster)
    assert len(pods) == 1 and pods[0]["status"]["phase"] == "Running"
    assert pods[0]["spec"]["nodeName"] == "kubetune-real-0"
    assert pods[0]["spec"]["serviceAccountName"] == "e2e-kubetune"
    host = subprocess.run(["pgrep", "-f", "kubetune.cli operator"], capture_output=True)
    assert host.returncode == 1, "an operator process runs on the host"


def test_the_quickstart_trains_real_trials_and_agrees_with_kubetune_run(
    cluster: Cluster, operator: None, studies: str, tmp_path: Path
) -> None:
    document = on_the_real_node(
        yaml.safe_load((ROOT / "examples" / "quickstart.yaml").read_text()), max_trials=6
    )
    started = time.monotonic()
    cluster.apply(document, namespace=studies)
    status = finished(cluster, studies, "quickstart", 300)
    on_cluster = time.monotonic() - started
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 6
    trials = sorted(trials_of(cluster, studies, "quickstart"), key=lambda t: t["spec"]["index"])
    assert [t["metadata"]["name"] for t in trials] == [f"quickstart-{i}" for i in range(6)]

    local = tmp_path / "quickstart.yaml"
    document["spec"]["budget"]["maxTrials"] = 6
    local.write_text(yaml.safe_dump(document))
    (tmp_path / "trainers").symlink_to(ROOT / "examples" / "trainers")
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "kubetune.cli", "run", str(local), *LOCAL_RUN],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    on_laptop = time.monotonic() - started
    assert run.returncode == 0, run.stderr
    print(f"quickstart, 6 trials: cluster {on_cluster:.1f} s, kubetune run {on_laptop:.1f} s")
    events = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").open()]
    created = {e["trial"]: e["params"] for e in events if e["event"] == "created"}
    # Same seed, same engine: the first suggestions (the whole random start here, drawn per
    # trial index) are equal, however each side batched its asks.
    for trial in trials[:2]:
        assert trial["spec"]["params"] == created[trial["metadata"]["name"]]
    best_local = json.loads(run.stdout)["best"]["objective"]
    assert abs(status["bestTrial"]["objective"] - best_local) < 0.02
    assert status["bestTrial"]["objective"] > 0.9


def test_kubetune_logs_and_kubectl_logs_show_the_trainers_output(
    cluster: Cluster, operator: None, studies: str
) -> None:
    trial = next(
        t
        for t in trials_of(cluster, studies, "quickstart")
        if (t.get("status") or {}).get("phase") == "Succeeded"
    )
    name = trial["metadata"]["name"]
    logs = subprocess.run(
        [sys.executable, "-m", "kubetune.cli", "logs", name, "-n", studies],
        capture_output=True,
        text=True,
        timeout=60,
        env={"KUBECONFIG": str(cluster.kubeconfig), "PATH": "/usr/bin:/bin"},
    )
    assert logs.returncode == 0, logs.stderr
    assert "folds=" in logs.stdout and "kubetune-report" in logs.stdout
    pod = cluster.get("pods", "-l", f"kubetune.io/trial={name}", namespace=studies)["items"][0]
    kubectl = cluster.kubectl("logs", pod["metadata"]["name"], "-c", "trainer", namespace=studies)
    assert "folds=" in kubectl.stdout


DASHBOARD = f"{RELEASE}-kubetune-dashboard"


def digits_svc(params: dict[str, Any], folds: int = 3) -> float:
    """A function a notebook would tune: it runs in the trial's pod, reports each fold through
    the sidecar and returns the mean accuracy."""
    from sklearn.datasets import load_digits  # noqa: PLC0415
    from sklearn.model_selection import cross_val_score  # noqa: PLC0415
    from sklearn.svm import SVC  # noqa: PLC0415

    x, y = load_digits(return_X_y=True)
    model = SVC(C=params["C"], gamma=params["gamma"], kernel=params["kernel"])
    scores = cross_val_score(model, x[::2], y[::2], cv=folds)
    for fold, score in enumerate(scores, start=1):
        kubetune.report(step=fold, accuracy=float(score))
    print(f"function ran in {socket.gethostname()} as {os.getuid()}")
    return float(scores.mean())


DIGITS_SPACE = {
    "C": kubetune.search.float(0.1, 100, log=True),
    "gamma": kubetune.search.float(1e-4, 1e-2, log=True),
    "kernel": kubetune.search.categorical(["rbf", "sigmoid"]),
}


def test_tune_runs_a_function_in_real_pods_and_suggests_what_the_local_backend_does(
    cluster: Cluster, operator: None, studies: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = kubetune.Client(studies, kubeconfig=cluster.kubeconfig)
    call: dict[str, Any] = {
        "parameters": DIGITS_SPACE,
        "objective": "accuracy",
        "name": "nb-digits",
        "max_trials": 4,
        "parallelism": 2,
        "args": {"folds": 3},
        "progress": False,
    }
    remote = kubetune.tune(
        digits_svc, backend="cluster", client=client, pod=REAL, timeout=300, **call
    )
    assert remote.phase == "Succeeded", remote.status
    assert [t.state for t in remote.trials] == ["Succeeded"] * 4
    for trial in remote.trials:  # the sidecar forwarded every fold and the returned mean
        assert trial.reports == 4 and 0 < (trial.objective or 0) <= 1
    log = client.logs("nb-digits-0")
    pod = cluster.get("pods", "-l", "kubetune.io/trial=nb-digits-0", namespace=studies)["items"][0]
    assert f"function ran in {pod['metadata']['name']} as 65532" in log  # in the pod, not here
    config_map = cluster.get("configmap", "nb-digits-function", namespace=studies)
    assert config_map["metadata"]["ownerReferences"][0]["kind"] == "Study"

    monkeypatch.chdir(tmp_path)
    local = kubetune.tune(digits_svc, backend="local", **call)
    assert local.phase == "Succeeded"
    # The same call, the same Study: the same first suggestions on both backends.
    assert [t.params for t in local.trials[:2]] == [t.params for t in remote.trials[:2]]

    client.delete("nb-digits", wait=True)
    wait_until(
        lambda: (
            cluster.kubectl(
                "get", "configmap", "nb-digits-function", namespace=studies, check=False
            ).returncode
            != 0
        ),
        60,
        "the function's ConfigMap to go with its Study",
    )


def test_the_charts_dashboard_serves_the_study_and_its_logs_through_its_service(
    cluster: Cluster, operator: None, studies: str
) -> None:
    cluster.kubectl(
        "rollout", "status", f"deployment/{DASHBOARD}", "--timeout=120s", namespace=HOME
    )
    service = cluster.get("service", DASHBOARD, namespace=HOME)
    base = f"http://{service['spec']['clusterIP']}:{service['spec']['ports'][0]['port']}/"
    with urllib.request.urlopen(f"{base}api/studies", timeout=30) as answer:
        listed = {s["name"]: s for s in json.load(answer)}
    assert listed["quickstart"]["namespace"] == studies
    assert listed["quickstart"]["phase"] == "Succeeded"
    key = f"{studies}%3Aquickstart"
    with urllib.request.urlopen(f"{base}api/studies/{key}/trials/quickstart-0/logs") as answer:
        logs = answer.read().decode()
    assert "folds=" in logs and "kubetune-report" in logs
    with chromium() as browser:
        watched = Watched(browser, base)
        page = watched.open(f"#/study/{key}")
        page.wait_for_selector("#plot-slice[data-rendered]")
        assert watched.points("plot-objective") == 6
        watched.screenshot("chart-dashboard-study")
        watched.clean()


#: What every authenticated identity may create: asking the API server what it may do.
SELF_REVIEWS = {
    "selfsubjectreviews.authentication.k8s.io",
    "selfsubjectaccessreviews.authorization.k8s.io",
    "selfsubjectrulesreviews.authorization.k8s.io",
}


def permissions(cluster: Cluster, identity: str, namespace: str) -> dict[str, set[str]]:
    """Everything `identity` may do in `namespace` (kubectl auth can-i --list), by resource."""
    listing = cluster.kubectl("auth", "can-i", "--list", identity, namespace=namespace).stdout
    allowed: dict[str, set[str]] = {}
    for line in listing.splitlines()[1:]:
        resource = line.split(" ", 1)[0]  # empty for a non-resource URL's line
        verbs = line[line.rindex("[") + 1 : line.rindex("]")].split()
        allowed.setdefault(resource or "(non-resource URLs)", set()).update(verbs)
    return allowed


def test_the_dashboards_service_account_can_read_but_never_write(
    cluster: Cluster, operator: None, studies: str
) -> None:
    identity = f"--as=system:serviceaccount:{HOME}:{DASHBOARD}"
    watched = permissions(cluster, identity, studies)
    for resource in ("studies.kubetune.io", "trials.kubetune.io", "events"):
        assert watched[resource] == {"get", "list", "watch"}, (resource, watched)
    assert watched["pods"] == {"get", "list"} and watched["pods/log"] == {"get"}
    for namespace in (studies, HOME, "default"):
        granted = permissions(cluster, identity, namespace)
        writes = {
            resource: verbs - {"get", "list", "watch"}
            for resource, verbs in granted.items()
            if resource not in SELF_REVIEWS and verbs - {"get", "list", "watch"}
        }
        assert not writes, f"the dashboard may write in {namespace}: {writes}"
        if namespace != studies:  # outside the watched namespaces it cannot even read
            assert not {"studies.kubetune.io", "trials.kubetune.io", "pods"} & set(granted)


REPORTER = """
import sys, kubetune
for step in range(1, 31):
    kubetune.report(step=step, accuracy=step / 100)
sys.stdout.write('kubetune-report {"metrics": {"accuracy": 0.99}, "step": 31}')
"""


def reporter_study(name: str, script: str, **spec: Any) -> dict[str, Any]:
    """A grid over q in [90, 10, 20], one trial at a time, each running `python -c script q`
    in the trainer image on the real node."""
    container = {
        "name": "trainer",
        "image": "kubetune/trainer:0.1.0",
        "imagePullPolicy": "Never",
        "command": ["python", "-c", script, "${trial.params.q}"],
    }
    template = {
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [container]}}}
    }
    sections: dict[str, Any] = {
        "parameters": [{"name": "q", "type": "categorical", "values": [90, 10, 20]}],
        "algorithm": {"name": "grid"},
        "budget": {"maxTrials": 3, "parallelism": 1},
        "trialTemplate": template,
    }
    document = manifest(**{**sections, **spec})
    document["metadata"]["name"] = name
    return on_the_real_node(document)


def test_every_printed_report_is_recorded_once_even_the_last_one_before_exit(
    cluster: Cluster, operator: None, studies: str
) -> None:
    cluster.apply(reporter_study("reports", REPORTER, budget={"maxTrials": 1}), namespace=studies)
    assert finished(cluster, studies, "reports", 180)["phase"] == "Succeeded"
    trial = trials_of(cluster, studies, "reports")[0]
    assert [r["step"] for r in trial["status"]["reports"]] == list(range(1, 32))
    assert trial["status"]["objective"] == 0.99
    pod = cluster.get("pods", "-l", "kubetune.io/trial=reports-0", namespace=studies)["items"][0]
    sidecar = pod["status"]["initContainerStatuses"][0]["state"]["terminated"]
    assert sidecar["exitCode"] == 0  # it ended by itself, not SIGKILLed after a grace period


SLOW = """
import sys, time, kubetune
quality = int(sys.argv[1]) / 100
for step in range(1, 10):
    kubetune.report(step=step, accuracy=quality * step / 9)
    print(f"step {step}", flush=True)
    time.sleep(1)
"""


def test_asha_really_stops_a_trial_its_pod_and_job_gone_and_says_why(
    cluster: Cluster, operator: None, studies: str
) -> None:
    asha = {"name": "asha", "settings": {"minBudget": 1, "maxBudget": 9, "reductionFactor": 3}}
    cluster.apply(reporter_study("asha", SLOW, earlyStopping=asha), namespace=studies)
    status = finished(cluster, studies, "asha", 240)
    assert status["phase"] == "Succeeded"
    stopped = [
        t for t in trials_of(cluster, studies, "asha") if t["status"]["phase"] == "EarlyStopped"
    ]
    assert stopped, "the 10% and 20% trials should be stopped at a rung"
    for trial in stopped:
        name = trial["metadata"]["name"]
        assert max(r["step"] for r in trial["status"]["reports"]) < 9  # cut short
        assert not cluster.get("jobs", "-l", f"kubetune.io/trial={name}", namespace=studies)[
            "items"
        ]
        wait_until(
            lambda n=name: (
                not cluster.get("pods", "-l", f"kubetune.io/trial={n}", namespace=studies)["items"]
            ),
            60,
            f"{name}'s pod to be gone",
        )
    decisions = {d["trial"]: d for d in status.get("earlyStopped", [])}
    assert {t["metadata"]["name"] for t in stopped} <= set(decisions)
    events = cluster.get("events", namespace=studies)["items"]
    assert any(e["reason"] == "TrialStoppedEarly" for e in events)


def test_a_missing_image_and_an_instant_crash_fail_their_trials_alone(
    cluster: Cluster, operator: None, studies: str
) -> None:
    document = reporter_study("broken", "import sys; sys.exit(int(sys.argv[1]) % 7)")
    document["spec"]["budget"] = {"maxTrials": 3, "parallelism": 3, "maxFailedTrials": 3}
    cluster.apply(document, namespace=studies)
    finished(cluster, studies, "broken", 180)
    reasons = {t["spec"]["params"]["q"]: t["status"] for t in trials_of(cluster, studies, "broken")}
    assert reasons[10]["phase"] == "Failed" and "code 3" in reasons[10]["reason"]  # 10 % 7
    assert reasons[20]["phase"] == "Failed" and "code 6" in reasons[20]["reason"]

    missing = reporter_study("noimage", REPORTER, budget={"maxTrials": 1})
    container = missing["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    # A registry that refuses at once (nothing listens on port 1): no waiting on a network.
    container.update(image="127.0.0.1:1/kubetune/does-not-exist:1", imagePullPolicy="Always")
    cluster.apply(missing, namespace=studies)
    status = finished(cluster, studies, "noimage", 180)
    trial = trials_of(cluster, studies, "noimage")[0]
    assert trial["status"]["phase"] == "Failed"
    assert "does-not-exist" in trial["status"]["reason"]
    assert (
        "ImagePullBackOff" in trial["status"]["reason"] or "ErrImage" in trial["status"]["reason"]
    )
    assert not cluster.get("jobs", "-l", "kubetune.io/trial=noimage-0", namespace=studies)["items"]
    assert status["trials"]["failed"] == 1


SHORT = """
import sys, time, kubetune
for step in range(1, 4):
    kubetune.report(step=step, accuracy=int(sys.argv[1]) / 100 * step / 3)
    time.sleep(1)
"""


def restartable(name: str) -> dict[str, Any]:
    document = reporter_study(name, SHORT, budget={"maxTrials": 6, "parallelism": 2})
    document["spec"]["parameters"] = [{"name": "q", "type": "int", "min": 10, "max": 90}]
    document["spec"]["algorithm"] = {"name": "random", "seed": 3}
    return document


def succeeded(cluster: Cluster, namespace: str, name: str) -> int:
    return sum(
        (t.get("status") or {}).get("phase") == "Succeeded"
        for t in trials_of(cluster, namespace, name)
    )


def nothing_lost_or_doubled(cluster: Cluster, namespace: str, name: str) -> None:
    status = finished(cluster, namespace, name, 300)
    seen = {
        t["metadata"]["name"]: (t.get("status") or {}) for t in trials_of(cluster, namespace, name)
    }
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 6, (status, seen)
    names = sorted(t["metadata"]["name"] for t in trials_of(cluster, namespace, name))
    assert names == sorted(f"{name}-{i}" for i in range(6))
    jobs = cluster.get("jobs", "-l", f"kubetune.io/study={name}", namespace=namespace)["items"]
    assert sorted(j["metadata"]["name"] for j in jobs) == names


def test_deleting_the_operator_pod_mid_study_loses_and_duplicates_nothing(
    cluster: Cluster, operator: None, studies: str
) -> None:
    cluster.apply(restartable("restart"), namespace=studies)
    wait_until(lambda: succeeded(cluster, studies, "restart") >= 2, 120, "two trials done")
    (before,) = operator_pods(cluster)
    cluster.kubectl("delete", "pod", before["metadata"]["name"], "--wait=false", namespace=HOME)
    nothing_lost_or_doubled(cluster, studies, "restart")
    after = [p["metadata"]["name"] for p in operator_pods(cluster)]
    assert before["metadata"]["name"] not in after and len(after) == 1  # the Deployment's new one


def test_with_two_replicas_deleting_the_leaders_pod_hands_over(
    cluster: Cluster, operator: None, studies: str
) -> None:
    install(cluster, studies, replicas=2)
    lease = cluster.get("lease", f"{RELEASE}-kubetune", namespace=HOME)
    leader = lease["spec"]["holderIdentity"].rsplit("_", 1)[0]
    assert leader in [p["metadata"]["name"] for p in operator_pods(cluster)]
    cluster.apply(restartable("handover"), namespace=studies)
    wait_until(lambda: succeeded(cluster, studies, "handover") >= 2, 120, "two trials done")
    cluster.kubectl("delete", "pod", leader, "--wait=false", namespace=HOME)
    nothing_lost_or_doubled(cluster, studies, "handover")
    holder = cluster.get("lease", f"{RELEASE}-kubetune", namespace=HOME)["spec"]["holderIdentity"]
    assert holder and not holder.startswith(leader)


RANKED = """
import os, sys, kubetune
rank = int(os.environ["JOB_COMPLETION_INDEX"])
print(f"pod of rank {rank} trains", flush=True)
kubetune.report(step=1, accuracy=int(sys.argv[1]) / 100 + rank)
"""


def test_a_jobset_trial_runs_real_pods_and_only_rank_0_reports(
    cluster: Cluster, operator: None, studies: str
) -> None:
    """A JobSet of one Job of 2 real pods per trial: each pod's trainer reports its own value
    (rank 0's is the trial's), each sidecar reads its rank; `kubetune logs` shows rank 0."""
    document = reporter_study("ranked", RANKED, budget={"maxTrials": 1})
    pod = document["spec"]["trialTemplate"]["spec"]["template"]
    document["spec"]["trialTemplate"] = {
        "kind": "JobSet",
        "spec": {
            "replicatedJobs": [
                {
                    "name": "train",
                    "template": {"spec": {"parallelism": 2, "completions": 2, "template": pod}},
                }
            ]
        },
    }
    cluster.apply(document, namespace=studies)
    assert finished(cluster, studies, "ranked", 240)["phase"] == "Succeeded"
    trial = trials_of(cluster, studies, "ranked")[0]
    quality = int(trial["spec"]["params"]["q"]) / 100
    assert trial["status"]["objective"] == quality  # rank 0's value; rank 1 reported 1 more
    pods = cluster.get("pods", "-l", "kubetune.io/trial=ranked-0", namespace=studies)["items"]
    assert len(pods) == 2
    for each in pods:  # every sidecar ended by itself, rank 1's without posting
        sidecar = each["status"]["initContainerStatuses"][0]["state"]["terminated"]
        assert sidecar["exitCode"] == 0
    logs = subprocess.run(
        [sys.executable, "-m", "kubetune.cli", "logs", "ranked-0", "-n", studies],
        capture_output=True,
        text=True,
        timeout=60,
        env={"KUBECONFIG": str(cluster.kubeconfig), "PATH": "/usr/bin:/bin"},
    )
    assert logs.returncode == 0, logs.stderr
    assert "pod of rank 0 trains" in logs.stdout and "rank 1" not in logs.stdout


def test_a_trainjob_trial_runs_real_nodes_with_the_runtimes_sidecar(
    cluster: Cluster, operator: None, studies: str
) -> None:
    """A TrainJob of 2 nodes per trial from the chart's kubetune-torch runtime, run by the
    real Trainer and JobSet controllers on the real node: the sidecar the runtime declares
    gets its environment and volume through kubetune's patch and forwards rank 0's report;
    `kubetune logs` shows rank 0. The user's own runtime patch (node placement) stays."""
    document = reporter_study("tjreal", RANKED, budget={"maxTrials": 1})
    container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    placement = {
        "manager": "example.com/placement",
        "trainingRuntimeSpec": {
            "template": {
                "spec": {
                    "replicatedJobs": [
                        {"name": "node", "template": {"spec": {"template": {"spec": REAL}}}}
                    ]
                }
            }
        },
    }
    document["spec"]["trialTemplate"] = {
        "kind": "TrainJob",
        "spec": {
            "runtimeRef": {"name": "kubetune-torch"},
            "trainer": {
                "image": container["image"],
                "command": container["command"],
                "numNodes": 2,
            },
            "runtimePatches": [placement],
        },
    }
    cluster.apply(document, namespace=studies)
    assert finished(cluster, studies, "tjreal", 240)["phase"] == "Succeeded"
    trial = trials_of(cluster, studies, "tjreal")[0]
    assert trial["status"]["objective"] == int(trial["spec"]["params"]["q"]) / 100  # rank 0's
    pods = cluster.get("pods", "-l", "kubetune.io/trial=tjreal-0", namespace=studies)["items"]
    assert len(pods) == 2
    for each in pods:
        assert each["spec"]["nodeName"] == "kubetune-real-0"
        sidecar = each["status"]["initContainerStatuses"][0]
        assert sidecar["name"] == "kubetune-metrics"
        assert sidecar["state"]["terminated"]["exitCode"] == 0
    logs = subprocess.run(
        [sys.executable, "-m", "kubetune.cli", "logs", "tjreal-0", "-n", studies],
        capture_output=True,
        text=True,
        timeout=60,
        env={"KUBECONFIG": str(cluster.kubeconfig), "PATH": "/usr/bin:/bin"},
    )
    assert logs.returncode == 0, logs.stderr
    assert "pod of rank 0 trains" in logs.stdout and "rank 1" not in logs.stdout
    # The Trainer holds its runtime (a finalizer) while a TrainJob names it: the Study goes
    # first, with its Trials and TrainJobs, so that the chart (and the runtime) can go after.
    cluster.kubectl("delete", "study", "tjreal", "--wait=true", namespace=studies)
    wait_until(
        lambda: not cluster.get("trainjobs", namespace=studies)["items"],
        60,
        "the Study's TrainJobs to be gone",
    )


ENV_REPORTER = """
import json, os, kubetune
seen = {k: v for k, v in os.environ.items() if k.startswith("KUBETUNE_")}
print("trainer environment: " + json.dumps(seen, sort_keys=True), flush=True)
with open(os.environ["KUBETUNE_METRICS_FILE"], "a") as out:
    out.write(json.dumps({"step": 1, "accuracy": 0.5}) + "\\n")
"""


def test_a_trainer_on_the_real_node_sees_the_same_variables_as_under_kubetune_run(
    cluster: Cluster, operator: None, studies: str
) -> None:
    document = reporter_study(
        "env", ENV_REPORTER, budget={"maxTrials": 1}, metrics={"file": {"format": "json"}}
    )
    cluster.apply(document, namespace=studies)
    assert finished(cluster, studies, "env", 180)["phase"] == "Succeeded"
    pod = cluster.get("pods", "-l", "kubetune.io/trial=env-0", namespace=studies)["items"][0]
    logs = cluster.kubectl("logs", pod["metadata"]["name"], "-c", "trainer", namespace=studies)
    line = next(x for x in logs.stdout.splitlines() if x.startswith("trainer environment: "))
    seen = json.loads(line.split(": ", 1)[1])
    assert seen == {
        "KUBETUNE_STUDY": "env",
        "KUBETUNE_TRIAL": "env-0",
        "KUBETUNE_METRICS_FILE": "/kubetune/metrics.log",
    }
    assert trials_of(cluster, studies, "env")[0]["status"]["objective"] == 0.5


def test_the_tensorboard_example_writes_real_event_files_on_the_node_and_asha_stops_at_their_steps(
    cluster: Cluster, operator: None, studies: str
) -> None:
    """The trainer image's real TensorBoard writer (the one PyTorch's SummaryWriter wraps),
    read by the native sidecar; asha stops weak trials at the rungs from the event files'
    own steps. (A real pod's metrics file: the environment test above.)"""
    example, trials = "tensorboard.yaml", 5
    document = on_the_real_node(
        yaml.safe_load((ROOT / "examples" / example).read_text()), max_trials=trials
    )
    document["spec"]["budget"]["parallelism"] = 2
    name = document["metadata"]["name"]
    cluster.apply(document, namespace=studies)
    status = finished(cluster, studies, name, 420)
    assert status["phase"] == "Succeeded", status
    assert status["bestTrial"]["objective"] > 0.9
    done = trials_of(cluster, studies, name)
    assert all(t["status"]["phase"] in ("Succeeded", "EarlyStopped") for t in done), [
        (t["metadata"]["name"], t["status"].get("reason")) for t in done
    ]
    for trial in done:
        steps = [r["step"] for r in trial["status"]["reports"] if "accuracy" in r["metrics"]]
        assert steps == list(range(1, len(steps) + 1)) and steps
    stopped = [t for t in done if t["status"]["phase"] == "EarlyStopped"]
    assert stopped and {t["status"]["stop"]["step"] for t in stopped} <= {1, 3, 9}


INTERVAL_REAL = 2
PBT_SEGMENT = """
import json, os, pathlib, socket, sys, kubetune
until, x = int(float(sys.argv[1])), float(sys.argv[2])
restore = os.environ.get("KUBETUNE_RESTORE_DIR")
if restore:
    state = json.loads(pathlib.Path(restore, "state.json").read_text())
    print(f"continues {state['path'][-1]} at step {state['step']}", flush=True)
else:
    state = {"step": 0, "score": 0.0, "path": [], "pods": []}
while state["step"] < until:
    state["step"] += 1
    state["score"] += 1 - (x - 0.3) ** 2
    kubetune.report(step=state["step"], score=state["score"])
state["path"].append(os.environ["KUBETUNE_TRIAL"])
state["pods"].append(socket.gethostname())
if os.environ["KUBETUNE_TRIAL"] not in os.environ.get("LOSE", "").split(","):  # lost ones
    folder = pathlib.Path(os.environ["KUBETUNE_CHECKPOINT_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "state.json").write_text(json.dumps(state))
"""


def pbt_real_study(name: str, max_trials: int, **spec: Any) -> dict[str, Any]:
    document = reporter_study(
        name,
        PBT_SEGMENT,
        parameters=[{"name": "x", "type": "float", "min": 0.0, "max": 1.0}],
        algorithm={"name": "pbt", "seed": 2, "settings": {"population": 2, "readyInterval": 2}},
        objective={"metric": "score", "goal": "maximize"},
        budget={"maxTrials": max_trials, "parallelism": 2, "maxFailedTrials": 4},
        checkpoints={"volumeClaim": "checkpoints"},
        **spec,
    )
    container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["command"] = ["python", "-c", PBT_SEGMENT, "${trial.budget}", "${trial.params.x}"]
    return document


@pytest.fixture
def checkpoint_host(cluster: Cluster, studies: str, tmp_path: Path) -> Iterator[Path]:
    """The claim `checkpoints` in the studies' namespace, bound to a hostPath folder of this
    machine (the real node), made writable for the trainer image's user (65532) as a
    provisioner's fsGroup would make a real volume; gone after the test (whose study goes
    first, in the test: its pods hold the claim)."""
    from .test_pbt_cluster import checkpoint_claim  # noqa: PLC0415

    host = tmp_path / "checkpoints"
    host.mkdir()
    host.chmod(0o1777)
    volume = checkpoint_claim(cluster, studies, str(host))
    yield host
    cluster.kubectl("delete", "pvc", "checkpoints", namespace=studies, check=False)
    cluster.kubectl("delete", "pv", volume, "--wait=false", check=False)


def test_pbt_generations_of_real_pods_pass_checkpoints_through_the_volume(
    cluster: Cluster, operator: None, studies: str, checkpoint_host: Path
) -> None:
    host = checkpoint_host
    try:
        document = pbt_real_study("pbt-real", 6)
        cluster.apply(document, namespace=studies)
        assert finished(cluster, studies, "pbt-real", 300)["phase"] == "Succeeded"
        trials = {t["metadata"]["name"]: t for t in trials_of(cluster, studies, "pbt-real")}
        assert len(trials) == 6
        assert all(t["status"]["phase"] == "Succeeded" for t in trials.values())

        def line(name: str) -> list[str]:
            parent = trials[name]["status"].get("parent")
            return ([*line(parent)] if parent else []) + [name]

        for name, trial in trials.items():
            parent = trial["status"].get("parent")
            if parent is None:
                continue
            logs = cluster.kubectl("logs", f"job/{name}", "-c", "trainer", namespace=studies)
            steps = INTERVAL_REAL * trial["status"]["generation"]
            assert f"continues {parent} at step {steps}" in logs.stdout, logs.stdout
        # What the volume holds: every checkpoint but those a later pod deleted as it started
        # (older trials not in use when that pod's trial was made); each left was trained by
        # its whole line, in one pod per segment.
        left = {
            p.name: json.loads((p / "state.json").read_text())
            for p in (host / "pbt-real").iterdir()
        }
        deleted = {
            older
            for trial in trials.values()
            for older, other in trials.items()
            if other["spec"]["index"] < trial["spec"]["index"]
            and older not in trial["spec"]["checkpointsInUse"]
        }
        assert deleted, "the third generation found checkpoints no line could reach"
        assert set(left) == set(trials) - deleted
        for name, state in left.items():
            generation = trials[name]["status"]["generation"]
            assert state["path"] == line(name)
            assert state["step"] == INTERVAL_REAL * (generation + 1)
            assert len(set(state["pods"])) == generation + 1, "one pod per segment"
        last = max(trials.values(), key=lambda t: t["spec"]["index"])["metadata"]["name"]
        prune = cluster.kubectl("logs", f"job/{last}", "-c", "kubetune-prune", namespace=studies)
        assert "checkpoint(s) no line can reach" in prune.stdout
    finally:
        cluster.kubectl("delete", "study", "pbt-real", namespace=studies, check=False)


def test_a_lost_checkpoint_fails_the_segments_that_need_it_in_their_init_container(
    cluster: Cluster, operator: None, studies: str, checkpoint_host: Path
) -> None:
    try:
        document = pbt_real_study("pbt-lost", 4)
        container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
        # Both first segments' checkpoints are lost, so whatever continues fails.
        container["env"] = [{"name": "LOSE", "value": "pbt-lost-0,pbt-lost-1"}]
        cluster.apply(document, namespace=studies)
        assert finished(cluster, studies, "pbt-lost", 300)["phase"] == "Succeeded"
        trials = {
            t["metadata"]["name"]: t["status"] for t in trials_of(cluster, studies, "pbt-lost")
        }
        later = {n: t for n, t in trials.items() if t["generation"] > 0 or t.get("parent")}
        assert len(later) == 2, trials
        for status in later.values():
            parent = status["parent"]
            assert parent in ("pbt-lost-0", "pbt-lost-1")
            assert status["phase"] == "Failed"
            assert status["reason"].startswith(
                f"container kubetune-prune exited with code 1: CheckpointMissing: {parent}'s "
                f"checkpoint folder /kubetune/checkpoints/pbt-lost/{parent}"
            ), status["reason"]
        assert [trials[f"pbt-lost-{i}"]["phase"] for i in (0, 1)] == ["Succeeded"] * 2
    finally:
        cluster.kubectl("delete", "study", "pbt-lost", namespace=studies, check=False)

"""Each kind's builder and its room's rules, one function at a time: TrainJob (patched through
its runtime) and a kind described by its conditions (a PyTorchJob), beside Job and JobSet."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubetune.api.trial import TrialState
from kubetune.controller import manifests
from kubetune.controller.settings import OperatorSettings
from kubetune.controller.workloads import conditions, registry, trainjob
from kubetune.engine import NewTrial

from factories import pytorchjob_template, study, trainjob_template

SETTINGS = OperatorSettings(
    secret=b"s", sidecar_image="kubetune/kubetune:test", collector_url="http://collector:8443"
)
STUDY_OBJ: dict[str, Any] = {
    "apiVersion": "kubetune.io/v1alpha1",
    "kind": "Study",
    "metadata": {"name": "demo", "namespace": "ns", "uid": "u-1"},
}


def trial_obj(params: dict[str, Any]) -> dict[str, Any]:
    trial = manifests.build_trial(STUDY_OBJ, NewTrial("demo-3", 3, params, None))
    trial["metadata"]["uid"] = "t-uid"
    return trial


PARAMS = {"lr": 0.01, "layers": 2, "optimizer": "sgd"}


def test_each_template_is_read_as_its_kind() -> None:
    kinds = [
        registry.kind_of(study(trialTemplate=t).spec.trial_template).name
        for t in (trainjob_template(), pytorchjob_template())
    ]
    assert kinds == ["TrainJob", "conditions"]


def trainjob_patch(workload: dict[str, Any]) -> dict[str, Any]:
    (patch,) = workload["spec"]["runtimePatches"]
    assert patch["manager"] == trainjob.PATCH_MANAGER
    (node,) = patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    assert node["name"] == "node"
    pod: dict[str, Any] = node["template"]["spec"]["template"]
    return pod


def test_a_trainjob_reaches_its_nodes_pods_through_one_runtime_patch() -> None:
    spec = study(
        trialTemplate=trainjob_template(3, "kubetune-torch", "--lr=${trial.params.lr}"),
        resources={"gpus": 2},
    )
    workload = registry.build_workload(spec, trial_obj(PARAMS), "tok", SETTINGS)
    assert workload["apiVersion"] == "trainer.kubeflow.org/v1alpha1"
    assert workload["kind"] == "TrainJob"
    assert workload["metadata"]["ownerReferences"][0]["kind"] == "Trial"
    trainer = workload["spec"]["trainer"]
    assert trainer["numNodes"] == 3
    # The GPU shortcut: per node, with the GPU nodes' toleration and selector in the patch.
    assert trainer["resourcesPerNode"]["limits"] == {"nvidia.com/gpu": "2"}
    # The wrapper runs the trainer's own argv, placeholders substituted; no args left over.
    assert trainer["command"][:2] == ["/bin/sh", "-c"]
    assert trainer["command"][-3:] == ["train.py", "--trial=demo-3", "--lr=0.01"]
    assert "args" not in trainer
    pod = trainjob_patch(workload)
    labels = pod["metadata"]["labels"]
    assert labels[manifests.WORKLOAD_LABEL] == "TrainJob"
    assert labels[manifests.TRIAL_LABEL] == "demo-3"
    assert pod["metadata"]["annotations"][manifests.METRIC_ANNOTATION] == "accuracy"
    assert pod["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert pod["spec"]["nodeSelector"]["nvidia.com/gpu.present"] == "true"
    # Containers the runtime has are patched, none added: the node's mount, the sidecar's env.
    assert pod["spec"]["containers"] == [
        {"name": "node", "volumeMounts": [{"name": "kubetune-output", "mountPath": "/kubetune"}]}
    ]
    (sidecar,) = pod["spec"]["initContainers"]
    assert (
        set(sidecar) == {"name", "env", "volumeMounts"}
        and sidecar["name"] == manifests.SIDECAR_NAME
    )
    names = [e["name"] for e in sidecar["env"]]
    # No empty values: Go's types drop them when Kueue rewrites the TrainJob to admit it,
    # which the Trainer would refuse as a change to its patch.
    assert all(e.get("value") != "" for e in sidecar["env"]) and "KUBETUNE_REGEX" in names
    assert "KUBETUNE_RANK_POD" in names and "KUBETUNE_RANK_JOB" not in names


def test_a_trainjob_read_from_prometheus_needs_no_sidecar_in_its_runtime() -> None:
    template = trainjob_template(2, "kubetune-torch", "--lr=${trial.params.lr}")
    spec = study(
        trialTemplate=template,
        metrics={"prometheus": {"url": "http://p:9090", "query": "acc{trial='${trial.name}'}"}},
    )
    workload = registry.build_workload(spec, trial_obj(PARAMS), "tok", SETTINGS)
    pod = trainjob_patch(workload)
    assert "initContainers" not in pod["spec"] and "containers" not in pod["spec"]
    assert workload["spec"]["trainer"]["args"] == ["--trial=demo-3", "--lr=0.01"]


def test_a_queued_trainjob_is_created_suspended() -> None:
    spec = study(trialTemplate=trainjob_template(), queueName="gpus")
    workload = registry.build_workload(spec, trial_obj(PARAMS), "tok", SETTINGS)
    assert workload["spec"]["suspend"] is True
    assert workload["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpus"


@pytest.mark.parametrize(
    ("labels", "reports"),
    [
        ({"jobset.sigs.k8s.io/replicatedjob-name": "node"}, True),
        (
            {
                "jobset.sigs.k8s.io/replicatedjob-name": "node",
                "jobset.sigs.k8s.io/job-global-index": "1",  # after a dataset initializer
                "batch.kubernetes.io/job-completion-index": "0",
            },
            True,
        ),
        (
            {
                "jobset.sigs.k8s.io/replicatedjob-name": "node",
                "batch.kubernetes.io/job-completion-index": "2",
            },
            False,
        ),
        ({"jobset.sigs.k8s.io/replicatedjob-name": "dataset-initializer"}, False),
    ],
)
def test_a_trainjobs_rank_zero_is_its_first_node(labels: dict[str, str], reports: bool) -> None:
    assert trainjob.reports(labels) is reports


def test_trainjob_conditions_end_the_trial_with_the_trainers_own_words() -> None:
    done = {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert trainjob.trainjob_outcome(done) == (TrialState.SUCCEEDED, None)
    failed = {
        "status": {
            "conditions": [
                {"type": "Complete", "status": "False"},
                {"type": "Failed", "status": "True", "reason": "JobsFailed", "message": "node-0"},
            ]
        }
    }
    assert trainjob.trainjob_outcome(failed) == (
        TrialState.FAILED,
        "TrainJob failed: JobsFailed: node-0",
    )
    suspended = {"status": {"conditions": [{"type": "Suspended", "status": "True"}]}}
    assert trainjob.trainjob_outcome(suspended) == (TrialState.PENDING, None)


def test_a_described_kind_labels_every_pod_template_and_runs_the_sidecar_in_the_first() -> None:
    spec = study(trialTemplate=pytorchjob_template(workers=3), resources={"gpus": 1})
    workload = registry.build_workload(spec, trial_obj(PARAMS), "tok", SETTINGS)
    assert (workload["apiVersion"], workload["kind"]) == ("kubeflow.org/v1", "PyTorchJob")
    assert "workload" not in workload  # kubetune's description is not the kind's
    replicas = workload["spec"]["pytorchReplicaSpecs"]
    master, worker = (replicas[r]["template"] for r in ("Master", "Worker"))
    for pod in (master, worker):
        assert pod["metadata"]["labels"][manifests.WORKLOAD_LABEL] == "conditions"
        assert pod["metadata"]["annotations"][conditions.RESOURCE_ANNOTATION] == (
            "kubeflow.org/v1 pytorchjobs"
        )
        assert pod["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    assert [c["name"] for c in master["spec"]["initContainers"]] == [manifests.SIDECAR_NAME]
    assert "initContainers" not in worker["spec"]
    assert master["spec"]["containers"][0]["command"][-2:] == ["--lr=0.01", "--role=master"]
    told = json.loads(workload["metadata"]["annotations"][conditions.CONDITIONS_ANNOTATION])
    assert told == {"succeeded": ["Succeeded"], "failed": ["Failed"]}
    assert replicas["Worker"]["replicas"] == 3


def test_a_described_kind_is_judged_by_the_conditions_it_carries() -> None:
    spec = study(trialTemplate=pytorchjob_template())
    workload = registry.build_workload(spec, trial_obj(PARAMS), "tok", SETTINGS)
    workload["status"] = {
        "conditions": [
            {"type": "Running", "status": "True"},
            {"type": "Failed", "status": "True", "reason": "PyTorchJobFailed", "message": "oom"},
        ]
    }
    assert conditions.outcome(workload) == (
        TrialState.FAILED,
        "PyTorchJob failed: PyTorchJobFailed: oom",
    )
    workload["status"]["conditions"] = [{"type": "Succeeded", "status": "True"}]
    assert conditions.outcome(workload) == (TrialState.SUCCEEDED, None)


def test_a_described_kind_in_a_queue_is_labelled_not_suspended() -> None:
    """kubetune does not know where an unknown kind keeps its suspend flag; Kueue's webhook
    suspends the kinds it manages."""
    spec = study(trialTemplate=pytorchjob_template(), queueName="gpus")
    workload = registry.build_workload(spec, trial_obj(PARAMS), "tok", SETTINGS)
    assert "suspend" not in workload["spec"]
    assert workload["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpus"


def test_each_kind_is_enabled_by_its_name_or_its_resource() -> None:
    assert study(trialTemplate=trainjob_template()).spec.trial_template.enabled_as == "TrainJob"
    described = study(trialTemplate=pytorchjob_template()).spec.trial_template
    assert described.enabled_as == "pytorchjobs.v1.kubeflow.org"
    assert described.resource == ("kubeflow.org/v1", "pytorchjobs")
    assert registry.watched({"Job", "TrainJob", "pytorchjobs.v1.kubeflow.org"}) == [
        ("TrainJob", "trainer.kubeflow.org", "v1alpha1", "trainjobs"),
        ("conditions", "kubeflow.org", "v1", "pytorchjobs"),
    ]
    with pytest.raises(ValueError, match=r"RESOURCE\.VERSION\.GROUP"):
        registry.parse_custom("pytorchjobs")


def test_a_trainjobs_trainer_gets_the_trainer_variables_and_its_nodes_the_shared_folders() -> None:
    spec = study(
        trialTemplate=trainjob_template(2, "kubetune-torch", "--lr=${trial.params.lr}"),
        metrics={"file": {"path": "/metrics/out.jsonl", "format": "json"}},
    )
    workload = registry.build_workload(spec, trial_obj(PARAMS), "tok", SETTINGS)
    env = {e["name"]: e["value"] for e in workload["spec"]["trainer"]["env"]}
    assert env == {
        "KUBETUNE_STUDY": "demo",
        "KUBETUNE_TRIAL": "demo-3",
        "KUBETUNE_METRICS_FILE": "/metrics/out.jsonl",
    }
    pod = trainjob_patch(workload)
    mounts = [{"name": "kubetune-output", "mountPath": "/kubetune"}]
    mounts.append({"name": "kubetune-metrics-folder", "mountPath": "/metrics"})
    assert pod["spec"]["containers"] == [{"name": "node", "volumeMounts": mounts}]
    assert pod["spec"]["initContainers"][0]["volumeMounts"] == mounts
    assert [v["name"] for v in pod["spec"]["volumes"]] == [m["name"] for m in mounts]

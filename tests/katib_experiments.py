"""Katib Experiments (kubeflow.org/v1beta1) written for kubetune's tests: every field the
converter reads, each in the shapes Katib accepts. Ours, not Katib's example files."""

from __future__ import annotations

import copy
from typing import Any

KATIB = "kubeflow.org/v1beta1"


def job_spec(
    command: list[str], primary: str = "trainer", sidecar_first: bool = False
) -> dict[str, Any]:
    trainer = {"name": primary, "image": "example.com/trainer:1", "command": command}
    containers = [trainer]
    if sidecar_first:
        containers.insert(0, {"name": "proxy", "image": "example.com/proxy:1"})
    return {"template": {"spec": {"restartPolicy": "Never", "containers": containers}}}


def experiment(**spec: Any) -> dict[str, Any]:
    """A small valid Experiment: random search over lr and layers, a Job trial reading
    stdout; keyword arguments replace whole spec sections."""
    base: dict[str, Any] = {
        "apiVersion": KATIB,
        "kind": "Experiment",
        "metadata": {"name": "mnist-lr", "namespace": "team-a"},
        "spec": {
            "objective": {
                "type": "maximize",
                "goal": 0.99,
                "objectiveMetricName": "Validation-accuracy",
                "additionalMetricNames": ["Train-accuracy"],
            },
            "algorithm": {"algorithmName": "random"},
            "parallelTrialCount": 2,
            "maxTrialCount": 10,
            "maxFailedTrialCount": 2,
            "parameters": [
                {
                    "name": "lr",
                    "parameterType": "double",
                    "feasibleSpace": {"min": "0.001", "max": "0.1", "distribution": "logUniform"},
                },
                {
                    "name": "num-layers",
                    "parameterType": "int",
                    "feasibleSpace": {"min": "1", "max": "4"},
                },
            ],
            "trialTemplate": {
                "primaryContainerName": "trainer",
                "trialParameters": [
                    {"name": "learningRate", "description": "lr", "reference": "lr"},
                    {"name": "layers", "reference": "num-layers"},
                ],
                "trialSpec": {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "spec": job_spec(
                        [
                            "python3",
                            "/opt/train.py",
                            "--lr=${trialParameters.learningRate}",
                            "--num-layers=${trialParameters.layers}",
                        ]
                    ),
                },
            },
        },
    }
    base["spec"].update(copy.deepcopy(spec))
    return base


def with_template(**template: Any) -> dict[str, Any]:
    document = experiment()
    document["spec"]["trialTemplate"].update(copy.deepcopy(template))
    return document


def pytorchjob() -> dict[str, Any]:
    command = ["python3", "/opt/train.py", "--lr=${trialParameters.learningRate}"]
    replica = {
        "replicas": 1,
        "restartPolicy": "OnFailure",
        "template": {
            "spec": {
                "containers": [{"name": "pytorch", "image": "example.com/t:1", "command": command}]
            }
        },
    }
    workers = copy.deepcopy(replica) | {"replicas": 2}
    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "spec": {"pytorchReplicaSpecs": {"Worker": workers, "Master": replica}},
    }


def jobset() -> dict[str, Any]:
    pod = job_spec(["python3", "/opt/train.py", "--lr=${trialParameters.learningRate}"])
    return {
        "apiVersion": "jobset.x-k8s.io/v1alpha2",
        "kind": "JobSet",
        "spec": {"replicatedJobs": [{"name": "workers", "replicas": 2, "template": {"spec": pod}}]},
    }


def trainjob() -> dict[str, Any]:
    return {
        "apiVersion": "trainer.kubeflow.org/v1alpha1",
        "kind": "TrainJob",
        "spec": {
            "runtimeRef": {"name": "torch-distributed"},
            "trainer": {
                "numNodes": 2,
                "image": "example.com/t:1",
                "command": ["torchrun", "/opt/train.py", "--lr=${trialParameters.learningRate}"],
            },
        },
    }


def _collector(kind: str, **source: Any) -> dict[str, Any]:
    return experiment(metricsCollectorSpec={"collector": {"kind": kind}, "source": source})


def _template(trial_spec: dict[str, Any], **template: Any) -> dict[str, Any]:
    document = with_template(trialSpec=trial_spec, **template)
    document["spec"]["trialTemplate"]["trialParameters"] = [
        {"name": "learningRate", "reference": "lr"}
    ]
    return document


def _hyperband() -> dict[str, Any]:
    settings = {"resource_name": "num-layers", "eta": "2", "r_l": "4"}
    return experiment(
        algorithm={
            "algorithmName": "hyperband",
            "algorithmSettings": [{"name": k, "value": v} for k, v in settings.items()],
        }
    )


#: One Experiment per kind of thing the converter carries, each a Study once converted: the
#: unit tests load each, the cluster tests send each to the real API server.
CONVERTIBLE = {
    "stdout-random": experiment,
    "bayesian-medianstop": lambda: experiment(
        algorithm={"algorithmName": "bayesianoptimization"},
        earlyStopping={"algorithmName": "medianstop"},
    ),
    "hyperband": _hyperband,
    "file-text": lambda: _collector(
        "File", fileSystemPath={"path": "/var/log/katib/metrics.log", "kind": "File"}
    ),
    "file-json": lambda: _collector(
        "File", fileSystemPath={"path": "/katib/m.json", "kind": "File", "format": "JSON"}
    ),
    "tensorflow-event": lambda: _collector(
        "TensorFlowEvent", fileSystemPath={"path": "/logs/tb", "kind": "Directory"}
    ),
    "prometheus": lambda: _collector("PrometheusMetric", httpGet={"port": 8080}),
    "pytorchjob": lambda: _template(pytorchjob(), primaryContainerName="pytorch"),
    "jobset": lambda: _template(jobset()),
    "trainjob": lambda: _template(trainjob()),
}

"""Builders for Study manifests, specs and trial histories used across the tests."""

from __future__ import annotations

import copy
from typing import Any

from kubetune.api import Study, load_study
from kubetune.engine import History, Report, StopDecision, TrialRecord, TrialState


def manifest(**spec: Any) -> dict[str, Any]:
    """A valid Study manifest; keyword arguments replace whole spec sections."""
    base: dict[str, Any] = {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "Study",
        "metadata": {"name": "demo"},
        "spec": {
            "objective": {"metric": "accuracy", "goal": "maximize"},
            "parameters": [
                {"name": "lr", "type": "float", "min": 0.0001, "max": 0.1, "log": True},
                {"name": "layers", "type": "int", "min": 1, "max": 4},
                {"name": "optimizer", "type": "categorical", "values": ["adam", "sgd"]},
            ],
            "algorithm": {"name": "random", "seed": 1},
            "budget": {"maxTrials": 6, "parallelism": 2},
            "trialTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "trainer",
                                    "image": "trainer:1",
                                    "command": ["python", "train.py"],
                                    "args": ["--trial=${trial.name}"],
                                }
                            ]
                        }
                    }
                }
            },
        },
    }
    base["spec"].update(copy.deepcopy(spec))
    return base


def study(**spec: Any) -> Study:
    return load_study(manifest(**spec))


def trial(
    index: int,
    params: dict[str, Any] | None = None,
    state: TrialState = TrialState.SUCCEEDED,
    objective: float | None = None,
    series: list[tuple[int, float]] | None = None,
    metric: str = "accuracy",
    stop: StopDecision | None = None,
    study_name: str = "demo",
) -> TrialRecord:
    reports = tuple(Report(step, {metric: value}) for step, value in series or [])
    if objective is not None and state == TrialState.SUCCEEDED and not reports:
        reports = (Report(None, {metric: objective}),)
    return TrialRecord(
        name=f"{study_name}-{index}",
        index=index,
        params=params or {},
        state=state,
        reports=reports,
        objective=objective,
        stop=stop,
    )


def history(*trials: TrialRecord, started_at: float | None = 0.0, name: str = "demo") -> History:
    return History(study=name, trials=tuple(trials), started_at=started_at)


def jobset_template(pods: int = 2, jobs: int = 2, **pod_template: Any) -> dict[str, Any]:
    """A JobSet trial template: `jobs` replicated Jobs (one replica each) of `pods` pods."""

    def replicated(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "replicas": 1,
            "template": {
                "spec": {
                    "parallelism": pods,
                    "completions": pods,
                    "template": {
                        **copy.deepcopy(pod_template),
                        "spec": {
                            "containers": [
                                {
                                    "name": "trainer",
                                    "image": "trainer:1",
                                    "command": ["python", "train.py"],
                                    "args": ["--trial=${trial.name}", "--role=" + name],
                                }
                            ]
                        },
                    },
                }
            },
        }

    names = ["leader", "workers", "evaluators"][:jobs]
    return {"kind": "JobSet", "spec": {"replicatedJobs": [replicated(n) for n in names]}}


def trainjob_template(
    nodes: int = 2, runtime: str = "kubetune-torch", *args: str
) -> dict[str, Any]:
    """A TrainJob trial template: `nodes` nodes of the named ClusterTrainingRuntime."""
    return {
        "kind": "TrainJob",
        "spec": {
            "runtimeRef": {"name": runtime},
            "trainer": {
                "image": "trainer:1",
                "command": ["python", "train.py"],
                "args": ["--trial=${trial.name}", *args],
                "numNodes": nodes,
            },
        },
    }


def pytorchjob_template(workers: int = 2) -> dict[str, Any]:
    """A kind kubetune does not know by name, described by its conditions: a Kubeflow
    PyTorchJob (kubeflow.org/v1), one Master and `workers` Workers."""

    def replica(count: int, role: str) -> dict[str, Any]:
        return {
            "replicas": count,
            "restartPolicy": "Never",
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "pytorch",
                            "image": "trainer:1",
                            "command": ["python", "train.py"],
                            "args": ["--lr=${trial.params.lr}", f"--role={role}"],
                        }
                    ]
                }
            },
        }

    return {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "workload": {
            "succeeded": ["Succeeded"],
            "failed": ["Failed"],
            "podTemplates": [
                "spec.pytorchReplicaSpecs.Master.template",
                "spec.pytorchReplicaSpecs.Worker.template",
            ],
        },
        "spec": {
            "pytorchReplicaSpecs": {
                "Master": replica(1, "master"),
                "Worker": replica(workers, "worker"),
            }
        },
    }

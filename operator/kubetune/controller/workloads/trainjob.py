"""A trial run as a Kubeflow TrainJob (trainer.kubeflow.org/v1alpha1): the Trainer turns it
into a JobSet from its runtime (a ClusterTrainingRuntime or TrainingRuntime), one pod per
node, and says how it ended in its own conditions: `Complete` or `Failed`.

A TrainJob does not template its pods: kubetune reaches them through `runtimePatches`, which
the Trainer merges into the runtime's `node` Job (labels and notes on every node's pod, the
GPU shortcut's tolerations and node selector, the output volume). The Trainer lets a patch
change a container the runtime has, never add one, so the metrics sidecar must be in the
runtime already: an init container named `kubetune-metrics` in its `node` Job (the chart's
`kubetune-torch` ClusterTrainingRuntime has it); kubetune fills in its environment (the
collector's address, the trial's token). With `metrics.prometheus`, any runtime works.

Rank 0, the node that reports: the pod of the `node` Job with completion index 0 (a
runtime's initializer Jobs come first, so the JobSet's Job index is not read). The GPU
shortcut: `resources.gpus` per node (`spec.trainer.resourcesPerNode`), `numNodes` nodes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import partial
from typing import Any

from kubetune.api.study import Study
from kubetune.controller import manifests
from kubetune.controller.kube import Kube
from kubetune.controller.phases import TrialPhases
from kubetune.controller.settings import OperatorSettings
from kubetune.controller.workloads.kind import WorkloadKind
from kubetune.controller.workloads.multipod import MultiPodRoom, conditions_outcome
from kubetune.metrics.wire import RANK_LABELS

API_VERSION = "trainer.kubeflow.org/v1alpha1"
PLURAL = "trainjobs"
#: The Trainer's name for the Job (and container) of the training nodes.
NODE = "node"
#: Who wrote the patch (the Trainer wants a domain-prefixed name).
PATCH_MANAGER = "kubetune.io/operator"
REPLICATED_JOB_LABEL = "jobset.sigs.k8s.io/replicatedjob-name"
RANK_POD = "KUBETUNE_RANK_POD"

trainjob_outcome = partial(
    conditions_outcome, succeeded=("Complete",), failed=("Failed",), what="TrainJob"
)


def reports(labels: Mapping[str, str]) -> bool:
    """The node of rank 0: completion index 0 of the `node` Job."""
    if labels.get(REPLICATED_JOB_LABEL, NODE) != NODE:
        return False
    return labels.get(RANK_LABELS[RANK_POD], "") in ("", "0")


def trainjob_room(kube: Kube, phases: TrialPhases) -> MultiPodRoom:
    return MultiPodRoom(
        kube, phases, "TrainJob", trainjob_outcome, reports, lambda _: (API_VERSION, PLURAL)
    )


def preflight(kube: Kube, study: Study, namespace: str) -> str | None:
    """A runtime without the sidecar would take the patch and make Jobs the API server
    refuses (an init container with no image): the JobSet would wait forever, quietly. Say
    so before creating anything."""
    if study.spec.metrics.prometheus is not None:
        return None  # no sidecar: any runtime
    ref = study.spec.trial_template.spec.runtime_ref
    assert ref is not None  # TrialTemplate._one_kind
    kind = (ref.model_extra or {}).get("kind") or "ClusterTrainingRuntime"
    plural = "trainingruntimes" if kind == "TrainingRuntime" else "clustertrainingruntimes"
    runtime = kube.fetch_object(
        API_VERSION, plural, ref.name, namespace if kind == "TrainingRuntime" else None
    )
    if runtime is None:
        return f"its runtime, {kind} {ref.name}, does not exist (or this operator may not read it)"
    jobs = (((runtime.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "replicatedJobs"
    ) or []
    node = next((j for j in jobs if j.get("name") == NODE), None)
    pod = ((((node or {}).get("template") or {}).get("spec") or {}).get("template") or {}).get(
        "spec"
    ) or {}
    if not any(c.get("name") == manifests.SIDECAR_NAME for c in pod.get("initContainers") or []):
        return (
            f"its runtime, {kind} {ref.name}, has no init container {manifests.SIDECAR_NAME} in "
            f"its {NODE} Job: a TrainJob can patch a container its runtime has, not add one. "
            "Use the chart's kubetune-torch runtime (trainer.runtime.enabled), add the "
            "sidecar to yours, or read metrics from Prometheus (spec.metrics.prometheus)"
        )
    return None


def build(
    study: Study, trial_obj: Mapping[str, Any], token: str, settings: OperatorSettings
) -> dict[str, Any]:
    """The trial's TrainJob: the user's, substituted, with one runtime patch of kubetune's."""
    name = trial_obj["metadata"]["name"]
    template = manifests.substituted(study, trial_obj)
    spec = template["spec"]
    trainer = spec.setdefault("trainer", {})
    pod: dict[str, Any] = {}
    node: dict[str, Any] = {"name": NODE}
    gpus = study.spec.resources.gpus
    if gpus:
        per_node = trainer.setdefault("resourcesPerNode", {})
        per_node.setdefault("limits", {})[manifests.GPU_RESOURCE] = str(gpus)
        shaped: dict[str, Any] = {"containers": [{}]}
        manifests.add_gpus(shaped, study)  # its tolerations and node selector, for the patch
        pod["tolerations"] = shaped["tolerations"]
        pod["nodeSelector"] = shaped["nodeSelector"]
    sidecar = manifests.sidecar_for(study, name, token, settings, rank=(RANK_POD,))
    manifests.add_trainer_env(trainer, study, name, reports=sidecar is not None)
    if sidecar is not None:
        wrapped = copy.deepcopy(trainer)
        manifests.wrap_trainer(wrapped, study)
        trainer["command"] = wrapped["command"]
        trainer.pop("args", None)
        node["volumeMounts"] = wrapped["volumeMounts"]
        pod["volumes"] = manifests.shared_volumes(study)
        pod["containers"] = [node]
        pod["initContainers"] = [
            {
                "name": manifests.SIDECAR_NAME,
                # An empty value is left out, as Go's types write it: Kueue rewrites the
                # TrainJob when it admits it, and the Trainer refuses any change to a patch.
                "env": [e if e.get("value") != "" else {"name": e["name"]} for e in sidecar["env"]],
                "volumeMounts": sidecar["volumeMounts"],
            }
        ]
    patch = {
        "manager": PATCH_MANAGER,
        "trainingRuntimeSpec": {
            "template": {
                "spec": {
                    "replicatedJobs": [
                        {
                            "name": NODE,
                            "template": {
                                "spec": {
                                    "template": {
                                        "metadata": manifests.pod_notes(study, name, 0, settings),
                                        "spec": pod,
                                    }
                                }
                            },
                        }
                    ]
                }
            }
        },
    }
    spec.setdefault("runtimePatches", []).append(patch)
    return manifests.workload_object(study, trial_obj, template, spec, settings)


KIND = WorkloadKind(
    "TrainJob",
    build,
    trainjob_room,
    reports,
    watched=("trainer.kubeflow.org", "v1alpha1", PLURAL),
    preflight=preflight,
)

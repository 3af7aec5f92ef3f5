"""The Study a `tune()` call is: the same manifest on both backends but for where the shipped
program lives, so the same call gives the same suggestions locally and on a cluster.

On a cluster the program travels in a ConfigMap (`NAME-function`) mounted read-only into each
trial's pod, not in the trial's command: a ConfigMap is stored once per study and holds up to
1 MiB, while the command is copied into every Trial, Job and Pod object (and into every
`kubectl get -o yaml`), and a function of a few hundred lines would crowd each of them.
The ConfigMap is owned by its Study, so deleting the Study removes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kubetune import __version__
from kubetune.api.study import API_VERSION

#: The image the chart installs (the operator's): Python with kubetune, numpy, scipy and
#: scikit-learn, and pip for `packages=`.
DEFAULT_IMAGE = f"kubetune/kubetune:{__version__}"
#: Where the program is mounted in a trial's pod.
MOUNT = "/kubetune/function"
VOLUME = "kubetune-function"
#: ConfigMap keys cannot hold a slash: the SDK's copy travels under this key.
_FALLBACK_KEY = "fallback-kubetune-init.py"
_NAME = re.compile(r"[^a-z0-9-]+")


def study_name(function_name: str) -> str:
    """A Study name from a function's: lower case, dashes for anything else, at most 50."""
    name = _NAME.sub("-", function_name.lower()).strip("-")[:50].strip("-")
    return name or "tune"


def config_map_name(study: str) -> str:
    return f"{study}-function"


def config_map(study: str, files: Mapping[str, str]) -> dict[str, Any]:
    data = {(_FALLBACK_KEY if "/" in k else k): v for k, v in files.items()}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": config_map_name(study),
            "labels": {"kubetune.io/study": study, "app.kubernetes.io/managed-by": "kubetune"},
        },
        "data": data,
    }


def _volume(study: str, files: Mapping[str, str]) -> dict[str, Any]:
    items = [{"key": _FALLBACK_KEY if "/" in k else k, "path": k} for k in files]
    return {"name": VOLUME, "configMap": {"name": config_map_name(study), "items": items}}


def objectives(objective: Any, goal: str) -> dict[str, Any]:
    """`spec.objective` for one metric name (or dict), `spec.objectives` for a list."""
    if isinstance(objective, str):
        return {"objective": {"metric": objective, "goal": goal}}
    if isinstance(objective, Mapping):
        return {"objective": {"goal": goal, **objective}}
    return {
        "objectives": [
            o if isinstance(o, Mapping) else {"metric": o, "goal": goal} for o in objective
        ]
    }


def first_metric(spec: Mapping[str, Any]) -> str:
    return str((spec.get("objective") or spec["objectives"][0])["metric"])


def build_study(
    name: str,
    parameters: list[dict[str, Any]],
    objective: Any,
    goal: str,
    *,
    max_trials: int,
    parallelism: int,
    algorithm: str | Mapping[str, Any],
    seed: int | None,
    early_stopping: Mapping[str, Any] | None,
    image: str | None,
    resources: Mapping[str, Any] | None,
    env: Mapping[str, str] | None,
    entry: str,
    files: Mapping[str, str] | None,
    pod: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Study manifest. `entry`: the path of the shipped `entry.py` as the trial sees it;
    `files`: the program's files when they travel in a ConfigMap (a cluster), None locally;
    `pod`: fields of the trial pod's spec (nodeSelector, tolerations, serviceAccountName...)."""
    chosen: dict[str, Any] = {"name": algorithm} if isinstance(algorithm, str) else dict(algorithm)
    if seed is not None:
        chosen["seed"] = seed
    wanted = dict(resources or {})
    gpus = int(wanted.pop("gpus", 0) or 0)
    container: dict[str, Any] = {
        "name": "trainer",
        "image": image or DEFAULT_IMAGE,
        "command": [
            "python",
            entry,
            *(f"--{p['name']}=${{trial.params.{p['name']}}}" for p in parameters),
        ],
    }
    if env:
        container["env"] = [{"name": k, "value": str(v)} for k, v in env.items()]
    if wanted:
        requests = {k: str(v) for k, v in wanted.items()}
        container["resources"] = {"requests": requests}
        if "memory" in requests:
            container["resources"]["limits"] = {"memory": requests["memory"]}
    template: dict[str, Any] = {"restartPolicy": "Never", **(pod or {}), "containers": [container]}
    if files is not None:
        container["volumeMounts"] = [{"name": VOLUME, "mountPath": MOUNT, "readOnly": True}]
        template["volumes"] = [*template.get("volumes", []), _volume(name, files)]
    spec: dict[str, Any] = {
        **objectives(objective, goal),
        "parameters": parameters,
        "algorithm": chosen,
        "budget": {"maxTrials": max_trials, "parallelism": parallelism},
        "trialTemplate": {"spec": {"backoffLimit": 0, "template": {"spec": template}}},
    }
    if gpus:
        spec["resources"] = {"gpus": gpus}
    if early_stopping is not None:
        spec["earlyStopping"] = dict(early_stopping)
    return {"apiVersion": API_VERSION, "kind": "Study", "metadata": {"name": name}, "spec": spec}

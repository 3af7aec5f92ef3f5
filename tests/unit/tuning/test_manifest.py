"""The Study a `tune()` call becomes, its search space written the Python way, and the API
server's refusals as exceptions."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

import kubetune
from kubetune import search
from kubetune.api import load_study
from kubetune.client.errors import StudyRejectedError, translate
from kubetune.tuning import manifest
from kubetune.tuning.shipping import ship

SPACE = {
    "lr": search.float(1e-4, 1e-1, log=True),
    "layers": search.int(1, 4, step=1),
    "optimizer": search.categorical(["adam", "sgd"]),
    "momentum": search.float(0.0, 0.99, when={"optimizer": ["sgd"]}),
    "width": {"type": "int", "min": 8, "max": 64, "log": True},  # pasted from a manifest
}


def objective(params: dict[str, Any]) -> float:
    return float(params["lr"])


def build(files: dict[str, str] | None, **options: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "max_trials": 8,
        "parallelism": 2,
        "algorithm": "auto",
        "seed": None,
        "early_stopping": None,
        "image": None,
        "resources": None,
        "env": None,
    }
    return manifest.build_study(
        "objective",
        search.parameters(SPACE),
        "accuracy",
        "maximize",
        entry="/kubetune/function/entry.py",
        files=files,
        **{**defaults, **options},
    )


def test_the_python_space_maps_one_to_one_onto_study_parameters() -> None:
    assert search.parameters(SPACE) == [
        {"name": "lr", "type": "float", "min": 1e-4, "max": 1e-1, "log": True},
        {"name": "layers", "type": "int", "min": 1, "max": 4, "step": 1},
        {"name": "optimizer", "type": "categorical", "values": ["adam", "sgd"]},
        {
            "name": "momentum",
            "type": "float",
            "min": 0.0,
            "max": 0.99,
            "when": {"optimizer": ["sgd"]},
        },
        {"name": "width", "type": "int", "min": 8, "max": 64, "log": True},
    ]
    with pytest.raises(TypeError, match=r"parameters\['x'\]: 0.5 is not a search dimension"):
        search.parameters({"x": 0.5})  # type: ignore[dict-item]


def test_the_cluster_study_mounts_the_program_and_passes_each_parameter_as_a_flag() -> None:
    program = ship(objective, search.parameters(SPACE), "accuracy", packages=["lightgbm==4.5"])
    document = build(
        program.files,
        resources={"gpus": 1, "cpu": 2, "memory": "4Gi"},
        env={"DATA": "/data"},
        pod={"nodeSelector": {"pool": "gpu"}},
    )
    study = load_study(document)  # the model accepts it
    assert study.spec.resources.gpus == 1
    pod = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == f"kubetune/kubetune:{kubetune.__version__}"
    assert container["command"] == [
        "python",
        "/kubetune/function/entry.py",
        "--lr=${trial.params.lr}",
        "--layers=${trial.params.layers}",
        "--optimizer=${trial.params.optimizer}",
        "--momentum=${trial.params.momentum}",
        "--width=${trial.params.width}",
    ]
    assert container["resources"] == {
        "requests": {"cpu": "2", "memory": "4Gi"},
        "limits": {"memory": "4Gi"},
    }
    assert container["env"] == [{"name": "DATA", "value": "/data"}]
    assert pod["nodeSelector"] == {"pool": "gpu"} and pod["restartPolicy"] == "Never"
    (volume,) = pod["volumes"]
    config_map = manifest.config_map("objective", program.files)
    assert volume["configMap"]["name"] == config_map["metadata"]["name"] == "objective-function"
    # Every file is mounted under its own path; the SDK's copy under a key with no slash.
    assert {i["path"] for i in volume["configMap"]["items"]} == set(program.files)
    assert {i["key"] for i in volume["configMap"]["items"]} == set(config_map["data"])
    assert json.loads(config_map["data"]["call.json"])["packages"] == ["lightgbm==4.5"]


def test_a_bad_range_is_refused_by_the_model_naming_the_field(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match=r"spec\.parameters\[0\]\.min: must be < max"):
        kubetune.tune(
            objective, parameters={"lr": search.float(1.0, 0.5)}, out=tmp_path, progress=False
        )
    assert not (tmp_path / "results.jsonl").exists(), "a refused call started a study"


def test_an_api_servers_refusal_becomes_an_exception_naming_the_field() -> None:
    body = {
        "kind": "Status",
        "message": 'Study.kubetune.io "x" is invalid: spec.parameters[0].min: Invalid value: "object": must be < max',
        "reason": "Invalid",
        "details": {
            "causes": [
                {
                    "reason": "FieldValueInvalid",
                    "message": 'Invalid value: "object": must be < max, got min 5 and max 4',
                    "field": "spec.parameters[0].min",
                }
            ]
        },
        "code": 422,
    }
    error = ApiException(status=422, reason="Unprocessable Entity")
    error.body = json.dumps(body)
    raised = translate(error, "Study 'x'")
    assert isinstance(raised, StudyRejectedError) and isinstance(raised, ValueError)
    assert str(raised) == (
        "Study 'x' was refused by the API server:\n  spec.parameters[0].min: must be < max, got min 5 and max 4"
    )
    assert raised.field == "spec.parameters[0].min"
    forbidden = ApiException(status=403, reason="Forbidden")
    forbidden.body = json.dumps(
        {"message": 'studies.kubetune.io is forbidden: User "r" cannot create'}
    )
    assert isinstance(translate(forbidden, "Study 'x'"), PermissionError)

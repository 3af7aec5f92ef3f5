"""`kubetune convert`: each Katib field to its Study field, or refused in one line naming it;
every output is a valid Study; no input gives a traceback."""

from __future__ import annotations

import contextlib
import copy
import random
import re
from collections.abc import Callable
from typing import Any

import pytest

from kubetune.api import InvalidStudyError, load_study
from kubetune.convert.conversion import Converted, RefusedError
from kubetune.convert.katib import convert_experiment
from kubetune.convert.katib_trials import DEFAULT_FILTER, name_groups

from katib_experiments import CONVERTIBLE, experiment, jobset, pytorchjob, trainjob, with_template

CONFIG_MAPS = {
    (
        "templates",
        "team-a",
        "job.yaml",
    ): "apiVersion: batch/v1\nkind: Job\nspec:\n  template:\n    spec:\n      containers:\n      - name: trainer\n        image: example.com/t:1\n        command: [python3, /opt/train.py, '--lr=${trialParameters.learningRate}']\n"
}


def read_config_map(name: str, namespace: str | None, key: str) -> str:
    found = CONFIG_MAPS.get((name, namespace or "team-a", key))
    if found is None:
        raise LookupError(f"no ConfigMap {name} in namespace {namespace}")
    return found


def convert(document: dict[str, Any]) -> Converted:
    converted = convert_experiment(document, read_config_map)
    load_study(converted.study)  # every output is a valid Study
    return converted


def spec_of(document: dict[str, Any]) -> dict[str, Any]:
    return convert(document).study["spec"]


def trainer_args(spec: dict[str, Any]) -> list[str]:
    study = load_study(
        {
            "apiVersion": "kubetune.io/v1alpha1",
            "kind": "Study",
            "metadata": {"name": "x"},
            "spec": spec,
        }
    )
    trainer = study.spec.trial_template.trainer
    return (trainer.command or []) + (trainer.args or [])


def test_the_basic_experiment_maps_field_by_field() -> None:
    converted = convert(experiment())
    study = converted.study
    assert study["metadata"] == {"name": "mnist-lr", "namespace": "team-a"}
    spec = study["spec"]
    assert spec["objective"] == {
        "metric": "Validation-accuracy",
        "goal": "maximize",
        "target": 0.99,
        "additionalMetrics": ["Train-accuracy"],
    }
    assert spec["parameters"] == [
        {"name": "lr", "type": "float", "min": 0.001, "max": 0.1, "log": True},
        {"name": "num_layers", "type": "int", "min": 1, "max": 4},
    ]
    assert spec["budget"] == {"maxTrials": 10, "parallelism": 2, "maxFailedTrials": 2}
    assert spec["algorithm"] == {"name": "random"}
    assert spec["metrics"] == {"format": "regex", "regex": DEFAULT_FILTER}
    assert trainer_args(spec) == [
        "python3",
        "/opt/train.py",
        "--lr=${trial.params.lr}",
        "--num-layers=${trial.params.num_layers}",
    ]
    notes = "\n".join(converted.notes)
    assert "'num-layers' is 'num_layers'" in notes
    assert "Katib scored a trial by the max of its Validation-accuracy values" in notes


def test_katibs_default_stdout_parsing_reads_what_katibs_reads() -> None:
    pattern = re.compile(DEFAULT_FILTER)
    found = [
        (m["name"], m["value"])
        for m in pattern.finditer("epoch 3: Validation-accuracy=0.91 Train-accuracy = 9.5e-1")
    ]
    assert found == [("Validation-accuracy", "0.91"), ("Train-accuracy", "9.5e-1")]


@pytest.mark.parametrize(
    ("parameter", "expected"),
    [
        (
            {
                "parameterType": "double",
                "feasibleSpace": {"min": "0.1", "max": "0.9", "step": "0.1"},
            },
            {"type": "float", "min": 0.1, "max": 0.9, "step": 0.1},
        ),
        (
            {
                "parameterType": "int",
                "feasibleSpace": {"min": "2", "max": "64", "distribution": "logUniform"},
            },
            {"type": "int", "min": 2, "max": 64, "log": True},
        ),
        (
            {"parameterType": "int", "feasibleSpace": {"min": "1", "max": "9", "step": "2"}},
            {"type": "int", "min": 1, "max": 9, "step": 2},
        ),
        (
            {"parameterType": "categorical", "feasibleSpace": {"list": ["sgd", "adam", "sgd"]}},
            {"type": "categorical", "values": ["sgd", "adam"]},
        ),
        (
            {"parameterType": "discrete", "feasibleSpace": {"list": ["16", "32", "64"]}},
            {"type": "categorical", "values": ["16", "32", "64"]},
        ),
        (
            {
                "parameterType": "double",
                "feasibleSpace": {"min": "0.1", "max": "10", "distribution": "logNormal"},
            },
            {"type": "float", "min": 0.1, "max": 10.0, "log": True},
        ),
        (
            {
                "parameterType": "double",
                "feasibleSpace": {"min": "0", "max": "1", "distribution": "normal"},
            },
            {"type": "float", "min": 0.0, "max": 1.0},
        ),
    ],
)
def test_each_parameter_type_and_distribution(
    parameter: dict[str, Any], expected: dict[str, Any]
) -> None:
    document = experiment()
    document["spec"]["parameters"].insert(0, {"name": "p", **parameter})
    assert spec_of(document)["parameters"][0] == {"name": "p", **expected}


@pytest.mark.parametrize(
    ("katib", "ours", "note"),
    [
        ("random", "random", None),
        ("grid", "grid", None),
        ("sobol", "sobol", None),
        ("tpe", "tpe", None),
        ("multivariate-tpe", "tpe", "models the parameters together"),
        ("bayesianoptimization", "bayesian", "kubetune's own Gaussian process"),
        ("cmaes", "bayesian", "CMA-ES's job"),
    ],
)
def test_each_search_algorithm_becomes_the_one_that_does_its_job(
    katib: str, ours: str, note: str | None
) -> None:
    document = experiment(
        algorithm={
            "algorithmName": katib,
            "algorithmSettings": [{"name": "random_state", "value": "42"}],
        }
    )
    if katib == "grid":
        document["spec"]["parameters"][0]["feasibleSpace"]["step"] = "0.01"
    converted = convert(document)
    assert converted.study["spec"]["algorithm"] == {"name": ours, "seed": 42}
    if note is not None:
        assert any(note in n for n in converted.notes)


def test_hyperband_becomes_random_search_under_the_hyperband_rule() -> None:
    settings = {"resource_name": "num-epochs", "eta": "3", "r_l": "27"}
    document = experiment(
        algorithm={
            "algorithmName": "hyperband",
            "algorithmSettings": [{"name": k, "value": v} for k, v in settings.items()],
        }
    )
    epochs = {"min": "27", "max": "27"}  # Katib pins it; kubetune needs a range holding 27
    document["spec"]["parameters"].append(
        {"name": "num-epochs", "parameterType": "int", "feasibleSpace": epochs}
    )
    spec = spec_of(document)
    assert spec["algorithm"] == {"name": "random"}
    assert spec["earlyStopping"] == {
        "name": "hyperband",
        "settings": {"budgetParameter": "num_epochs", "maxBudget": 27.0, "reductionFactor": 3},
    }
    assert spec["parameters"][2] == {"name": "num_epochs", "type": "int", "min": 26, "max": 27}


def test_medianstop_becomes_median_with_katibs_defaults_unless_set() -> None:
    rule = {
        "algorithmName": "medianstop",
        "algorithmSettings": [{"name": "start_step", "value": "2"}],
    }
    assert spec_of(experiment(earlyStopping=rule))["earlyStopping"] == {
        "name": "median",
        "settings": {"minTrials": 3, "startStep": 2},
    }


@pytest.mark.parametrize(
    ("collector", "expected"),
    [
        (
            {
                "collector": {"kind": "StdOut"},
                "source": {"filter": {"metricsFormat": [r"([\w-]+):\s*(\d+\.\d+)"]}},
            },
            {"format": "regex", "regex": r"(?P<name>[\w-]+):\s*(?P<value>\d+\.\d+)"},
        ),
        (
            {
                "collector": {"kind": "File"},
                "source": {
                    "fileSystemPath": {
                        "path": "/var/log/katib/metrics.log",
                        "kind": "File",
                        "format": "TEXT",
                    }
                },
            },
            {
                "format": "regex",
                "regex": DEFAULT_FILTER,
                "file": {"path": "/var/log/katib/metrics.log", "format": "text"},
            },
        ),
        (
            {
                "collector": {"kind": "File"},
                "source": {
                    "fileSystemPath": {
                        "path": "/var/log/katib/metrics.json",
                        "kind": "File",
                        "format": "JSON",
                    }
                },
            },
            {"file": {"path": "/var/log/katib/metrics.json", "format": "json"}},
        ),
        (
            {
                "collector": {"kind": "TensorFlowEvent"},
                "source": {"fileSystemPath": {"path": "/logs/tfevents/", "kind": "Directory"}},
            },
            {"tensorboard": {"dir": "/logs/tfevents"}},
        ),
        (
            {
                "collector": {"kind": "PrometheusMetric"},
                "source": {"httpGet": {"port": 8080, "path": "/metrics"}},
            },
            {"prometheus": {"query": 'Validation_accuracy{pod=~"${trial.name}-.*"}'}},
        ),
    ],
)
def test_each_metrics_collector_becomes_its_source(
    collector: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert spec_of(experiment(metricsCollectorSpec=collector))["metrics"] == expected


def test_a_metrics_file_written_by_path_in_the_template_becomes_the_trials_own() -> None:
    document = experiment(
        metricsCollectorSpec={
            "collector": {"kind": "File"},
            "source": {"fileSystemPath": {"path": "/katib/m.log", "kind": "File"}},
        }
    )
    document["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]["containers"][0][
        "command"
    ].append("--log-path=/katib/m.log")
    converted = convert(document)
    assert trainer_args(converted.study["spec"])[-1] == "--log-path=${trial.metricsFile}"
    assert any("/katib/m.log is written ${trial.metricsFile}" in n for n in converted.notes)


def test_trial_spec_references_are_the_trials_name_or_written_in() -> None:
    document = with_template(
        trialParameters=[
            {"name": "learningRate", "reference": "lr"},
            {"name": "layers", "reference": "num-layers"},
            {"name": "trialName", "reference": "${trialSpec.Name}"},
            {"name": "ns", "reference": "${trialSpec.Namespace}"},
            {"name": "kind", "reference": "${trialSpec.Kind}"},
            {"name": "team", "reference": "${trialSpec.Labels[team]}"},
        ]
    )
    trial_spec = document["spec"]["trialTemplate"]["trialSpec"]
    trial_spec["metadata"] = {"labels": {"team": "vision"}, "name": "ignored"}
    trial_spec["spec"]["template"]["spec"]["containers"][0]["command"] += [
        "--name=${trialParameters.trialName}",
        "--where=${trialParameters.ns}/${trialParameters.kind}/${trialParameters.team}",
    ]
    spec = spec_of(document)
    assert trainer_args(spec)[-2:] == ["--name=${trial.name}", "--where=team-a/Job/vision"]
    assert spec["trialTemplate"]["metadata"] == {"labels": {"team": "vision"}}


def test_the_primary_container_is_moved_first() -> None:
    document = experiment()
    pod = document["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]
    pod["containers"].insert(
        0, {"name": "proxy", "image": "example.com/proxy:1", "command": ["proxy"]}
    )
    converted = convert(document)
    containers = converted.study["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["trainer", "proxy"]
    assert any("trainer moved first" in n for n in converted.notes)


@pytest.mark.parametrize(("trial_spec", "kind"), [(jobset, "JobSet"), (trainjob, "TrainJob")])
def test_jobsets_and_trainjobs_stay_their_kind(
    trial_spec: Callable[[], dict[str, Any]], kind: str
) -> None:
    document = with_template(
        trialSpec=trial_spec(), trialParameters=[{"name": "learningRate", "reference": "lr"}]
    )
    template = spec_of(document)["trialTemplate"]
    assert template["kind"] == kind and "workload" not in template


def test_a_pytorchjob_runs_by_its_conditions_its_master_reporting() -> None:
    document = with_template(
        trialSpec=pytorchjob(),
        primaryContainerName="pytorch",
        trialParameters=[{"name": "learningRate", "reference": "lr"}],
        successCondition='status.conditions.#(type=="Succeeded")#|#(status=="True")#',
        failureCondition='status.conditions.#(type=="Failed")#|#(status=="True")#',
    )
    template = spec_of(document)["trialTemplate"]
    assert template["apiVersion"] == "kubeflow.org/v1" and template["kind"] == "PyTorchJob"
    assert template["workload"] == {
        "succeeded": ["Succeeded"],
        "failed": ["Failed"],
        "podTemplates": [
            "spec.pytorchReplicaSpecs.Master.template",
            "spec.pytorchReplicaSpecs.Worker.template",
        ],
    }


def test_primary_pod_labels_pick_the_replica_that_reports() -> None:
    document = with_template(
        trialSpec=pytorchjob(),
        primaryPodLabels={"training.kubeflow.org/replica-type": "worker"},
        trialParameters=[{"name": "learningRate", "reference": "lr"}],
    )
    assert (
        spec_of(document)["trialTemplate"]["workload"]["podTemplates"][0]
        == "spec.pytorchReplicaSpecs.Worker.template"
    )
    notes = "\n".join(convert(document).notes)
    assert "2 pods of Worker each run the metrics sidecar" in notes


def test_a_config_map_template_is_read_through_the_reader() -> None:
    document = experiment()
    template = document["spec"]["trialTemplate"]
    del template["trialSpec"]
    template["configMap"] = {
        "configMapName": "templates",
        "configMapNamespace": "team-a",
        "templatePath": "job.yaml",
    }
    template["trialParameters"] = [{"name": "learningRate", "reference": "lr"}]
    assert trainer_args(spec_of(document))[-1] == "--lr=${trial.params.lr}"


def test_what_kubetune_has_no_use_for_is_dropped_with_a_note() -> None:
    document = experiment(resumePolicy="FromVolume")
    document["spec"]["trialTemplate"]["retain"] = True
    document["spec"]["objective"]["metricStrategies"] = [
        {"name": "Validation-accuracy", "value": "latest"}
    ]
    notes = "\n".join(convert(document).notes)
    assert "spec.resumePolicy: dropped" in notes and "spec.trialTemplate.retain: dropped" in notes
    assert "metricStrategies" not in notes  # latest is what kubetune does


def mutate(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(document: dict[str, Any]) -> None:
        node: Any = document
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is None:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value

    return apply


REFUSALS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "pbt",
        mutate("spec.algorithm", {"algorithmName": "pbt"}),
        "spec.algorithm.algorithmName",
        "population-based",
    ),
    (
        "enas",
        mutate("spec.algorithm", {"algorithmName": "enas"}),
        "spec.algorithm.algorithmName",
        "architecture search",
    ),
    (
        "nas-config",
        mutate("spec.nasConfig", {"graphConfig": {}}),
        "spec.nasConfig",
        "architecture search",
    ),
    (
        "unknown-algorithm",
        mutate("spec.algorithm", {"algorithmName": "annealing"}),
        "spec.algorithm.algorithmName",
        "no Katib algorithm",
    ),
    (
        "custom-collector",
        mutate(
            "spec.metricsCollectorSpec",
            {"collector": {"kind": "Custom", "customCollector": {"image": "x"}}},
        ),
        "spec.metricsCollectorSpec.collector.customCollector",
        "a collector container of your own",
    ),
    (
        "push-based",
        mutate("spec.metricsCollectorSpec", {"collector": {"kind": "PushBased"}}),
        "spec.metricsCollectorSpec.collector.kind",
        "kubetune.report",
    ),
    (
        "two-formats",
        mutate(
            "spec.metricsCollectorSpec",
            {"source": {"filter": {"metricsFormat": ["(a)=(b)", "(c):(d)"]}}},
        ),
        "spec.metricsCollectorSpec.source.filter.metricsFormat",
        "takes one regex",
    ),
    (
        "format-with-one-group",
        mutate(
            "spec.metricsCollectorSpec", {"source": {"filter": {"metricsFormat": ["acc=(\\d+)"]}}}
        ),
        "spec.metricsCollectorSpec.source.filter.metricsFormat[0]",
        "two capturing groups",
    ),
    (
        "file-without-path",
        mutate("spec.metricsCollectorSpec", {"collector": {"kind": "File"}}),
        "spec.metricsCollectorSpec.source.fileSystemPath.path",
        "absolute path",
    ),
    (
        "parameter-type",
        mutate("spec.parameters.0.parameterType", "float"),
        "spec.parameters[0].parameterType",
        "expected double, int",
    ),
    (
        "parameter-bound",
        mutate("spec.parameters.0.feasibleSpace.min", "small"),
        "spec.parameters[0].feasibleSpace.min",
        "is not a number",
    ),
    (
        "int-bound",
        mutate("spec.parameters.1.feasibleSpace.max", "4.5"),
        "spec.parameters[1].feasibleSpace.max",
        "is not a whole number",
    ),
    (
        "objective-type",
        mutate("spec.objective.type", "best"),
        "spec.objective.type",
        "maximize or minimize",
    ),
    (
        "metric-with-a-space",
        mutate("spec.objective.objectiveMetricName", "valid auc"),
        "spec.objective.objectiveMetricName",
        "letters, digits",
    ),
    (
        "unknown-reference",
        mutate("spec.trialTemplate.trialParameters.0.reference", "momentum"),
        "spec.trialTemplate.trialParameters[0].reference",
        "no parameter of the experiment",
    ),
    (
        "undeclared-trial-parameter",
        mutate("spec.trialTemplate.trialParameters", [{"name": "learningRate", "reference": "lr"}]),
        "spec.trialTemplate.trialSpec",
        "${trialParameters.layers} names no entry",
    ),
    (
        "condition-expression",
        lambda d: d["spec"]["trialTemplate"].update(
            trialSpec=pytorchjob(), successCondition="status.succeeded > 0"
        ),
        "spec.trialTemplate.successCondition",
        "by its type",
    ),
    (
        "config-map-without-cluster",
        lambda d: (
            d["spec"]["trialTemplate"].pop("trialSpec"),
            d["spec"]["trialTemplate"].update(
                configMap={"configMapName": "t", "templatePath": "p"}
            ),
        ),
        "spec.trialTemplate.configMap",
        "pass --cluster",
    ),
    (
        "unknown-kind",
        mutate(
            "spec.trialTemplate.trialSpec",
            {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "spec": {"templates": []}},
        ),
        "spec.trialTemplate.trialSpec.kind",
        "workload by hand",
    ),
    (
        "medianstop-only",
        mutate("spec.earlyStopping", {"algorithmName": "asha"}),
        "spec.earlyStopping.algorithmName",
        "medianstop",
    ),
    ("long-name", mutate("metadata.name", "x" * 51), "metadata.name", "at most 50"),
    ("wrong-kind", mutate("kind", "Suggestion"), "apiVersion/kind", "Experiment"),
]


@pytest.mark.parametrize(
    ("mutation", "field", "words"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_what_cannot_be_carried_is_refused_in_one_line_naming_the_katib_field(
    mutation: Callable[[dict[str, Any]], None], field: str, words: str
) -> None:
    document = experiment()
    mutation(document)
    reader = None if "configMap" in str(document) else read_config_map
    with pytest.raises(RefusedError) as refused:
        convert_experiment(document, reader)
    problems = refused.value.problems
    assert all("\n" not in p for p in problems)
    assert any(p.startswith(f"{field}: ") and words in p for p in problems), problems


def test_name_groups_names_the_first_two_groups_by_their_opening_parenthesis() -> None:
    assert (
        name_groups(r"{metricName: ([\w|-]+), metricValue: ((-?\d+)(\.\d+)?)}")
        == r"{metricName: (?P<name>[\w|-]+), metricValue: (?P<value>(-?\d+)(\.\d+)?)}"
    )
    assert name_groups(r"(?:x)([a(]+)=(\d)") == r"(?:x)(?P<name>[a(]+)=(?P<value>\d)"
    assert name_groups(r"\(a\)=(\d)") is None


def _scramble(node: Any, rng: random.Random) -> Any:
    junk = [
        None,
        0,
        -1,
        1.5,
        "",
        "x",
        [],
        {},
        [1, "a"],
        {"a": None},
        True,
        "${trialParameters.}",
        "1e400",
    ]
    if isinstance(node, dict) and node and rng.random() < 0.5:
        key = rng.choice(list(node))
        if rng.random() < 0.3:
            del node[key]
        else:
            node[key] = _scramble(node[key], rng) if rng.random() < 0.7 else rng.choice(junk)
        return node
    if isinstance(node, list) and node and rng.random() < 0.5:
        index = rng.randrange(len(node))
        node[index] = _scramble(node[index], rng) if rng.random() < 0.7 else rng.choice(junk)
        return node
    return rng.choice(junk) if rng.random() < 0.2 else node


def test_no_input_gives_a_traceback() -> None:
    rng = random.Random(34)
    builders = [
        experiment,
        lambda: with_template(trialSpec=pytorchjob()),
        lambda: with_template(trialSpec=jobset()),
    ]
    outcomes = {"converted": 0, "refused": 0}
    for _ in range(1500):
        document = copy.deepcopy(rng.choice(builders)())
        for _ in range(rng.randint(1, 4)):
            document = _scramble(document, rng)
        try:
            converted = convert_experiment(document, read_config_map)
        except RefusedError as refused:
            assert refused.problems and all(": " in p and "\n" not in p for p in refused.problems)
            outcomes["refused"] += 1
            continue
        with contextlib.suppress(InvalidStudyError):  # said as "the converted Study: ..." lines
            load_study(converted.study)
        outcomes["converted"] += 1
    assert outcomes["converted"] > 100 and outcomes["refused"] > 100, outcomes


@pytest.mark.parametrize("build", CONVERTIBLE.values(), ids=CONVERTIBLE.keys())
def test_every_convertible_experiment_is_a_valid_study(build: Callable[[], dict[str, Any]]) -> None:
    assert convert(build()).study["kind"] == "Study"

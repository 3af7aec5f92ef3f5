"""`kubetune convert`: a Katib Experiment (kubeflow.org/v1beta1) to the equivalent Study.

Pure: a parsed document in, a Study manifest and the notes on what changed out, or `RefusedError`
with one line per Katib field that cannot be carried (the field's path, then why). Every
field is read defensively: any input gives a Study or refusals, never a traceback.
This module holds the experiment's spec (objective, parameters, algorithm, early stopping,
budget); `katib_trials.py` the trial template and the metrics collector.

What kubetune does differently is converted and said, not hidden: the notes become comments
at the top of the printed Study. A parameter's name that is not an identifier is renamed
(`num-layers` -> `num_layers`; trainers only ever see values), discrete values become a
categorical parameter, Katib's best-value metric strategy becomes kubetune's last value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from kubetune.api.goals import METRIC_PATTERN
from kubetune.convert import katib_trials
from kubetune.convert.conversion import (
    ConfigMapReader,
    Conversion,
    Converted,
    RefusedError,
    items,
    mapping,
    number,
    settings,
)

KATIB_API = "kubeflow.org/v1beta1"
STUDY_NAME_MAX = 50
_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]")


def convert_experiment(document: Any, read_config_map: ConfigMapReader | None = None) -> Converted:
    """The Study for a Katib Experiment; raises `RefusedError` listing what cannot be carried."""
    conversion = Conversion()
    if not isinstance(document, dict):
        raise RefusedError(
            [f"(top level): expected a Katib Experiment mapping, got {type(document).__name__}"]
        )
    if document.get("apiVersion") != KATIB_API or document.get("kind") != "Experiment":
        found = f"{document.get('apiVersion')}/{document.get('kind')}"
        raise RefusedError([f"apiVersion/kind: expected {KATIB_API} Experiment, got {found}"])
    metadata = mapping(document.get("metadata"), "metadata", conversion)
    spec = mapping(document.get("spec"), "spec", conversion)
    name = str(metadata.get("name") or "")
    conversion.namespace = str(metadata.get("namespace") or "")
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) or len(name) > STUDY_NAME_MAX:
        conversion.refuse(
            "metadata.name",
            f"{name!r}: a Study's name is a DNS label of at most {STUDY_NAME_MAX} characters "
            "(its trials are named NAME-N); rename the Experiment",
        )
    if "nasConfig" in spec:
        raise RefusedError(
            [
                "spec.nasConfig: neural architecture search (ENAS, DARTS) is not something "
                "kubetune does"
            ]
        )
    _objective(spec, conversion)
    _parameters(spec, conversion)
    _algorithm(spec, conversion)
    _early_stopping(spec, conversion)
    _budget(spec, conversion)
    katib_trials.convert_trials(spec, conversion, read_config_map)
    for unused, why in _UNUSED.items():
        if unused in spec:
            conversion.note(f"spec.{unused}", why)
    if conversion.problems:
        raise RefusedError(conversion.problems)
    study_meta: dict[str, Any] = {"name": name}
    if metadata.get("namespace"):
        study_meta["namespace"] = str(metadata["namespace"])
    study = {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "Study",
        "metadata": study_meta,
        "spec": conversion.spec,
    }
    return Converted(study, tuple(conversion.notes))


_UNUSED = {
    "resumePolicy": "dropped: a Study always resumes from its Trial objects (no pods kept "
    "running, no volume needed), whatever the policy was",
}


def _objective(spec: dict[str, Any], conversion: Conversion) -> None:
    objective = mapping(spec.get("objective"), "spec.objective", conversion)
    goal = {"maximize": "maximize", "minimize": "minimize"}.get(str(objective.get("type")))
    if goal is None:
        conversion.refuse("spec.objective.type", "must be maximize or minimize")
    metric = objective.get("objectiveMetricName")
    if not isinstance(metric, str) or not metric:
        conversion.refuse("spec.objective.objectiveMetricName", "is required")
        return
    _check_metric(metric, "spec.objective.objectiveMetricName", conversion)
    converted: dict[str, Any] = {"metric": metric, "goal": goal}
    if objective.get("goal") is not None:
        target = number(objective["goal"], "spec.objective.goal", conversion)
        if target is not None:
            converted["target"] = target
    others = [
        str(m)
        for m in items(
            objective.get("additionalMetricNames"),
            "spec.objective.additionalMetricNames",
            conversion,
        )
    ]
    for index, other in enumerate(others):
        _check_metric(other, f"spec.objective.additionalMetricNames[{index}]", conversion)
    if others:
        converted["additionalMetrics"] = others
    strategies = settings(
        objective.get("metricStrategies"), "spec.objective.metricStrategies", conversion
    )
    kept = strategies.get(metric, "max" if goal == "maximize" else "min")
    if kept != "latest":
        conversion.note(
            "spec.objective.metricStrategies",
            f"Katib scored a trial by the {kept} of its {metric} values; kubetune takes the "
            "last value reported (the model the trial ended with)",
        )
    conversion.spec["objective"] = converted


def _check_metric(name: str, where: str, conversion: Conversion) -> None:
    if not re.fullmatch(METRIC_PATTERN, name) or len(name) > 63:
        conversion.refuse(
            where,
            f"{name!r}: kubetune's metric names are letters, digits, _, - and . (at most 63), "
            "as the trainer prints them; have the trainer print it under such a name",
        )


def _parameter_name(raw: str, taken: set[str]) -> str:
    name = _IDENTIFIER.sub("_", raw)
    if not name or name[0].isdigit():
        name = f"p_{name}"
    while name in taken:
        name += "_"
    return name


def _parameters(spec: dict[str, Any], conversion: Conversion) -> None:
    out: list[dict[str, Any]] = []
    for index, entry in enumerate(items(spec.get("parameters"), "spec.parameters", conversion)):
        where = f"spec.parameters[{index}]"
        raw = mapping(entry, where, conversion)
        katib_name = str(raw.get("name") or "")
        if not katib_name:
            conversion.refuse(f"{where}.name", "is required")
            continue
        name = _parameter_name(katib_name, set(conversion.names.values()))
        conversion.names[katib_name] = name
        if name != katib_name:
            conversion.note(
                f"{where}.name",
                f"{katib_name!r} is {name!r} (a Study's parameter names are identifiers; "
                "trainers see only values)",
            )
        converted = _parameter(raw, where, name, conversion)
        if converted is not None:
            out.append(converted)
    if not out and not conversion.problems:
        conversion.refuse("spec.parameters", "at least one parameter is needed")
    conversion.spec["parameters"] = out


def _parameter(
    raw: dict[str, Any], where: str, name: str, conversion: Conversion
) -> dict[str, Any] | None:
    kind = raw.get("parameterType")
    space = mapping(raw.get("feasibleSpace"), f"{where}.feasibleSpace", conversion)
    if kind in ("categorical", "discrete"):
        values = [
            str(v) for v in items(space.get("list"), f"{where}.feasibleSpace.list", conversion)
        ]
        if not values:
            conversion.refuse(
                f"{where}.feasibleSpace.list",
                "a categorical or discrete parameter needs its values",
            )
            return None
        if kind == "discrete":
            conversion.note(
                f"{where}.parameterType",
                "discrete values are a categorical parameter (unordered; each value passed as "
                "written)",
            )
        return {"name": name, "type": "categorical", "values": list(dict.fromkeys(values))}
    if kind not in ("double", "int"):
        conversion.refuse(
            f"{where}.parameterType", f"{kind!r}: expected double, int, categorical or discrete"
        )
        return None
    whole = kind == "int"
    low = number(space.get("min"), f"{where}.feasibleSpace.min", conversion, whole)
    high = number(space.get("max"), f"{where}.feasibleSpace.max", conversion, whole)
    if low is None or high is None:
        return None
    converted: dict[str, Any] = {"name": name, "type": "int" if whole else "float"}
    converted["min"], converted["max"] = (int(low), int(high)) if whole else (low, high)
    if space.get("step") is not None:
        step = number(space["step"], f"{where}.feasibleSpace.step", conversion, whole)
        if step is not None:
            converted["step"] = int(step) if whole else step
    distribution = space.get("distribution")
    if distribution in ("logUniform", "logNormal") and "step" in converted:
        conversion.note(
            f"{where}.feasibleSpace",
            f"{distribution} and a step: a Study's parameter has one or the other; the step "
            "is kept (Katib's grid stepped linearly too)",
        )
    elif distribution in ("logUniform", "logNormal"):
        converted["log"] = True
    if distribution in ("normal", "logNormal"):
        conversion.note(
            f"{where}.feasibleSpace.distribution",
            f"{distribution}: kubetune searches the range"
            + (" on a log scale" if distribution == "logNormal" else "")
            + " without a prior bell shape",
        )
    elif distribution not in (None, "", "uniform", "logUniform", "distributionUnknown"):
        conversion.refuse(
            f"{where}.feasibleSpace.distribution",
            f"{distribution!r}: expected uniform, logUniform, normal or logNormal",
        )
    return converted


#: Katib's algorithm -> kubetune's, with what changes (None: nothing to say).
_ALGORITHMS: dict[str, tuple[str, str | None]] = {
    "random": ("random", None),
    "grid": ("grid", None),
    "sobol": ("sobol", None),
    "tpe": ("tpe", None),
    "multivariate-tpe": ("tpe", "kubetune's tpe models the parameters together already"),
    "bayesianoptimization": (
        "bayesian",
        "kubetune's own Gaussian process (skopt's base_estimator, acq_func and "
        "n_initial_points settings do not apply)",
    ),
    "cmaes": (
        "bayesian",
        "CMA-ES's job (continuous black-box search) is done by kubetune's Gaussian process",
    ),
}
_REFUSED_ALGORITHMS = {
    "pbt": "population-based training continues trials from each other's checkpoints, which "
    "kubetune does not do yet",
    "enas": "neural architecture search is not something kubetune does",
    "darts": "neural architecture search is not something kubetune does",
}
_SEED_SETTINGS = ("random_state", "seed")
#: Katib's medianstop defaults (pkg/earlystopping/v1beta1/medianstop), in kubetune's words.
_MEDIAN_DEFAULTS = {"minTrials": 3, "startStep": 4}


def _algorithm(spec: dict[str, Any], conversion: Conversion) -> None:
    algorithm = mapping(spec.get("algorithm"), "spec.algorithm", conversion)
    name = str(algorithm.get("algorithmName") or "random")
    told = settings(
        algorithm.get("algorithmSettings"), "spec.algorithm.algorithmSettings", conversion
    )
    if name == "hyperband":
        _hyperband(told, conversion)
        return
    if name in _REFUSED_ALGORITHMS:
        conversion.refuse("spec.algorithm.algorithmName", f"{name}: {_REFUSED_ALGORITHMS[name]}")
        return
    if name not in _ALGORITHMS:
        conversion.refuse(
            "spec.algorithm.algorithmName", f"{name!r} is no Katib algorithm kubetune knows"
        )
        return
    ours, why = _ALGORITHMS[name]
    converted: dict[str, Any] = {"name": ours}
    if why:
        conversion.note("spec.algorithm.algorithmName", f"{name} is {ours}: {why}")
    seed = next((told.pop(s) for s in _SEED_SETTINGS if s in told), None)
    if seed is not None:
        value = number(
            seed, "spec.algorithm.algorithmSettings[random_state]", conversion, whole=True
        )
        if value is not None:
            converted["seed"] = int(value) % 2**32
    if told:
        conversion.note(
            "spec.algorithm.algorithmSettings",
            f"dropped {', '.join(sorted(told))}: no such setting in kubetune's {ours}",
        )
    conversion.spec["algorithm"] = converted


def _hyperband(told: dict[str, str], conversion: Conversion) -> None:
    """Katib's hyperband picks trials itself over a resource parameter; kubetune's stopping
    rule of that name does the same job over random suggestions."""
    where = "spec.algorithm.algorithmSettings"
    resource = told.get("resource_name")
    if not resource:
        conversion.refuse(
            f"{where}[resource_name]", "hyperband needs the parameter that carries the budget"
        )
        return
    maximum = number(told.get("r_l"), f"{where}[r_l]", conversion)
    eta = number(told.get("eta", "3"), f"{where}[eta]", conversion, whole=True)
    if maximum is None or eta is None:
        return
    settings_out: dict[str, Any] = {
        "budgetParameter": conversion.names.get(resource, resource),
        "maxBudget": maximum,
        "reductionFactor": max(2, int(eta)),
    }
    _widen_budget_parameter(settings_out["budgetParameter"], maximum, conversion)
    conversion.spec["algorithm"] = {"name": "random"}
    conversion.spec["earlyStopping"] = {"name": "hyperband", "settings": settings_out}
    conversion.note(
        "spec.algorithm",
        "hyperband is random suggestions with kubetune's hyperband stopping rule over "
        f"{settings_out['budgetParameter']} (up to {maximum:g}, "
        f"eta {settings_out['reductionFactor']})",
    )


def _widen_budget_parameter(name: str, maximum: float, conversion: Conversion) -> None:
    """Katib pins its resource parameter (often min = max); kubetune fixes the budget
    parameter to maxBudget itself, and its range must hold that and be a range."""
    for parameter in conversion.spec.get("parameters", []):
        if parameter["name"] != name or parameter["type"] == "categorical":
            continue
        whole = parameter["type"] == "int"
        top = math.ceil(maximum) if whole else maximum
        low, high = min(parameter["min"], top), max(parameter["max"], top)
        if low >= high:
            low = low - 1 if whole or not parameter.get("log") else low / 2
        if (low, high) != (parameter["min"], parameter["max"]):
            parameter["min"], parameter["max"] = low, high
            conversion.note(
                f"spec.parameters ({name})",
                f"range {low:g} to {high:g}: hyperband sets it to each trial's budget",
            )


def _early_stopping(spec: dict[str, Any], conversion: Conversion) -> None:
    rule = mapping(spec.get("earlyStopping"), "spec.earlyStopping", conversion)
    if not rule:
        return
    name = rule.get("algorithmName")
    where = "spec.earlyStopping"
    if name != "medianstop":
        conversion.refuse(
            f"{where}.algorithmName",
            f"{name!r}: Katib's medianstop is the one kubetune carries (as median)",
        )
        return
    if "earlyStopping" in conversion.spec:
        conversion.refuse(
            where, "hyperband already stops trials; a second stopping rule cannot be added"
        )
        return
    told = settings(rule.get("algorithmSettings"), f"{where}.algorithmSettings", conversion)
    converted: dict[str, Any] = dict(_MEDIAN_DEFAULTS)  # Katib's, which differ from ours
    for katib_name, ours in (("min_trials_required", "minTrials"), ("start_step", "startStep")):
        if katib_name in told:
            value = number(
                told.pop(katib_name),
                f"{where}.algorithmSettings[{katib_name}]",
                conversion,
                whole=True,
            )
            if value is not None:
                converted[ours] = int(value)
    if told:
        conversion.note(
            f"{where}.algorithmSettings",
            f"dropped {', '.join(sorted(told))}: not a setting of median",
        )
    conversion.spec["earlyStopping"] = {"name": "median", "settings": converted}
    conversion.note(
        f"{where}.algorithmName",
        "medianstop is median: a trial stops when its best value by a step is worse than the "
        "median of the other trials' at that step (Katib compared running averages)",
    )


def _budget(spec: dict[str, Any], conversion: Conversion) -> None:
    budget: dict[str, Any] = {}
    for katib_name, ours in (
        ("maxTrialCount", "maxTrials"),
        ("parallelTrialCount", "parallelism"),
        ("maxFailedTrialCount", "maxFailedTrials"),
    ):
        if spec.get(katib_name) is not None:
            value = number(spec[katib_name], f"spec.{katib_name}", conversion, whole=True)
            if value is not None:
                budget[ours] = int(value)
    if "parallelTrialCount" not in spec:
        budget["parallelism"] = 3  # Katib's default, kept: kubetune's is 1
    conversion.spec["budget"] = budget


def references(conversion: Conversion) -> Mapping[str, str]:
    """Katib parameter names -> the Study's, for the trial template's placeholders."""
    return conversion.names

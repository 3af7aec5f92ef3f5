"""A Katib Experiment's trial template and metrics collector, as a Study's (see `katib.py`).

The trial template: `trialSpec` (or the ConfigMap `configMap` names) becomes
`spec.trialTemplate`, by kind: a Job, JobSet or TrainJob as kubetune knows them; any other
kind (a PyTorchJob, TFJob, MPIJob, ...) by its conditions, with its replica specs' pod
templates listed primary first. The primary container (`primaryContainerName`) is moved first,
since kubetune's trainer is the first container. `${trialParameters.NAME}` becomes
`${trial.params.PARAM}` through each trial parameter's `reference`; `${trialSpec.Name}` is
`${trial.name}`.

The collector: StdOut with Katib's default `name=value` parsing (or its `metricsFormat`
regex, its first two groups named), File (TEXT or JSON), TensorFlowEvent (the event files'
folder), Prometheus (a query for the objective, from a Prometheus that scrapes the trainer).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import yaml

from kubetune.convert.conversion import ConfigMapReader, Conversion, items, mapping

#: Katib's default StdOut and TEXT filter (pkg/metricscollector/v1beta1/common), its two
#: groups named as kubetune's regex format wants them.
DEFAULT_FILTER = r"(?P<name>[\w|-]+)\s*=\s*(?P<value>[+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"
_PLACEHOLDER = re.compile(r"\$\{trialParameters\.([^}]*)\}")
_SPEC_REFERENCE = re.compile(r"^\$\{trialSpec\.([A-Za-z]+)(\[[^\]]*\])?\}$")
_CONDITION = re.compile(r'^status\.conditions\.#\(type=="([A-Za-z]+)"\)#\|#\(status=="True"\)#$')
#: Built-in kinds: apiVersion -> kind.
_KNOWN = {
    ("batch/v1", "Job"): "Job",
    ("jobset.x-k8s.io/v1alpha2", "JobSet"): "JobSet",
    ("trainer.kubeflow.org/v1alpha1", "TrainJob"): "TrainJob",
}
_PRIMARY_REPLICAS = ("master", "chief", "launcher", "leader")


def convert_trials(
    spec: dict[str, Any], conversion: Conversion, read_config_map: ConfigMapReader | None
) -> None:
    template = mapping(spec.get("trialTemplate"), "spec.trialTemplate", conversion)
    trial_spec = _trial_spec(template, conversion, read_config_map)
    if trial_spec is None:
        return
    values = _trial_parameters(template, trial_spec, conversion)
    substituted = _substitute(trial_spec, values)
    unresolved = _leftover(substituted, set(values))
    if unresolved is not None:
        conversion.refuse(
            "spec.trialTemplate.trialSpec",
            f"${{trialParameters.{unresolved}}} names no entry of trialTemplate.trialParameters",
        )
        return
    converted = _by_kind(substituted, template, conversion)
    if converted is None:
        return
    if "retain" in template:
        conversion.note(
            "spec.trialTemplate.retain",
            "dropped: a trial's workload stays until its Study is deleted",
        )
    conversion.spec["trialTemplate"] = converted
    _collector(spec, conversion)


def _trial_spec(
    template: dict[str, Any], conversion: Conversion, read_config_map: ConfigMapReader | None
) -> dict[str, Any] | None:
    if "trialSpec" in template:
        return mapping(template["trialSpec"], "spec.trialTemplate.trialSpec", conversion)
    source = mapping(template.get("configMap"), "spec.trialTemplate.configMap", conversion)
    if not source:
        conversion.refuse("spec.trialTemplate", "needs a trialSpec (or a configMap holding one)")
        return None
    where = "spec.trialTemplate.configMap"
    name, path = source.get("configMapName"), source.get("templatePath")
    if not name or not path:
        conversion.refuse(where, "needs configMapName and templatePath")
        return None
    if read_config_map is None:
        conversion.refuse(
            where,
            f"the trial's template is in ConfigMap {name}: pass --cluster to read it from the "
            "cluster, or inline it as trialSpec",
        )
        return None
    try:
        text = read_config_map(str(name), source.get("configMapNamespace"), str(path))
    except LookupError as missing:
        conversion.refuse(where, str(missing))
        return None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        conversion.refuse(where, f"{path} of ConfigMap {name} is not YAML: {error}")
        return None
    return mapping(loaded, f"{where} ({name}/{path})", conversion)


def _trial_parameters(
    template: dict[str, Any], trial_spec: dict[str, Any], conversion: Conversion
) -> dict[str, str]:
    """`trialParameters` name -> what it becomes: a parameter's placeholder, the trial's name,
    or (the trial's kind, apiVersion, namespace, labels, annotations) the value itself."""
    values: dict[str, str] = {}
    raw = items(template.get("trialParameters"), "spec.trialTemplate.trialParameters", conversion)
    for index, raw_entry in enumerate(raw):
        where = f"spec.trialTemplate.trialParameters[{index}]"
        entry = mapping(raw_entry, where, conversion)
        name, reference = str(entry.get("name") or ""), str(entry.get("reference") or "")
        if not name or not reference:
            conversion.refuse(where, "needs a name and a reference")
            continue
        if reference in conversion.names:
            values[name] = f"${{trial.params.{conversion.names[reference]}}}"
            continue
        value = _spec_reference(reference, trial_spec, conversion.namespace)
        if value is None:
            values[name] = f"${{trialParameters.{name}}}"  # left as it is: refused here
            conversion.refuse(
                f"{where}.reference",
                f"{reference!r} is no parameter of the experiment, nor a field of the trial "
                "kubetune knows (${trialSpec.Name}, Namespace, Kind, APIVersion, Labels[k], "
                "Annotations[k])",
            )
        else:
            values[name] = value
    return values


def _spec_reference(reference: str, trial_spec: dict[str, Any], namespace: str) -> str | None:
    """What a `${trialSpec.X}` reference is: the trial's name is a placeholder; the rest are
    the same for every trial, so their values are written in."""
    found = _SPEC_REFERENCE.match(reference)
    if found is None:
        return None
    field, key = found.group(1), (found.group(2) or "")[1:-1]
    meta = _dict(trial_spec.get("metadata"))
    if field == "Name" and not key:
        return "${trial.name}"
    if field == "Namespace" and not key and namespace:
        return namespace
    if field in ("Kind", "APIVersion") and not key:
        value = trial_spec.get("kind" if field == "Kind" else "apiVersion")
        return value if isinstance(value, str) else None
    if field in ("Labels", "Annotations") and key:
        value = _dict(meta.get(field.lower())).get(key)
        return value if isinstance(value, str) else None
    return None


def _substitute(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, str):
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), node)
    if isinstance(node, list):
        return [_substitute(item, values) for item in node]
    if isinstance(node, dict):
        return {key: _substitute(item, values) for key, item in node.items()}
    return node


def _leftover(node: Any, declared: set[str]) -> str | None:
    """A `${trialParameters.X}` still there whose X no trial parameter declares (one that
    is declared but could not be converted was refused already)."""
    for found in _PLACEHOLDER.finditer(json.dumps(node)):
        if found.group(1) not in declared:
            return found.group(1)
    return None


def _by_kind(
    trial_spec: dict[str, Any], template: dict[str, Any], conversion: Conversion
) -> dict[str, Any] | None:
    api, kind = trial_spec.get("apiVersion"), trial_spec.get("kind")
    where = "spec.trialTemplate.trialSpec"
    if not isinstance(api, str) or not isinstance(kind, str):
        conversion.refuse(where, "needs its apiVersion and kind")
        return None
    body = {k: copy.deepcopy(v) for k, v in trial_spec.items() if k in ("metadata", "spec")}
    meta = body.get("metadata")
    if isinstance(meta, dict):
        body["metadata"] = {k: meta[k] for k in ("labels", "annotations") if k in meta}
        if not body["metadata"]:
            del body["metadata"]
    primary = str(template.get("primaryContainerName") or "")
    known = _KNOWN.get((api, kind))
    if known is not None:
        converted: dict[str, Any] = {"kind": known, **body} if known != "Job" else body
        for pod in _pod_templates_of_known(converted, known):
            _primary_first(pod, primary, conversion)
        for field in ("successCondition", "failureCondition"):
            if field in template:
                conversion.note(
                    f"spec.trialTemplate.{field}",
                    f"dropped: kubetune reads a {known}'s own status",
                )
        return converted
    return _conditions_kind(api, kind, body, template, primary, conversion)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _pod_templates_of_known(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    spec = _dict(template.get("spec"))
    if kind == "Job":
        pods = [spec.get("template")]
    elif kind == "JobSet":
        jobs = spec.get("replicatedJobs")
        listed = jobs if isinstance(jobs, list) else []
        pods = [_dict(_dict(_dict(j).get("template")).get("spec")).get("template") for j in listed]
    else:
        pods = []
    return [p for p in pods if isinstance(p, dict)]


def _primary_first(pod: dict[str, Any], primary: str, conversion: Conversion) -> None:
    spec = pod.get("spec")
    containers = spec.get("containers") if isinstance(spec, dict) else None
    if not primary or not isinstance(containers, list):
        return
    names = [c.get("name") if isinstance(c, dict) else None for c in containers]
    if primary in names and names.index(primary) > 0:
        containers.insert(0, containers.pop(names.index(primary)))
        conversion.note(
            "spec.trialTemplate.primaryContainerName",
            f"{primary} moved first among its pod's containers (kubetune's trainer is the first)",
        )


def _conditions_kind(
    api: str,
    kind: str,
    body: dict[str, Any],
    template: dict[str, Any],
    primary: str,
    conversion: Conversion,
) -> dict[str, Any] | None:
    spec = _dict(body.get("spec"))
    replicas_field = next((k for k in spec if k.endswith("ReplicaSpecs")), None)
    where = "spec.trialTemplate.trialSpec"
    if replicas_field is None or not isinstance(spec[replicas_field], dict):
        conversion.refuse(
            f"{where}.kind",
            f"{kind}: kubetune runs another kind by its conditions and needs to find its pod "
            "templates (a Kubeflow training kind's spec.*ReplicaSpecs); write the Study's "
            "trialTemplate.workload by hand",
        )
        return None
    replicas = [
        r for r, v in spec[replicas_field].items() if isinstance(v, dict) and "template" in v
    ]
    labels = _dict(template.get("primaryPodLabels"))
    wanted = {str(v).lower() for v in labels.values()}
    first = next((r for r in replicas if r.lower() in wanted), None) or next(
        (r for r in replicas if r.lower() in _PRIMARY_REPLICAS), replicas[0] if replicas else None
    )
    if first is None:
        conversion.refuse(f"{where}.spec.{replicas_field}", "no replica has a pod template")
        return None
    ordered = [first] + [r for r in replicas if r != first]
    for replica in ordered:
        _primary_first(spec[replicas_field][replica]["template"], primary, conversion)
    workload = {
        "succeeded": [_condition(template, "successCondition", "Succeeded", conversion)],
        "failed": [_condition(template, "failureCondition", "Failed", conversion)],
        "podTemplates": [f"spec.{replicas_field}.{r}.template" for r in ordered],
    }
    conversion.note(
        "spec.trialTemplate.trialSpec.kind",
        f"{kind} runs by its conditions; the {first} replica's pod reports the metrics",
    )
    replicas_of_first = spec[replicas_field][first].get("replicas", 1)
    if isinstance(replicas_of_first, int) and replicas_of_first > 1:
        conversion.note(
            f"spec.trialTemplate.trialSpec.spec.{replicas_field}.{first}.replicas",
            f"{replicas_of_first} pods of {first} each run the metrics sidecar and each "
            "reports: have one of them report (rank 0), or make the reporting replica one pod",
        )
    return {"apiVersion": api, "kind": kind, "workload": workload, **body}


def _condition(template: dict[str, Any], field: str, default: str, conversion: Conversion) -> str:
    raw = template.get(field)
    if raw is None:
        return default
    found = _CONDITION.match(str(raw))
    if found is None:
        conversion.refuse(
            f"spec.trialTemplate.{field}",
            "kubetune reads a condition by its type: write it as "
            'status.conditions.#(type=="TYPE")#|#(status=="True")#',
        )
        return default
    return found.group(1)


def _collector(spec: dict[str, Any], conversion: Conversion) -> None:
    where = "spec.metricsCollectorSpec"
    collector_spec = mapping(spec.get("metricsCollectorSpec"), where, conversion)
    collector = mapping(collector_spec.get("collector"), f"{where}.collector", conversion)
    source = mapping(collector_spec.get("source"), f"{where}.source", conversion)
    kind = str(collector.get("kind") or "StdOut")
    path_spec = mapping(source.get("fileSystemPath"), f"{where}.source.fileSystemPath", conversion)
    path = path_spec.get("path")
    metrics: dict[str, Any] = {}
    if kind in ("StdOut", "File"):
        metrics["format"], metrics["regex"] = "regex", _filter(source, conversion)
        if kind == "File":
            if not isinstance(path, str) or not path.startswith("/"):
                conversion.refuse(
                    f"{where}.source.fileSystemPath.path",
                    "a File collector needs the file's absolute path",
                )
                return
            json_lines = str(path_spec.get("format", "TEXT")).upper() == "JSON"
            metrics["file"] = {"path": path, "format": "json" if json_lines else "text"}
            if json_lines:
                metrics = {"file": metrics["file"]}
    elif kind == "TensorFlowEvent":
        if not isinstance(path, str) or not path.startswith("/"):
            conversion.refuse(
                f"{where}.source.fileSystemPath.path",
                "a TensorFlowEvent collector needs the event files' folder",
            )
            return
        metrics["tensorboard"] = {"dir": path.rstrip("/") or path}
    elif kind == "PrometheusMetric":
        objective = conversion.spec.get("objective", {}).get("metric", "")
        metrics["prometheus"] = {"query": f'{_promql_name(objective)}{{pod=~"${{trial.name}}-.*"}}'}
        conversion.note(
            f"{where}.collector.kind",
            "PrometheusMetric: Katib scraped the trainer's port itself; kubetune asks the "
            "Prometheus that scrapes it (a PodMonitor, or the operator's --prometheus-url) "
            "for the objective with this query",
        )
    elif kind == "Custom":
        conversion.refuse(
            f"{where}.collector.customCollector",
            "a collector container of your own: kubetune's sidecar reads the trainer's output, "
            "a metrics file, TensorBoard event files or Prometheus; have the trainer write one",
        )
        return
    elif kind in ("None", "PushBased"):
        conversion.refuse(
            f"{where}.collector.kind",
            f"{kind}: the trainer pushed its metrics to Katib's database; with kubetune it "
            "calls kubetune.report(step=..., **metrics) (or prints name=value lines) instead",
        )
        return
    else:
        conversion.refuse(
            f"{where}.collector.kind", f"{kind!r} is no Katib collector kubetune knows"
        )
        return
    for place, placeholder in (
        (metrics.get("file", {}).get("path"), "${trial.metricsFile}"),
        (metrics.get("tensorboard", {}).get("dir"), "${trial.tensorboardDir}"),
    ):
        if place and _point_at(conversion.spec.get("trialTemplate"), place, placeholder):
            conversion.note(
                "spec.trialTemplate.trialSpec",
                f"{place} is written {placeholder}: the same path on a cluster, and each "
                "trial's own under kubetune run",
            )
    if metrics.get("regex") == DEFAULT_FILTER:
        conversion.note(
            f"{where}", "Katib's default name=value parsing, kept as spec.metrics.regex"
        )
    conversion.spec["metrics"] = metrics


def _point_at(node: Any, place: str, placeholder: str) -> bool:
    """Replace `place` where it stands as a whole path in the template's strings (a flag's
    value, an env var's); True when any was replaced. Changes `node` in place."""
    pattern = re.compile(r"(?<![\w./-])" + re.escape(place) + r"/?(?![\w./-])")
    replaced = False

    def visit(value: Any) -> Any:
        nonlocal replaced
        if isinstance(value, str):
            new = pattern.sub(placeholder, value)
            replaced = replaced or new != value
            return new
        if isinstance(value, list):
            return [visit(item) for item in value]
        if isinstance(value, dict):
            return {key: visit(item) for key, item in value.items()}
        return value

    if isinstance(node, dict):
        node.update(visit(node))
    return replaced


def _promql_name(metric: str) -> str:
    return re.sub(r"[^A-Za-z0-9_:]", "_", metric)


def _filter(source: dict[str, Any], conversion: Conversion) -> str:
    """Katib's metricsFormat (its first two groups: name, value) as a regex with named groups."""
    where = "spec.metricsCollectorSpec.source.filter.metricsFormat"
    found = mapping(source.get("filter"), "spec.metricsCollectorSpec.source.filter", conversion)
    formats = [str(f) for f in items(found.get("metricsFormat"), where, conversion)]
    if not formats:
        return DEFAULT_FILTER
    if len(formats) > 1:
        conversion.refuse(
            where, f"{len(formats)} formats: kubetune takes one regex; join them into one"
        )
        return DEFAULT_FILTER
    named = name_groups(formats[0])
    if named is None:
        conversion.refuse(
            f"{where}[0]",
            "needs two capturing groups, the metric's name and its value, and must compile "
            "as a Python regex",
        )
        return DEFAULT_FILTER
    return named


def name_groups(pattern: str) -> str | None:
    """`pattern` with its first two capturing groups (by opening parenthesis) named `name`
    and `value`, as Katib reads them; None when it has fewer or is no valid regex."""
    out, opened, index, in_class = [], 0, 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            out.append(pattern[index : index + 2])
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(" and not pattern.startswith("(?", index):
            opened += 1
            if opened <= 2:
                out.append("(?P<name>" if opened == 1 else "(?P<value>")
                index += 1
                continue
        out.append(char)
        index += 1
    named = "".join(out)
    try:
        re.compile(named)
    except re.error:
        return None
    return named if opened >= 2 else None

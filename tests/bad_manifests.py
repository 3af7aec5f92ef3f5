"""The table of bad Study manifests: the unit tests check pydantic and the generated CRD with
cel-python; the cluster tests send each one to the real API server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Mutate = Callable[[dict[str, Any]], None]
ACC_UP = {"metric": "accuracy", "goal": "maximize"}
SIZE_DOWN = {"metric": "size", "goal": "minimize"}


def param(index: int, **fields: Any) -> Mutate:
    def mutate(m: dict[str, Any]) -> None:
        m["spec"]["parameters"][index].update(fields)
        for key, value in list(fields.items()):
            if value is None:
                del m["spec"]["parameters"][index][key]

    return mutate


def add_param(fields: dict[str, Any]) -> Mutate:
    def mutate(m: dict[str, Any]) -> None:
        m["spec"]["parameters"].append(fields)

    return mutate


def spec(path: str, value: Any) -> Mutate:
    def mutate(m: dict[str, Any]) -> None:
        node = m["spec"]
        *parents, last = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            del node[last]
        else:
            node[last] = value

    return mutate


def both(*mutations: Mutate) -> Mutate:
    def mutate(m: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(m)

    return mutate


def template_arg(arg: str) -> Mutate:
    def mutate(m: dict[str, Any]) -> None:
        m["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"] = [arg]

    return mutate


def job_field(name: str, value: Any) -> Mutate:
    def mutate(m: dict[str, Any]) -> None:
        m["spec"]["trialTemplate"]["spec"][name] = value

    return mutate


def template_label(key: str, value: str) -> Mutate:
    def mutate(m: dict[str, Any]) -> None:
        template = m["spec"]["trialTemplate"]
        template.setdefault("metadata", {}).setdefault("labels", {})[key] = value

    return mutate


P = "spec.parameters"
GRID = spec("algorithm", {"name": "grid"})
ASHA = "spec.earlyStopping.settings"


def pbt(**settings: Any) -> Mutate:
    """algorithm pbt (population 4, 2 steps a segment) with a checkpoint volume, as on a
    cluster; `settings` replace those (None: left out)."""
    chosen = {"population": 4, "readyInterval": 2, **settings}
    return both(
        spec("algorithm", {"name": "pbt", "settings": {k: v for k, v in chosen.items() if v}}),
        spec("checkpoints", {"volumeClaim": "checkpoints"}),
    )


# (id, mutation, pydantic path, words in pydantic's message, API server path or None when only
#  the operator-side validation can see it)
CASES: list[tuple[str, Mutate, str, str, str | None]] = [
    (
        "log-needs-positive-min",
        param(0, min=0.0),
        f"{P}[0].min",
        "must be > 0 when log is true",
        f"{P}[0].min",
    ),
    ("min-not-below-max", param(1, min=5, max=4), f"{P}[1].min", "must be < max", f"{P}[1].min"),
    ("float-without-max", param(0, max=None), f"{P}[0].max", "required for float", f"{P}[0]"),
    (
        "categorical-without-values",
        param(2, values=None),
        f"{P}[2].values",
        "non-empty list",
        f"{P}[2].values",
    ),
    (
        "decimal-categorical",
        param(2, values=[0.1, 0.5]),
        f"{P}[2].values",
        "strings or integers",
        f"{P}[2].values[0]",
    ),
    ("empty-categorical", param(2, values=[]), f"{P}[2].values", "at least 1", f"{P}[2].values"),
    (
        "values-on-a-float",
        param(0, values=[1, 2]),
        f"{P}[0].values",
        "only for categorical",
        f"{P}[0].values",
    ),
    ("categorical-with-min", param(2, min=1), f"{P}[2].min", "take values only", f"{P}[2].type"),
    ("int-with-fraction", param(1, min=1.5), f"{P}[1].min", "whole numbers", f"{P}[1].min"),
    (
        "step-with-log",
        param(0, step=0.01),
        f"{P}[0].step",
        "cannot be combined with log",
        f"{P}[0].step",
    ),
    ("negative-step", param(1, step=-1), f"{P}[1].step", "greater than 0", f"{P}[1].step"),
    (
        "step-wider-than-range",
        param(1, step=10),
        f"{P}[1].step",
        "must be <= max - min",
        f"{P}[1].step",
    ),
    ("unknown-type", param(0, type="double"), f"{P}[0].type", "must be one of", f"{P}[0].type"),
    (
        "bad-parameter-name",
        param(0, name="learning rate"),
        f"{P}[0].name",
        "pattern",
        f"{P}[0].name",
    ),
    ("duplicate-names", param(1, name="lr"), f"{P}[1].name", "duplicate parameter name", f"{P}"),
    ("no-parameters", spec("parameters", []), P, "at least 1", P),
    (
        "bad-goal",
        spec("objective", {"metric": "acc", "goal": "max"}),
        "spec.objective.goal",
        "must be one of",
        "spec.objective.goal",
    ),
    (
        "missing-objective",
        spec("objective", None),
        "spec.objective",
        "exactly one",
        "spec.objective",
    ),
    (
        "objective-and-objectives",
        spec("objectives", [ACC_UP, SIZE_DOWN]),
        "spec.objective",
        "exactly one",
        "spec.objective",
    ),
    (
        "one-objective-in-the-list",
        both(spec("objective", None), spec("objectives", [ACC_UP])),
        "spec.objectives",
        "at least 2",
        "spec.objectives",
    ),
    (
        "objectives-repeat-a-metric",
        both(spec("objective", None), spec("objectives", [ACC_UP, {**ACC_UP, "goal": "minimize"}])),
        "spec.objectives[1].metric",
        "already objective 0",
        "spec.objectives",
    ),
    (
        "constraint-on-an-objective",
        spec("constraints", [{"metric": "accuracy", "max": 0.99}]),
        "spec.constraints[0].metric",
        "is an objective",
        "spec.constraints",
    ),
    (
        "constraint-min-above-max",
        spec("constraints", [{"metric": "latency_ms", "min": 30, "max": 20}]),
        "spec.constraints[0].min",
        "above max",
        "spec.constraints[0].min",
    ),
    (
        "constraint-without-a-bound",
        spec("constraints", [{"metric": "latency_ms"}]),
        "spec.constraints[0].max",
        "needs max, min or both",
        "spec.constraints[0]",
    ),
    (
        "prometheus-with-several-objectives",
        both(
            spec("objective", None),
            spec("objectives", [ACC_UP, SIZE_DOWN]),
            spec("metrics", {"prometheus": {"query": 'acc{trial="${trial.name}"}'}}),
        ),
        "spec.metrics.prometheus",
        "reads one metric",
        "spec.metrics",
    ),
    (
        "constraint-twice-on-a-metric",
        spec(
            "constraints", [{"metric": "latency_ms", "max": 20}, {"metric": "latency_ms", "min": 1}]
        ),
        "spec.constraints[1].metric",
        "constrained twice",
        "spec.constraints",
    ),
    (
        "warm-start-study-not-a-dns-label",
        spec("warmStart", {"studies": ["Old_Study"]}),
        "spec.warmStart.studies[0]",
        "should match pattern",
        "spec.warmStart.studies[0]",
    ),
    (
        "warm-start-study-named-twice",
        spec("warmStart", {"studies": ["old", "old"]}),
        "spec.warmStart.studies[1]",
        "listed twice",
        "spec.warmStart.studies[1]",
    ),
    (
        "warm-start-trial-outside-the-space",
        spec("warmStart", {"trials": [{"params": {"lr": 0.5, "layers": 2, "optimizer": "adam"}}]}),
        "spec.warmStart.trials[0].params.lr",
        "outside its range",
        None,
    ),
    (
        "metric-repeated",
        spec("objective", {"metric": "acc", "goal": "maximize", "additionalMetrics": ["acc"]}),
        "spec.objective.additionalMetrics",
        "must not repeat",
        "spec.objective",
    ),
    (
        "unknown-algorithm",
        spec("algorithm", {"name": "tpe-ish"}),
        "spec.algorithm.name",
        "must be one of",
        "spec.algorithm.name",
    ),
    (
        "setting-of-another-algorithm",
        spec("algorithm", {"name": "bayesian", "settings": {"gridPoints": 5}}),
        "spec.algorithm.settings.gridPoints",
        "unknown field",
        "spec.algorithm.settings",
    ),
    (
        "bad-setting-value",
        spec("algorithm", {"name": "bayesian", "settings": {"nInitialPoints": 0}}),
        "spec.algorithm.settings.nInitialPoints",
        "greater than or equal to 1",
        "spec.algorithm.settings.nInitialPoints",
    ),
    (
        "negative-seed",
        spec("algorithm", {"name": "random", "seed": -1}),
        "spec.algorithm.seed",
        "greater than or equal to 0",
        "spec.algorithm.seed",
    ),
    ("grid-float-without-step", GRID, f"{P}[0].step", "grid search needs a step", P),
    (
        "asha-without-max-budget",
        spec("earlyStopping", {"name": "asha", "settings": {"minBudget": 1}}),
        f"{ASHA}.maxBudget",
        "required",
        "spec.earlyStopping.settings",
    ),
    (
        "asha-min-over-max",
        spec("earlyStopping", {"name": "asha", "settings": {"minBudget": 9, "maxBudget": 3}}),
        f"{ASHA}.minBudget",
        "must be < maxBudget",
        "spec.earlyStopping.settings",
    ),
    (
        "reduction-factor-one",
        spec(
            "earlyStopping",
            {"name": "hyperband", "settings": {"maxBudget": 9, "reductionFactor": 1}},
        ),
        f"{ASHA}.reductionFactor",
        "greater than or equal to 2",
        f"{ASHA}.reductionFactor",
    ),
    (
        "budget-parameter-unknown",
        spec(
            "earlyStopping",
            {"name": "asha", "settings": {"maxBudget": 9, "budgetParameter": "epochs"}},
        ),
        f"{ASHA}.budgetParameter",
        "must name a float or int parameter",
        "spec.earlyStopping",
    ),
    (
        "median-with-rung-setting",
        spec("earlyStopping", {"name": "median", "settings": {"maxBudget": 9}}),
        f"{ASHA}.maxBudget",
        "unknown field",
        "spec.earlyStopping.settings",
    ),
    (
        "zero-max-trials",
        spec("budget", {"maxTrials": 0}),
        "spec.budget.maxTrials",
        "greater than or equal to 1",
        "spec.budget.maxTrials",
    ),
    (
        "zero-parallelism",
        spec("budget", {"parallelism": 0}),
        "spec.budget.parallelism",
        "greater than or equal to 1",
        "spec.budget.parallelism",
    ),
    (
        "timeout-in-words",
        spec("budget", {"timeout": "10 minutes"}),
        "spec.budget.timeout",
        "pattern",
        "spec.budget.timeout",
    ),
    (
        "typo-in-budget",
        spec("budget", {"maxTrial": 10}),
        "spec.budget.maxTrial",
        "unknown field",
        "spec.budget.maxTrial",
    ),
    # conditional parameters: the manifest's parameters are lr, layers (int 1-4), optimizer
    (
        "when-names-no-parameter",
        param(2, when={"nope": ["a"]}),
        f"{P}[2].when.nope",
        "must name a parameter declared before 'optimizer'",
        P,
    ),
    (
        "when-names-itself",
        param(2, when={"optimizer": ["adam"]}),
        f"{P}[2].when.optimizer",
        "must name a parameter declared before",
        P,
    ),
    (
        "when-names-a-float",
        param(1, when={"lr": [1]}),
        f"{P}[1].when.lr",
        "categorical or int parameters, not float",
        P,
    ),
    (
        "when-int-value-never-taken",
        param(2, when={"layers": [7]}),
        f"{P}[2].when.layers",
        "layers never takes 7; it takes whole numbers from 1 to 4",
        P,
    ),
    (
        "when-two-parents",
        param(2, when={"layers": [1], "lr": [1]}),
        f"{P}[2].when",
        "at most 1",
        f"{P}[2].when",
    ),
    (
        "when-parent-declared-later",
        param(0, when={"optimizer": ["adam"]}),
        f"{P}[0].when.optimizer",
        "declared before 'lr'",
        None,  # order: the operator refuses it (the API server's cost budget has no room)
    ),
    (
        "when-categorical-value-never-taken",
        add_param(
            {
                "name": "momentum",
                "type": "float",
                "min": 0,
                "max": 1,
                "when": {"optimizer": ["SGD"]},
            }
        ),
        f"{P}[3].when.optimizer",
        "optimizer never takes 'SGD'; its values are ['adam', 'sgd']",
        None,  # a list in a list: past the API server's cost budget; the operator refuses it
    ),
    (
        "when-on-the-budget-parameter",
        both(
            add_param(
                {
                    "name": "epochs",
                    "type": "int",
                    "min": 1,
                    "max": 9,
                    "when": {"optimizer": ["sgd"]},
                }
            ),
            spec(
                "earlyStopping",
                {"name": "asha", "settings": {"maxBudget": 9, "budgetParameter": "epochs"}},
            ),
        ),
        f"{P}[3].when",
        "budgetParameter is fixed by the stopping rule and cannot be conditional",
        P,
    ),
    (
        "regex-without-groups",
        spec("metrics", {"format": "regex", "regex": "acc (.*)"}),
        "spec.metrics.regex",
        "named groups",
        "spec.metrics.regex",
    ),
    (
        "regex-that-does-not-compile",
        spec("metrics", {"format": "regex", "regex": "(?P<name>a)(?P<value>[0-9"}),
        "spec.metrics.regex",
        "not a valid regex",
        None,  # Python's regex dialect: the operator refuses it (InvalidSpec), not CEL
    ),
    (
        "regex-format-without-regex",
        spec("metrics", {"format": "regex"}),
        "spec.metrics.regex",
        "named groups",
        "spec.metrics.regex",
    ),
    (
        "regex-with-other-format",
        spec("metrics", {"format": "keyvalue", "regex": "(?P<name>x)(?P<value>y)"}),
        "spec.metrics.regex",
        "only used with format: regex",
        "spec.metrics.regex",
    ),
    (
        "unknown-placeholder",
        spec(
            "trialTemplate",
            {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "t",
                                    "image": "i",
                                    "command": ["train"],
                                    "args": ["${trial.params.momentum}"],
                                }
                            ]
                        }
                    }
                }
            },
        ),
        "spec.trialTemplate",
        "unknown placeholder ${trial.params.momentum}",
        None,
    ),
    (
        "trainer-without-command",
        spec(
            "trialTemplate",
            {"spec": {"template": {"spec": {"containers": [{"name": "t", "image": "i"}]}}}},
        ),
        "spec.trialTemplate.spec.template.spec.containers[0].command",
        "required unless metrics come from Prometheus",
        "spec.trialTemplate",
    ),
    (
        "no-containers",
        spec("trialTemplate", {"spec": {"template": {"spec": {"containers": []}}}}),
        "spec.trialTemplate.spec.template.spec.containers",
        "at least 1",
        "spec.trialTemplate.spec.template.spec.containers",
    ),
    (
        "negative-gpus",
        spec("resources", {"gpus": -1}),
        "spec.resources.gpus",
        "greater than or equal to 0",
        "spec.resources.gpus",
    ),
    (
        "float-range-overflows",
        param(0, min=-1e308, max=1e308, log=None),
        f"{P}[0].min",
        "must lie within -1e300 and 1e300",
        f"{P}[0].min",
    ),
    ("int-beyond-2-to-the-53", param(1, max=2**60), f"{P}[1].max", "(2^53)", f"{P}[1].max"),
    (
        "duplicate-categorical-values",
        param(2, values=["adam", "sgd", "adam"]),
        f"{P}[2].values",
        "must not repeat",
        f"{P}[2].values",
    ),
    (
        "asha-max-budget-below-the-default-min",
        spec("earlyStopping", {"name": "asha", "settings": {"maxBudget": 0.5}}),
        f"{ASHA}.minBudget",
        "must be < maxBudget",
        "spec.earlyStopping.settings",
    ),
    (
        "two-metrics-sources",
        spec("metrics", {"file": {}, "tensorboard": {}}),
        "spec.metrics.tensorboard",
        "at most one of file, tensorboard and prometheus",
        "spec.metrics",
    ),
    (
        "metrics-file-relative-path",
        spec("metrics", {"file": {"path": "logs/metrics.log"}}),
        "spec.metrics.file.path",
        "should match pattern",
        "spec.metrics.file.path",
    ),
    (
        "metrics-file-path-climbing-out",
        spec("metrics", {"file": {"path": "/kubetune/../etc/metrics.log"}}),
        "spec.metrics.file.path",
        "without . or .. segments",
        "spec.metrics.file.path",
    ),
    (
        "metrics-file-is-the-trainers-output",
        spec("metrics", {"file": {"path": "/kubetune/output.log"}}),
        "spec.metrics.file.path",
        "a file kubetune writes itself",
        "spec.metrics.file.path",
    ),
    (
        "metrics-file-unknown-format",
        spec("metrics", {"file": {"format": "csv"}}),
        "spec.metrics.file.format",
        "'text' or 'json'",
        "spec.metrics.file.format",
    ),
    (
        "tensorboard-tag-key-not-a-metric-name",
        spec("metrics", {"tensorboard": {"tags": {"val acc": "epoch_accuracy"}}}),
        "spec.metrics.tensorboard.tags.val acc",
        "a metric's name",
        "spec.metrics.tensorboard.tags",
    ),
    (
        "tensorboard-folder-is-the-shared-one",
        spec("metrics", {"tensorboard": {"dir": "/kubetune"}}),
        "spec.metrics.tensorboard.dir",
        "the folder kubetune itself writes to",
        "spec.metrics.tensorboard.dir",
    ),
    (
        "tensorboard-tag-for-a-metric-the-study-lacks",
        spec("metrics", {"tensorboard": {"tags": {"loss": "epoch_loss"}}}),
        "spec.metrics.tensorboard.tags.loss",
        "names no metric of this study",
        None,
    ),
    (
        "tensorboard-folder-placeholder-without-tensorboard",
        template_arg("--logdir=${trial.tensorboardDir}"),
        "spec.trialTemplate",
        "set spec.metrics.tensorboard",
        None,
    ),
    (
        "metrics-file-placeholder-without-a-file",
        both(
            spec("metrics", {"tensorboard": {}}),
            template_arg("--log=${trial.metricsFile}"),
        ),
        "spec.trialTemplate",
        "set spec.metrics.file",
        None,
    ),
    (
        "prometheus-query-for-no-trial",
        spec("metrics", {"prometheus": {"url": "http://prom:9090", "query": "up"}}),
        "spec.metrics.prometheus.query",
        "must contain ${trial.name}",
        "spec.metrics.prometheus.query",
    ),
    (
        "empty-trainer-command",
        spec(
            "trialTemplate",
            {
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "t", "image": "i", "command": []}]}
                    }
                }
            },
        ),
        "spec.trialTemplate.spec.template.spec.containers[0].command",
        "required unless metrics come from Prometheus",
        "spec.trialTemplate",
    ),
    (
        "metric-name-with-a-comma",
        spec("objective", {"metric": "acc", "goal": "maximize", "additionalMetrics": ["a,b"]}),
        "spec.objective.additionalMetrics[0]",
        "pattern",
        "spec.objective.additionalMetrics[0]",
    ),
    (
        "empty-timeout",
        spec("budget", {"timeout": ""}),
        "spec.budget.timeout",
        "at least 2",
        "spec.budget.timeout",
    ),
    (
        "zero-timeout",
        spec("budget", {"timeout": "0h0s"}),
        "spec.budget.timeout",
        "longer than zero",
        "spec.budget.timeout",
    ),
    (
        "boolean-as-a-number",
        spec("budget", {"maxTrials": True}),
        "spec.budget.maxTrials",
        "valid integer",
        "spec.budget.maxTrials",
    ),
    (
        "string-as-a-number",
        spec("budget", {"parallelism": "2"}),
        "spec.budget.parallelism",
        "valid integer",
        "spec.budget.parallelism",
    ),
    (
        "zero-second-timeout",
        spec("budget", {"timeout": "0s"}),
        "spec.budget.timeout",
        "longer than zero",
        "spec.budget.timeout",
    ),
    (
        "budget-placeholder-without-a-stopping-rule",
        template_arg("--epochs=${trial.budget}"),
        "spec.trialTemplate",
        "${trial.budget} is each trial's budget under earlyStopping asha or hyperband",
        None,  # placeholders sit in free-form Job fields the schema passes through
    ),
    (
        "unclosed-placeholder",
        template_arg("--lr=${trial.params.lr"),
        "spec.trialTemplate",
        "'--lr=${trial.params.lr' opens a placeholder with ${ and never closes it",
        None,
    ),
    (
        "zero-deadline",
        job_field("activeDeadlineSeconds", 0),
        "spec.trialTemplate.spec.activeDeadlineSeconds",
        "greater than or equal to 1",
        "spec.trialTemplate.spec.activeDeadlineSeconds",
    ),
    (
        "negative-backoff-limit",
        job_field("backoffLimit", -1),
        "spec.trialTemplate.spec.backoffLimit",
        "greater than or equal to 0",
        "spec.trialTemplate.spec.backoffLimit",
    ),
    (
        "jobset-without-replicated-jobs",
        spec("trialTemplate.kind", "JobSet"),
        "spec.trialTemplate.spec.replicatedJobs",
        "a JobSet needs at least one replicated job",
        "spec.trialTemplate.spec",
    ),
    (
        "api-version-not-the-kinds",
        spec("trialTemplate.apiVersion", "jobset.x-k8s.io/v1alpha2"),
        "spec.trialTemplate.apiVersion",
        "a Job is batch/v1",
        "spec.trialTemplate.apiVersion",
    ),
    (
        "trainjob-without-runtime",
        spec("trialTemplate.kind", "TrainJob"),
        "spec.trialTemplate.spec.runtimeRef",
        "a TrainJob needs a runtime",
        "spec.trialTemplate.spec",
    ),
    (
        "unknown-kind-not-described",
        spec("trialTemplate.kind", "PyTorchJob"),
        "spec.trialTemplate.apiVersion",
        "give its apiVersion and a workload block",
        "spec.trialTemplate.workload",
    ),
    (
        "workload-block-on-a-job",
        spec("trialTemplate.workload", {"podTemplates": ["spec.template"]}),
        "spec.trialTemplate.workload",
        "only for kinds not known by name",
        "spec.trialTemplate.spec",
    ),
    (
        "described-kind-without-its-pod-template",
        both(
            spec("trialTemplate.kind", "PyTorchJob"),
            spec("trialTemplate.apiVersion", "kubeflow.org/v1"),
            spec(
                "trialTemplate.workload",
                {"podTemplates": ["spec.pytorchReplicaSpecs.Master.template"]},
            ),
        ),
        "spec.trialTemplate.workload.podTemplates[0]",
        "no pod template with containers at spec.pytorchReplicaSpecs.Master.template",
        None,
    ),
    (
        "condition-both-succeeded-and-failed",
        both(
            spec("trialTemplate.kind", "PyTorchJob"),
            spec("trialTemplate.apiVersion", "kubeflow.org/v1"),
            spec(
                "trialTemplate.workload",
                {"podTemplates": ["spec.template"], "succeeded": ["Done"], "failed": ["Done"]},
            ),
        ),
        "spec.trialTemplate.workload.failed",
        "also listed as succeeded",
        None,
    ),
    (
        "queue-name-not-a-name",
        spec("queueName", "GPU Queue"),
        "spec.queueName",
        "should match pattern",
        "spec.queueName",
    ),
    (
        "two-queues",
        both(spec("queueName", "gpus"), template_label("kueue.x-k8s.io/queue-name", "cpus")),
        "spec.queueName",
        "name the LocalQueue in one place",
        "spec.queueName",
    ),
    (
        "pbt-population-above-max-trials",
        pbt(population=8),
        "spec.algorithm.settings.population",
        "maxTrials counts segments",
        "spec.algorithm",
    ),
    (
        "pbt-with-early-stopping",
        both(pbt(), spec("earlyStopping", {"name": "asha", "settings": {"maxBudget": 9}})),
        "spec.earlyStopping",
        "remove earlyStopping",
        "spec.earlyStopping",
    ),
    (
        "pbt-with-objectives",
        both(pbt(), spec("objective", None), spec("objectives", [ACC_UP, SIZE_DOWN])),
        "spec.objectives",
        "set objective, not objectives",
        "spec.objectives",
    ),
    (
        "pbt-with-constraints",
        both(pbt(), spec("constraints", [{"metric": "size", "max": 3}])),
        "spec.constraints",
        "cannot keep to constraints",
        "spec.constraints",
    ),
    (
        "pbt-as-a-trainjob",
        both(
            pbt(),
            spec(
                "trialTemplate",
                {
                    "kind": "TrainJob",
                    "spec": {"runtimeRef": {"name": "torch"}, "trainer": {"command": ["train"]}},
                },
            ),
        ),
        "spec.trialTemplate.kind",
        "run each segment as a Job or a JobSet",
        None,  # the operator's validation refuses it, naming the field
    ),
    (
        "pbt-without-population",
        pbt(population=None),
        "spec.algorithm.settings.population",
        "required field is missing",
        "spec.algorithm.settings",
    ),
    (
        "pbt-quantile-above-half",
        pbt(quantile=0.6),
        "spec.algorithm.settings.quantile",
        "less than or equal to 0.5",
        "spec.algorithm.settings.quantile",
    ),
    (
        "pbt-factor-not-positive",
        pbt(perturbFactors=[0.8, 0]),
        "spec.algorithm.settings.perturbFactors[1]",
        "greater than 0",
        "spec.algorithm.settings.perturbFactors[1]",
    ),
    (
        "checkpoints-without-pbt",
        spec("checkpoints", {"volumeClaim": "checkpoints"}),
        "spec.checkpoints",
        "applies only to algorithm pbt",
        "spec.checkpoints",
    ),
    (
        "checkpoint-folder-without-pbt",
        template_arg("--resume=${trial.restoreDir}"),
        "spec.trialTemplate",
        "only algorithm pbt gives its trials",
        None,  # placeholders are read by the operator's validation
    ),
    (
        "infinite-target",
        spec("objective", {"metric": "acc", "goal": "maximize", "target": float("inf")}),
        "spec.objective.target",
        "finite number",
        None,  # JSON has no infinity: kubectl cannot even send it
    ),
]

"""`kubetune.tune(fn, parameters=..., objective=...)`: a Python function as a study's trials.

`fn(params)` trains once and returns its objective (or a dict of metrics, or reports with
`kubetune.report` itself). Each trial runs it in a process of its own, shipped as source
(`shipping`): locally as `kubetune run` runs a Study (`backend="local"`), on a cluster as the
trials of a Study the operator runs (`backend="cluster"`). Both backends run the same Study
but for where the program is, so the same call suggests the same first trials on both.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubetune.api import InvalidStudyError, load_study
from kubetune.client.bar import Bar, best_note
from kubetune.client.cluster import Client
from kubetune.client.errors import StudyExistsError, translate
from kubetune.client.results import StudyResult, trial_results
from kubetune.engine import Best as EngineBest
from kubetune.engine import Decision
from kubetune.local.progress import Progress
from kubetune.local.results import ResultsFile, TrialRow, set_aside
from kubetune.search import parameters as space_parameters
from kubetune.tuning import entry, manifest
from kubetune.tuning.shipping import Program, ship

BACKENDS = ("local", "cluster")


class _BarProgress(Progress):
    """The local runner's progress as one bar (tqdm's in a notebook) instead of a line per
    trial; a failed trial still gets its line, with why."""

    def __init__(self, name: str, metric: str, total: int, maximize: bool, enabled: bool) -> None:
        super().__init__(metric, total, maximize, quiet=True)
        self.bar = Bar(name, total, enabled)

    def update(self, rows: Sequence[TrialRow], best: EngineBest | None) -> None:
        done = sum(1 for r in rows if not r.state.active)
        note = {"name": best.trial, "objective": best.objective} if best is not None else None
        self.bar.update(done, best_note(self.metric, note))

    def trial_done(self, row: TrialRow) -> None:
        if row.state.value == "Failed" and self.bar.enabled:
            print(f"{row.name} failed: {row.reason}", file=sys.stderr)

    def finished(self, rows: Sequence[TrialRow], decision: Decision) -> None:
        self.update(rows, decision.best)
        self.bar.close()


def _program_study(
    fn: Callable[..., Any],
    name: str | None,
    parameters: Mapping[str, Any],
    objective: Any,
    goal: str,
    args: Mapping[str, Any] | None,
    packages: Sequence[str] | None,
) -> tuple[str, list[dict[str, Any]], Program]:
    params = space_parameters(parameters)
    study = name or manifest.study_name(getattr(fn, "__name__", "tune"))
    metric = manifest.first_metric(manifest.objectives(objective, goal))
    program = ship(fn, params, metric, args, list(packages or []))
    return study, params, program


def tune(
    fn: Callable[..., Any],
    *,
    parameters: Mapping[str, Any],
    objective: Any = "objective",
    goal: str = "maximize",
    name: str | None = None,
    max_trials: int = 20,
    parallelism: int = 1,
    algorithm: str | Mapping[str, Any] = "auto",
    seed: int | None = None,
    early_stopping: Mapping[str, Any] | None = None,
    args: Mapping[str, Any] | None = None,
    backend: str = "local",
    client: Client | None = None,
    namespace: str | None = None,
    image: str | None = None,
    packages: Sequence[str] | None = None,
    resources: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    pod: Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    wait: bool = True,
    timeout: float | None = None,
) -> StudyResult:
    """Tune `fn` over `parameters` and return what the study found.

    - `parameters`: a dict of name -> `kubetune.search.float/int/categorical(...)`.
    - `objective`: the metric `fn` returns or reports, with `goal` ("maximize" or "minimize");
      a list of metrics (or {metric, goal} dicts) for several objectives.
    - `algorithm` ("auto", "bayesian", "tpe", ... or a dict with settings), `seed`,
      `early_stopping` (a Study's `spec.earlyStopping`), `max_trials`, `parallelism`.
    - `args`: fixed keyword arguments for every call, as JSON (`fn(params, **args)`).
    - `backend="local"`: trials as processes here, results in `out` (default
      `kubetune-runs/NAME`, an earlier run there kept beside it).
    - `backend="cluster"`: a Study in `namespace` through `client` (default: the current
      kubeconfig context's), each trial a pod of `image` (default: the chart's image, with
      Python and scikit-learn) that installs `packages` at start, with `resources` (gpus, cpu,
      memory) and `env`; `pod` adds fields to the trial pod's spec (nodeSelector,
      tolerations, serviceAccountName). With `wait=False` it returns once the Study exists.

    A function that cannot be shipped, and a Study the model refuses, raise ValueError before
    anything is created or run.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    study, params, program = _program_study(fn, name, parameters, objective, goal, args, packages)
    options: dict[str, Any] = {
        "max_trials": max_trials,
        "parallelism": parallelism,
        "algorithm": algorithm,
        "seed": seed,
        "early_stopping": early_stopping,
        "image": image,
        "resources": resources,
        "pod": pod,
    }
    call = _Call(study, params, objective, goal, program, options)
    if backend == "cluster":
        return _on_cluster(call, env, client, namespace, progress, wait, timeout)
    return _locally(call, env, out, progress)


@dataclass(frozen=True)
class _Call:
    """One `tune()` call's study, whichever backend runs it."""

    study: str
    params: list[dict[str, Any]]
    objective: Any
    goal: str
    program: Program
    #: `manifest.build_study`'s keyword options (budget, algorithm, image, resources, pod).
    options: dict[str, Any]

    def document(
        self, entry_path: str, files: Mapping[str, str] | None, env: Mapping[str, str] | None
    ) -> dict[str, Any]:
        """The Study manifest, checked by the Study's model so that a bad range or setting is
        refused before anything is created, naming the field as `kubectl apply` would."""
        document = manifest.build_study(
            self.study,
            self.params,
            self.objective,
            self.goal,
            env=env,
            entry=entry_path,
            files=files,
            **self.options,
        )
        try:
            load_study(document)
        except InvalidStudyError as error:
            raise ValueError(str(error)) from None
        return document


def _locally(
    call: _Call, env: Mapping[str, str] | None, out: str | Path | None, progress: bool
) -> StudyResult:
    from kubetune.dashboard.local import local_documents  # noqa: PLC0415
    from kubetune.local.gpus import detect_gpus  # noqa: PLC0415
    from kubetune.local.runner import LocalRunner, RunOptions, Stopped  # noqa: PLC0415
    from kubetune.local.warm_start import load_prior  # noqa: PLC0415

    folder = Path(out) if out is not None else Path("kubetune-runs") / call.study
    folder.mkdir(parents=True, exist_ok=True)
    code = folder.resolve() / "function"
    packages = call.program.packages
    trial_env = dict(env or {})
    if packages:
        trial_env[entry.PACKAGES_DIR] = str(code / "packages")
    model = load_study(call.document(str(code / "entry.py"), None, trial_env))
    call.program.write(code)
    if packages:
        try:
            entry.install_into(code / "packages", packages)
        except SystemExit as error:  # the trial's way to fail; here, an error to the caller
            raise RuntimeError(str(error)) from None
    path = folder / "results.jsonl"
    if path.exists():  # an earlier call's: kept beside, as `kubetune run --fresh` keeps it
        set_aside(path)
    results = ResultsFile(path)
    spec = model.spec
    bar = _BarProgress(
        call.study,
        spec.primary.metric,
        spec.budget.max_trials,
        spec.primary.goal == "maximize",
        progress,
    )
    prior, _ = load_prior(spec, folder.resolve().parent)
    runner = LocalRunner(model, results, RunOptions(folder, Path.cwd(), detect_gpus(), prior), bar)
    try:
        runner.run()
    except Stopped as stop:
        raise KeyboardInterrupt(
            f"stopped ({stop}); every trial process ended, results in {results.path}"
        ) from None
    finally:
        bar.bar.close()
    document, trials = local_documents(ResultsFile.load(path), folder)
    return StudyResult(call.study, "local", str(folder), document["status"], trial_results(trials))


def _on_cluster(
    call: _Call,
    env: Mapping[str, str] | None,
    client: Client | None,
    namespace: str | None,
    progress: bool,
    wait: bool,
    timeout: float | None,
) -> StudyResult:
    study, files = call.study, call.program.files
    document = call.document(f"{manifest.MOUNT}/entry.py", files, env)
    client = client or Client(namespace)
    where, kube = client.namespace, client.kube
    config_map = manifest.config_map(study, files)
    cm_name = config_map["metadata"]["name"]
    try:
        kube.create_config_map(where, config_map)
    except kube.errors as error:
        raised = translate(error, f"ConfigMap {cm_name!r}")
        if isinstance(raised, StudyExistsError):
            raised = StudyExistsError(
                f"ConfigMap {cm_name!r} already exists in {where!r} (left by a Study "
                f"{study!r} that still exists?); delete the Study, or pass name="
            )
        raise raised from None
    try:
        created = client.create(document)
    except BaseException:
        kube.delete_config_map(where, cm_name)
        raise
    try:
        kube.adopt_config_map(where, cm_name, created)
    except kube.errors as error:
        raise translate(error, f"ConfigMap {cm_name!r}") from None
    status = (
        client.wait(study, timeout=timeout, progress=progress) if wait else client.status(study)
    )
    return StudyResult(study, "cluster", where, status, client.trials(study))

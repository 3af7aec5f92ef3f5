"""The samplers kubetune is measured against, driven through their own ask/tell interfaces.

- `optuna-gp`: Optuna's GPSampler with its defaults (10 random start-up trials, log EI; with
  trials still running it switches to a Monte Carlo batch EI, qLogEI).
- `optuna-tpe`: Optuna's TPESampler with its defaults (with trials still running, a constant
  liar).
- `skopt-katib`: scikit-optimize configured as Katib's `bayesianoptimization` suggestion
  service configures it: a GP base estimator, 10 initial points, `gp_hedge`, `auto`
  acquisition optimiser; batches come from its constant liar (`ask(n_points=...)`).

They are installed for the benchmark only (`pip install -e '.[bench]'`, which `make bench`
does in its own virtual environment); nothing in `operator/` may import them.
A batch protocol is the same for every sampler: ask `parallelism` points, evaluate them all,
tell all results, ask again. The asynchronous one: keep `parallelism` trials asked and not
told; tell the oldest, ask one more. Optuna's samplers see the trials still running; Katib's
service never tells its optimizer about them, so neither does `skopt-katib`.
Conditional parameters (`when`): Optuna suggests them define-by-run, only where active (its GP
samples what is not in every trial's space independently, its TPE models each one on the
trials that have it); scikit-optimize, flat like Katib, draws every parameter and the
inactive ones are dropped before the objective sees them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tasks import Task

PEERS = ["optuna-gp", "optuna-tpe", "skopt-katib"]

Params = dict[str, Any]


def run_peer(
    peer: str, task: Task, seed: int, trials: int, parallelism: int, asynchronous: bool = False
) -> list[tuple[Params, float]]:
    """Every trial's params and objective, in the order they were asked."""
    if peer.startswith("optuna-"):
        return _run_optuna(peer, task, seed, trials, parallelism, asynchronous)
    if peer == "skopt-katib":
        return _run_skopt(task, seed, trials, parallelism, asynchronous)
    raise ValueError(f"unknown peer {peer}")


def peer_versions() -> dict[str, str]:
    from importlib.metadata import version  # noqa: PLC0415

    return {name: version(name) for name in ("optuna", "torch", "scikit-optimize")}


def _active(parameter: dict[str, Any], params: Params) -> bool:
    return all(params.get(k) in v for k, v in (parameter.get("when") or {}).items())


def _define_by_run(trial: Any, task: Task) -> Params:
    params: Params = {}
    for parameter in task.parameters:
        if _active(parameter, params):
            params[parameter["name"]] = _suggest(trial, parameter)
    return params


def _suggest(trial: Any, parameter: dict[str, Any]) -> Any:
    name, kind = parameter["name"], parameter["type"]
    if kind == "categorical":
        return trial.suggest_categorical(name, parameter["values"])
    log = bool(parameter.get("log", False))
    if kind == "int":
        return trial.suggest_int(name, parameter["min"], parameter["max"], log=log)
    return trial.suggest_float(
        name, parameter["min"], parameter["max"], log=log, step=parameter.get("step")
    )


def _run_optuna(
    peer: str, task: Task, seed: int, trials: int, parallelism: int, asynchronous: bool
) -> list[tuple[Params, float]]:
    import optuna  # noqa: PLC0415

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler: Any
    if peer == "optuna-gp":
        sampler = optuna.samplers.GPSampler(seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(sampler=sampler, direction="minimize")
    results: list[tuple[Params, float]] = []
    running: list[tuple[Any, Params]] = []
    asked = 0
    while len(results) < trials:
        # batches: refill all `parallelism` slots once all are told; asynchronous: whenever
        # one is (the oldest), so its sampler asks with the others still running
        if asynchronous or not running:
            while len(running) < parallelism and asked < trials:
                trial = study.ask()
                running.append((trial, _define_by_run(trial, task)))
                asked += 1
        trial, params = running.pop(0)
        value = task.objective(params)
        study.tell(trial, value)
        results.append((params, value))
    return results


def _skopt_dimension(parameter: dict[str, Any]) -> Any:
    from skopt.space import Categorical, Integer, Real  # noqa: PLC0415

    prior = "log-uniform" if parameter.get("log") else "uniform"
    if parameter["type"] == "categorical":
        return Categorical(parameter["values"], name=parameter["name"])
    if parameter["type"] == "int":
        return Integer(parameter["min"], parameter["max"], prior=prior, name=parameter["name"])
    return Real(parameter["min"], parameter["max"], prior=prior, name=parameter["name"])


def _run_skopt(
    task: Task, seed: int, trials: int, parallelism: int, asynchronous: bool
) -> list[tuple[Params, float]]:
    import warnings  # noqa: PLC0415

    from skopt import Optimizer  # noqa: PLC0415

    optimizer = Optimizer(
        [_skopt_dimension(p) for p in task.parameters],
        base_estimator="GP",
        n_initial_points=10,
        acq_func="gp_hedge",
        acq_optimizer="auto",
        random_state=seed,
    )
    names = [p["name"] for p in task.parameters]
    results: list[tuple[Params, float]] = []
    native: Callable[[Any], Any] = lambda v: v.item() if hasattr(v, "item") else v  # noqa: E731

    def quietly(call: Callable[[], Any]) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call()

    def ask(count: int) -> list[Any]:
        return quietly(lambda: optimizer.ask(n_points=count) if count > 1 else [optimizer.ask()])

    def evaluate(point: Any) -> float:
        drawn = {n: native(v) for n, v in zip(names, point, strict=True)}
        params: Params = {}
        for parameter in task.parameters:
            if _active(parameter, params):
                params[parameter["name"]] = drawn[parameter["name"]]
        value = task.objective(params)
        results.append((params, value))
        return value

    if asynchronous:
        # as Katib's service runs it: each finished trial told, one more asked, and the
        # optimizer never told what is still running
        running = ask(min(parallelism, trials))
        asked = len(running)
        while running:
            point = running.pop(0)
            value = evaluate(point)
            quietly(lambda point=point, value=value: optimizer.tell(point, value))
            if asked < trials:
                running += ask(1)
                asked += 1
        return results
    while len(results) < trials:
        points = ask(min(parallelism, trials - len(results)))
        values = [evaluate(point) for point in points]
        quietly(lambda points=points, values=values: optimizer.tell(points, values))
    return results

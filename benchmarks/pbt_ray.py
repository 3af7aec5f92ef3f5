"""Ray Tune's PBT on the two PBT benchmarks' tasks (`pbt_toy.py`, `pbt_digits.py`), as the peer
of kubetune's `engine/pbt.py` (issue 39, part 3). Same population (8, all running at once),
same segment length (`perturbation_interval`), quantile 0.25, resample probability 0.25,
factors 1.2/0.8, the same total steps; the figure is judged the same way (the toy's noise-free
score, the digits model's test accuracy) for the trial Ray ranks best by the reported score.

    python benchmarks/pbt_ray.py [--seeds 20] [--tasks toy digits] [--out FILE.json]
        [--first-seed N --with EARLIER.json]

A run can go on from an earlier one (about 3 minutes of wall time per seed here, alone): seeds
from `--first-seed` on are run, and the earlier file's first N seeds of each task join them.
The file is written after every seed ("complete": false until the end), so a stopped run can
be continued from it.

Needs `pip install 'ray[tune]'` (the `bench` extra). Ray runs each trial in an actor process
of a local Ray instance started once, with 8 logical CPUs so the whole population runs at once.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import ray
from ray import tune
from ray.tune.schedulers import PopulationBasedTraining
from ray.tune.search.basic_variant import BasicVariantGenerator
from scipy.stats import mannwhitneyu

import pbt_digits
import pbt_toy

POPULATION = 8
BASELINES = Path(__file__).parent / "baselines"


def _load(default: Any) -> Any:
    checkpoint = tune.get_checkpoint()
    if not checkpoint:
        return default
    with checkpoint.as_directory() as folder, open(os.path.join(folder, "state.pkl"), "rb") as f:
        return pickle.load(f)


def _report(metrics: dict[str, float], state: Any, save: bool) -> None:
    if not save:
        tune.report(metrics)
        return
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "state.pkl"), "wb") as f:
            pickle.dump(state, f)
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def toy_trainable(config: dict[str, Any]) -> None:
    seed = config["seed"]
    state = _load(None)
    while state is None or state[0] < pbt_toy.STEPS:
        state, score = pbt_toy.train(state, {"lr": config["lr"]}, 1, seed)
        judged = pbt_toy.judge(state)
        _report({"score": score, "judged": judged}, state, state[0] % pbt_toy.INTERVAL == 0)


def digits_trainable(config: dict[str, Any]) -> None:
    seed = config["seed"]
    params = {"lr": config["lr"], "alpha": config["alpha"]}
    epoch, model = _load((0, None))
    while epoch < pbt_digits.EPOCHS:
        model, score = pbt_digits.train(model, params, 1, seed)
        epoch += 1
        judged = pbt_digits.judge_for(seed)(model)
        _report(
            {"score": score, "judged": judged}, (epoch, model), epoch % pbt_digits.INTERVAL == 0
        )


TASKS: dict[str, tuple[Callable[[dict[str, Any]], None], dict[str, Any], int, int]] = {
    "toy": (toy_trainable, {"lr": tune.loguniform(1e-4, 1.0)}, pbt_toy.INTERVAL, pbt_toy.STEPS),
    "digits": (
        digits_trainable,
        {"lr": tune.loguniform(1e-3, 1.0), "alpha": tune.loguniform(1e-6, 1e-1)},
        pbt_digits.INTERVAL,
        pbt_digits.EPOCHS,
    ),
}


def run(task: str, seed: int, storage: Path) -> float:
    trainable, space, interval, steps = TASKS[task]
    random.seed(seed)
    np.random.seed(seed)
    scheduler = PopulationBasedTraining(
        time_attr="training_iteration",
        perturbation_interval=interval,
        hyperparam_mutations=space,
        quantile_fraction=0.25,
        resample_probability=0.25,
        perturbation_factors=(1.2, 0.8),
        metric="score",
        mode="max",
    )
    tuner = tune.Tuner(
        trainable,
        param_space={**space, "seed": seed},
        tune_config=tune.TuneConfig(
            scheduler=scheduler,
            num_samples=POPULATION,
            search_alg=BasicVariantGenerator(random_state=seed),
        ),
        run_config=tune.RunConfig(
            name=f"{task}-{seed}",
            storage_path=str(storage),
            stop={"training_iteration": steps},
            verbose=0,
        ),
    )
    best = tuner.fit().get_best_result(metric="score", mode="max", scope="last")
    return float(best.metrics["judged"])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--out", default="benchmarks/results/pbt-ray.json")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--with", dest="earlier", help="an earlier run's JSON (its first seeds)")
    args = parser.parse_args()
    earlier = json.loads(Path(args.earlier).read_text())["finals"] if args.earlier else {}
    started = time.time()
    ray.init(num_cpus=POPULATION, include_dashboard=False, log_to_driver=False)
    finals: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as storage:
        for task in args.tasks:
            before = earlier.get(task, [])[: args.first_seed]
            if len(before) < args.first_seed:
                parser.error(f"--with holds {len(before)} seeds of {task}, not {args.first_seed}")
            finals[task] = before
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                finals[task] = [*finals[task], run(task, seed, Path(storage))]
                _write(args.out, started, finals, done=False)  # a stopped run keeps its seeds
            values = finals[task]
            ours = BASELINES / f"issue-39-pbt-{task}.json"
            said = ""
            if ours.is_file():
                kubetune_pbt = [r["final"] for r in json.loads(ours.read_text())["runs"]["pbt"]]
                p = mannwhitneyu(kubetune_pbt, values).pvalue
                said = f"; kubetune's pbt {statistics.median(kubetune_pbt):.4f}, p {p:.2g}"
            print(
                f"ray pbt {task}: median {statistics.median(values):.4f} "
                f"min {min(values):.4f} max {max(values):.4f} ({len(values)} seeds){said}",
                flush=True,
            )
    _write(args.out, started, finals, done=True)


def _write(out: str, started: float, finals: dict[str, list[float]], done: bool) -> None:
    result = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "ray": ray.__version__,
        "seconds": round(time.time() - started, 1),
        "complete": done,
        "finals": finals,
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(result, indent=1))
    if done:
        print(f"wrote {out} ({result['seconds']} s)")


if __name__ == "__main__":
    main()

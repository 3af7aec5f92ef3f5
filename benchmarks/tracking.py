"""What MLflow tracking adds to a study: the same `kubetune run` of a 200-trial study (random
search, 4 at a time, each trial a Python process reporting 5 steps over --trial-seconds)
with and without
MLFLOW_TRACKING_URI, alternated, and with the server down; median wall times and how many
records reached the server. A real `mlflow server` (hack/mlflow-server.sh's) on a sqlite
store. Prints a table and writes JSON.

    .venv/bin/python benchmarks/tracking.py --repeats 3 --out benchmarks/results/tracking.json
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from harness import write_result  # noqa: E402

from mlflow_server import MlflowServer  # noqa: E402

TRAINER = """
import sys, time, kubetune
x, pause = float(sys.argv[1]), float(sys.argv[2]) / 5
for step in range(1, 6):
    time.sleep(pause)
    kubetune.report(step=step, score=(1 - (x - 0.3) ** 2) * step / 5, loss=(x - 0.3) ** 2)
"""


def study(name: str, trials: int, seconds: float) -> dict[str, Any]:
    return {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "Study",
        "metadata": {"name": name},
        "spec": {
            "objective": {"metric": "score", "goal": "maximize", "additionalMetrics": ["loss"]},
            "parameters": [{"name": "x", "type": "float", "min": 0.0, "max": 1.0}],
            "algorithm": {"name": "random", "seed": 1},
            "budget": {"maxTrials": trials, "parallelism": 4, "maxFailedTrials": 0},
            "trialTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "t",
                                    "image": "none",
                                    "command": [
                                        "python",
                                        "-c",
                                        TRAINER,
                                        "${trial.params.x}",
                                        str(seconds),
                                    ],
                                }
                            ]
                        }
                    }
                }
            },
        },
    }


def run(
    folder: Path, name: str, trials: int, uri: str | None, seconds: float = 0.0
) -> tuple[float, str]:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study(name, trials, seconds)))
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    if uri is not None:
        env["MLFLOW_TRACKING_URI"] = uri
    began = time.monotonic()
    command = [sys.executable, "-m", "kubetune.cli", "run", str(path)]
    done = subprocess.run(
        [*command, "--out", str(folder / name), "--quiet", "--no-plot"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )
    seconds = time.monotonic() - began
    if done.returncode != 0:
        raise SystemExit(f"{name}: kubetune run failed:\n{done.stderr[-2000:]}")
    return seconds, done.stderr


def logged(server: MlflowServer, name: str) -> int:
    runs = server.runs(name)
    return len(runs) - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--trial-seconds", type=float, default=0.0, help="each trial's own time (0: instant)"
    )
    parser.add_argument("--out", default="benchmarks/results/tracking.json")
    args = parser.parse_args()
    started = time.time()
    rows: dict[str, list[float]] = {"none": [], "mlflow": [], "mlflow down": []}
    said: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        server = MlflowServer(folder / "mlflow")
        server.start()
        try:
            uris = {"none": None, "mlflow": server.uri, "mlflow down": "http://127.0.0.1:9"}
            for repeat in range(args.repeats):
                for kind, times in rows.items():
                    name = f"{kind.replace(' ', '-')}-{repeat}"
                    seconds, stderr = run(folder, name, args.trials, uris[kind], args.trial_seconds)
                    times.append(seconds)
                    if kind == "mlflow":
                        assert logged(server, name) == args.trials, "trials missing in MLflow"
                        assert "could not be logged" not in stderr, stderr
                    if kind == "mlflow down":
                        said = [line for line in stderr.splitlines() if "MLflow" in line]
                    print(f"{name}: {seconds:.1f} s", file=sys.stderr)
        finally:
            server.stop()
    medians = {kind: statistics.median(values) for kind, values in rows.items()}
    base = medians["none"]
    print(
        f"\n{args.trials}-trial kubetune run, trials of {args.trial_seconds:g} s, 4 at a time, "
        f"{args.repeats} runs each (median wall time)"
    )
    print(f"{'tracking':<14}{'median s':>10}{'vs none':>10}   runs")
    for kind, values in rows.items():
        extra = f"{(medians[kind] / base - 1) * 100:+.1f}%"
        runs = " ".join(f"{v:.1f}" for v in values)
        print(f"{kind:<14}{medians[kind]:>10.1f}{extra:>10}   {runs}")
    if said:
        print(f"server down, said at the end: {said[-1]}")
    write_result(
        args.out,
        {
            "trials": args.trials,
            "trial_seconds": args.trial_seconds,
            "repeats": args.repeats,
            "wall_seconds": rows,
            "median_seconds": medians,
            "down_said": said,
        },
        started,
    )


if __name__ == "__main__":
    main()

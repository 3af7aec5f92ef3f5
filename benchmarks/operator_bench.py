"""`make bench-operator`: the operator on the local cluster under a harness that completes
trials as fast as it can. 20 studies of 20 trials, 4 in parallel each, all at once.

Prints and writes (JSON): the latency from a trial's completion to the creation of the Job
that takes its slot (p50, p95; measured from the moment the harness marks the pod finished,
and from the moment the Trial is seen Succeeded), Kubernetes API requests per trial made by
the operator's own code (kube.py; kopf's watch connections and per-Study handler bookkeeping
come on top), and the operator process's peak memory (VmHWM).

    python benchmarks/operator_bench.py [--studies 20] [--trials 20] [--parallelism 4]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret"


def environment() -> dict[str, str]:
    out = subprocess.run(
        [str(ROOT / "hack" / "env.sh")], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def study(name: str, trials: int, parallelism: int) -> dict[str, Any]:
    return {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "Study",
        "metadata": {"name": name},
        "spec": {
            "objective": {"metric": "score", "goal": "maximize"},
            "parameters": [{"name": "x", "type": "float", "min": 0.0, "max": 1.0}],
            "algorithm": {"name": "random", "seed": 1},
            "budget": {"maxTrials": trials, "parallelism": parallelism},
            "trialTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {
                                    "name": "trainer",
                                    "image": "trainer:bench",
                                    "command": ["train"],
                                    "args": ["${trial.params.x}"],
                                }
                            ]
                        }
                    }
                }
            },
        },
    }


class Harness:
    def __init__(self, namespace: str, collector: str) -> None:
        self.namespace = namespace
        self.collector = collector
        self.core = client.CoreV1Api()
        self.marked: dict[str, float] = {}
        self.pod_done: dict[str, float] = {}
        self.succeeded: dict[str, float] = {}
        self.jobs: dict[str, float] = {}
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(8)
        self.stop = threading.Event()

    def finish(self, pod: Any) -> None:
        trial = pod.metadata.labels["kubetune.io/trial"]
        sidecar = next(c for c in pod.spec.init_containers if c.name == "kubetune-metrics")
        token = next(e.value for e in sidecar.env if e.name == "KUBETUNE_TOKEN")
        body = {
            "namespace": self.namespace,
            "trial": trial,
            "reports": [{"seq": 1, "step": 1, "metrics": {"score": hash(trial) % 1000 / 1000}}],
        }
        request = urllib.request.Request(
            f"{self.collector}/v1/reports",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {token}"},
        )
        urllib.request.urlopen(request, timeout=10).close()
        self.core.patch_namespaced_pod(
            pod.metadata.name,
            self.namespace,
            {"metadata": {"annotations": {"kubetune.io/fake-exit": "0"}}},
        )
        with self.lock:
            self.marked[trial] = time.monotonic()

    def watch_pods(self) -> None:
        seen: set[str] = set()
        stream = watch.Watch()
        for event in stream.stream(
            self.core.list_namespaced_pod, self.namespace, timeout_seconds=0
        ):
            pod = event["object"]
            if pod.status.phase == "Succeeded":
                with self.lock:
                    self.pod_done.setdefault(
                        pod.metadata.labels["kubetune.io/trial"], time.monotonic()
                    )
            if pod.status.phase == "Running" and pod.metadata.name not in seen:
                seen.add(pod.metadata.name)
                self.pool.submit(self.finish, pod)
            if self.stop.is_set():
                return

    def watch_jobs(self) -> None:
        for event in watch.Watch().stream(
            client.BatchV1Api().list_namespaced_job, self.namespace, timeout_seconds=0
        ):
            if event["type"] == "ADDED":
                with self.lock:
                    self.jobs.setdefault(event["object"].metadata.name, time.monotonic())
            if self.stop.is_set():
                return

    def watch_trials(self) -> None:
        api = client.CustomObjectsApi()
        for event in watch.Watch().stream(
            api.list_namespaced_custom_object,
            "kubetune.io",
            "v1alpha1",
            self.namespace,
            "trials",
            timeout_seconds=0,
        ):
            obj = event["object"]
            if (obj.get("status") or {}).get("phase") == "Succeeded":
                with self.lock:
                    self.succeeded.setdefault(obj["metadata"]["name"], time.monotonic())
            if self.stop.is_set():
                return


def latencies(done: dict[str, float], jobs: dict[str, float], parallelism: int) -> list[float]:
    """Pair each study's i-th completion with its (i + parallelism)-th Job creation."""
    by_study: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for trial, at in done.items():
        by_study[trial.rsplit("-", 1)[0]][0].append(at)
    for job, at in jobs.items():
        by_study[job.rsplit("-", 1)[0]][1].append(at)
    result = []
    for completions, creations in by_study.values():
        completions.sort()
        creations.sort()
        for i, finished in enumerate(completions):
            if i + parallelism < len(creations):
                result.append(creations[i + parallelism] - finished)
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=20)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument("--out", default="benchmarks/results/operator.json")
    args = parser.parse_args()
    subprocess.run([str(ROOT / "hack" / "cluster-up.sh")], check=True, capture_output=True)
    env = environment()
    os.environ["KUBECONFIG"] = env["KUBECONFIG"]
    config.load_kube_config(config_file=env["KUBECONFIG"])
    kubectl = [str(Path(env["KUBETUNE_BIN_DIR"]) / "kubectl")]
    namespace = f"bench-{int(time.time())}"
    subprocess.run([*kubectl, "apply", "-f", str(ROOT / "crds")], check=True, capture_output=True)
    subprocess.run(
        [
            *kubectl,
            "wait",
            "--for=condition=Established",
            "crd/studies.kubetune.io",
            "crd/trials.kubetune.io",
        ],
        check=True,
        capture_output=True,
    )
    client.CoreV1Api().create_namespace({"metadata": {"name": namespace}})
    collector_port, metrics_port = 28443, 28080
    operator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kubetune.cli",
            "operator",
            "--namespace",
            namespace,
            "--collector-address",
            f"127.0.0.1:{collector_port}",
            "--metrics-address",
            f"127.0.0.1:{metrics_port}",
            "--collector-url",
            f"http://127.0.0.1:{collector_port}",
        ],
        env={**os.environ, "KUBETUNE_COLLECTOR_SECRET": SECRET},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    harness = Harness(namespace, f"http://127.0.0.1:{collector_port}")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(
                    f"http://127.0.0.1:{collector_port}/healthz", timeout=1
                ).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the operator did not start") from None
                time.sleep(0.2)
        for target in (harness.watch_pods, harness.watch_jobs, harness.watch_trials):
            threading.Thread(target=target, daemon=True).start()
        started = time.monotonic()
        api = client.CustomObjectsApi()
        for i in range(args.studies):
            api.create_namespaced_custom_object(
                "kubetune.io",
                "v1alpha1",
                namespace,
                "studies",
                study(f"s{i:02d}", args.trials, args.parallelism),
            )
        total = args.studies * args.trials
        while True:
            items = api.list_namespaced_custom_object(
                "kubetune.io", "v1alpha1", namespace, "studies"
            )["items"]
            done = sum(1 for s in items if (s.get("status") or {}).get("phase") == "Succeeded")
            print(
                f"\r{done}/{args.studies} studies, {len(harness.marked)}/{total} trials",
                end="",
                file=sys.stderr,
            )
            if done == args.studies:
                break
            if time.monotonic() - started > 900:
                raise SystemExit("studies did not finish in 15 minutes")
            time.sleep(1)
        elapsed = time.monotonic() - started
        print(file=sys.stderr)
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
            metrics = r.read().decode()
        by_verb = {
            line.split('verb="')[1].split('"')[0]: float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("kubetune_api_requests_total{")
        }
        requests = sum(by_verb.values())
        with open(f"/proc/{operator.pid}/status") as status:
            peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    finally:
        harness.stop.set()
        operator.terminate()
        operator.wait(timeout=30)
        subprocess.run(
            [*kubectl, "delete", "namespace", namespace, "--wait=false"],
            capture_output=True,
            check=False,
        )
    from_mark = latencies(harness.marked, harness.jobs, args.parallelism)
    from_pod = latencies(harness.pod_done, harness.jobs, args.parallelism)
    from_trial = latencies(harness.succeeded, harness.jobs, args.parallelism)
    result = {
        "studies": args.studies,
        "trialsPerStudy": args.trials,
        "parallelism": args.parallelism,
        "trials": total,
        "seconds": round(elapsed, 1),
        "latencyFromPodFinishedSeconds": {
            "p50": percentile(from_mark, 0.5),
            "p95": percentile(from_mark, 0.95),
            "n": len(from_mark),
        },
        "latencyFromPodSucceededSeconds": {
            "p50": percentile(from_pod, 0.5),
            "p95": percentile(from_pod, 0.95),
            "n": len(from_pod),
        },
        "latencyFromTrialSucceededSeconds": {
            "p50": percentile(from_trial, 0.5),
            "p95": percentile(from_trial, 0.95),
            "n": len(from_trial),
        },
        "apiRequestsPerTrial": requests / total,
        "apiRequestsPerTrialByVerb": {
            verb: round(count / total, 2) for verb, count in sorted(by_verb.items())
        },
        "operatorPeakMemoryMiB": round(peak_kib / 1024, 1),
    }
    shape = f"{args.studies} studies x {args.trials}, {args.parallelism} in parallel"
    print(f"{total} trials in {elapsed:.1f}s ({shape})")
    for label, key in (
        ("pod marked to end (kwok's reaction included)", "latencyFromPodFinishedSeconds"),
        ("pod Succeeded", "latencyFromPodSucceededSeconds"),
        ("Trial Succeeded", "latencyFromTrialSucceededSeconds"),
    ):
        p50, p95 = result[key]["p50"], result[key]["p95"]
        print(f"  completion -> next Job, from {label}: p50 {p50:.3f}s  p95 {p95:.3f}s")
    print(f"  API requests per trial (operator's own code): {result['apiRequestsPerTrial']:.1f}")
    print(
        "    by verb: "
        + ", ".join(f"{v} {c}" for v, c in result["apiRequestsPerTrialByVerb"].items())
    )
    print(f"  operator peak memory: {result['operatorPeakMemoryMiB']} MiB")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

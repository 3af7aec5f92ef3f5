"""`make bench-operator`: the operator at scale on the local cluster's kwok nodes.

Each run is one shape: STUDIES studies at once, each with PARALLELISM trials running and
TRIALS trials in all (more trials than parallelism, so every slot is waited for and
refilled). A harness plays every trial as its sidecar would: when the pod runs it posts the
objective, and ends the pod TRIAL_SECONDS later on average, spread +-50% (0: as soon as the
post is answered, which keeps the cluster saturated: a measure of throughput, not latency).
The operator runs as a process of its own, as in the operator tests. The harness shares the
machine (its CPU is reported too).

Measured and printed (and written as JSON):
- from a trial's pod ending (Succeeded, as a watch sees it) and from its Trial marked
  Succeeded, to the creation of the Job that takes its slot: p50 and p95;
- Kubernetes API requests per trial made by the operator's own code (kube.py);
- CPU seconds per trial of each process (the operator, the API server, etcd, the controller
  manager, the scheduler, kwok, this harness): where the machine's time goes;
- the operator's memory: peak (VmHWM), and RSS against trials finished, sampled every 2 s;
  "after warm-up" is the slope over the second half of the run, in KiB per trial.

    python benchmarks/operator_bench.py [--shape 60x20x60 ...] [--trial-seconds 0]
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import signal
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

from kubetune.metrics import wire

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-secret"
BENCH_NODES = 8  # extra kwok nodes, 500 pods each: room for 4,000 running trials
KUEUE_GPUS = 8  # the Kueue run's quota: all the GPUs of the two kwok GPU nodes
COMPONENTS = ("kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler", "kwok")


def environment() -> dict[str, str]:
    out = subprocess.run(
        [str(ROOT / "hack" / "env.sh")], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def study(name: str, trials: int, parallelism: int, queue: str | None = None) -> dict[str, Any]:
    document = _study(name, trials, parallelism)
    if queue is not None:  # one GPU per trial, admitted by Kueue from `queue`
        document["spec"]["queueName"] = queue
        document["spec"]["resources"] = {"gpus": 1}
    return document


def kueue_objects(namespace: str, gpus: int) -> list[dict[str, Any]]:
    """A ClusterQueue of `gpus` GPUs (CPU and memory without limit) for the bench's namespace
    and its LocalQueue `gpus`: trials are admitted no faster than the quota frees."""
    kueue, name = "kueue.x-k8s.io/v1beta2", f"{namespace}-gpus"
    quota = [
        {"name": "cpu", "nominalQuota": "100000"},
        {"name": "memory", "nominalQuota": "100000Gi"},
        {"name": "nvidia.com/gpu", "nominalQuota": str(gpus)},
    ]
    return [
        {"apiVersion": kueue, "kind": "ResourceFlavor", "metadata": {"name": name}},
        {
            "apiVersion": kueue,
            "kind": "ClusterQueue",
            "metadata": {"name": name},
            "spec": {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                "resourceGroups": [
                    {
                        "coveredResources": ["cpu", "memory", "nvidia.com/gpu"],
                        "flavors": [{"name": name, "resources": quota}],
                    }
                ],
            },
        },
        {
            "apiVersion": kueue,
            "kind": "LocalQueue",
            "metadata": {"name": "gpus", "namespace": namespace},
            "spec": {"clusterQueue": name},
        },
    ]


def _study(name: str, trials: int, parallelism: int) -> dict[str, Any]:
    return {
        "apiVersion": "kubetune.io/v1alpha1",
        "kind": "Study",
        "metadata": {"name": name},
        "spec": {
            "objective": {"metric": "score", "goal": "maximize"},
            "parameters": [{"name": "x", "type": "float", "min": 0.0, "max": 1.0}],
            "algorithm": {"name": "random", "seed": 1},
            "budget": {"maxTrials": trials, "parallelism": parallelism, "maxFailedTrials": 0},
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
                        },
                    }
                }
            },
        },
    }


def bench_node(index: int) -> dict[str, Any]:
    room = {"cpu": "1000", "memory": "4000Gi", "pods": "500"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": f"kwok-bench-{index}",
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {"type": "kwok", "kubernetes.io/os": "linux"},
        },
        "status": {"allocatable": room, "capacity": room},
    }


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class Harness:
    """Plays every trial as a trainer and its sidecar would: when its pod runs, it posts the
    objective, and TRIAL_SECONDS later ends the pod (kwok's fake-exit); and times it all."""

    def __init__(self, namespace: str, collector: str, trial_seconds: float) -> None:
        self.namespace = namespace
        self.collector = collector
        self.trial_seconds = trial_seconds
        self.due: list[tuple[float, str]] = []  # (when, pod): pods to end
        self.wake = threading.Condition()
        self.core = client.CoreV1Api()
        self.pod_done: dict[str, float] = {}
        self.succeeded: dict[str, float] = {}
        self.jobs: dict[str, float] = {}
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(8)
        self.stop = threading.Event()

    def report(self, pod: Any) -> None:
        trial = pod.metadata.labels["kubetune.io/trial"]
        sidecar = next(c for c in pod.spec.init_containers if c.name == "kubetune-metrics")
        token = next(e.value for e in sidecar.env if e.name == "KUBETUNE_TOKEN")
        report = {"seq": 1, "step": 1, "metrics": {"score": hash(trial) % 1000 / 1000}}
        request = urllib.request.Request(
            self.collector + wire.render_path(self.namespace, trial),
            data=wire.render_body([report]),
            method="POST",
            headers={"Authorization": f"Bearer {token}"},
        )
        for attempt in range(20):  # the collector may be busy: retry as the sidecar does
            try:
                urllib.request.urlopen(request, timeout=30).close()
                break
            except OSError as error:
                if attempt == 19:
                    with self.lock:
                        self.failures.append(f"{trial}: {error}")
                time.sleep(0.5)
        # Trials do not all last as long: a uniform spread of +-50% around the mean keeps a
        # round of trials that started together from ending in one burst. The length is drawn
        # apart from the score: from one hash, a round's trials ended worst first, so nearly
        # every ending was a new best trial (an event each) as no real study would have it.
        lasts = self.trial_seconds * (0.5 + (hash(("length", trial)) % 1000) / 1000)
        with self.wake:
            heapq.heappush(self.due, (time.monotonic() + lasts, pod.metadata.name))
            self.wake.notify()

    def end_pods(self) -> None:
        """Ends each pod when its time comes, as its trainer exiting would."""
        while not self.stop.is_set():
            with self.wake:
                while not self.due or self.due[0][0] > time.monotonic():
                    self.wake.wait(self.due[0][0] - time.monotonic() if self.due else 1.0)
                    if self.stop.is_set():
                        return
                _, pod = heapq.heappop(self.due)
            self.pool.submit(self._end, pod)

    def _end(self, pod: str) -> None:
        for _ in range(10):
            try:
                self.core.patch_namespaced_pod(
                    pod,
                    self.namespace,
                    {"metadata": {"annotations": {"kubetune.io/fake-exit": "0"}}},
                )
                return
            except Exception as error:
                last = error
                time.sleep(0.5)
        with self.lock:
            self.failures.append(f"{pod}: {last}")

    def _stream(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """Events of one watch, resumed where it ended: a watch that starts afresh replays
        every object as ADDED, which at 10,000 trials kept the harness (and the API server)
        busy for minutes every 5 minutes and skewed the times it took."""
        version: str | None = None
        while not self.stop.is_set():  # a watch ends now and then: start another
            try:
                for event in watch.Watch().stream(
                    method, *args, timeout_seconds=300, resource_version=version, **kwargs
                ):
                    obj = event["object"]
                    if event["type"] == "ERROR":  # 410 Gone, as an event: start afresh
                        version = None
                        break
                    version = (
                        obj["metadata"]["resourceVersion"]
                        if isinstance(obj, dict)
                        else obj.metadata.resource_version
                    )
                    yield event
            except client.ApiException as error:
                if error.status == 410:  # too old to resume: start afresh
                    version = None
                print(f"\nwatch restarted: {error.reason}", file=sys.stderr)
            except Exception as error:
                print(f"\nwatch restarted: {error}", file=sys.stderr)

    def watch_pods(self) -> None:
        seen: set[str] = set()
        for event in self._stream(self.core.list_namespaced_pod, self.namespace):
            pod = event["object"]
            trial = pod.metadata.labels.get("kubetune.io/trial")
            if pod.status.phase == "Succeeded":
                with self.lock:
                    self.pod_done.setdefault(trial, time.monotonic())
            if pod.status.phase == "Running" and pod.metadata.name not in seen:
                seen.add(pod.metadata.name)
                self.pool.submit(self.report, pod)

    def watch_jobs(self) -> None:
        for event in self._stream(client.BatchV1Api().list_namespaced_job, self.namespace):
            if event["type"] == "ADDED":
                with self.lock:
                    self.jobs.setdefault(event["object"].metadata.name, time.monotonic())

    def watch_trials(self) -> None:
        api = client.CustomObjectsApi()
        for event in self._stream(
            api.list_namespaced_custom_object, "kubetune.io", "v1alpha1", self.namespace, "trials"
        ):
            obj = event["object"]
            if (obj.get("status") or {}).get("phase") == "Succeeded":
                with self.lock:
                    self.succeeded.setdefault(obj["metadata"]["name"], time.monotonic())


def latencies(done: dict[str, float], jobs: dict[str, float], parallelism: int) -> list[float]:
    return [latency for _, _, latency in pairs(done, jobs, parallelism)]


def pairs(
    done: dict[str, float], jobs: dict[str, float], parallelism: int
) -> list[tuple[str, float, float]]:
    """(study, when the slot freed, latency): each study's i-th completion paired with its
    (i + parallelism)-th Job creation."""
    by_study: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for trial, at in done.items():
        by_study[trial.rsplit("-", 1)[0]][0].append(at)
    for job, at in jobs.items():
        by_study[job.rsplit("-", 1)[0]][1].append(at)
    result = []
    for study, (completions, creations) in by_study.items():
        completions.sort()
        creations.sort()
        for i, finished in enumerate(completions):
            if i + parallelism < len(creations):
                result.append((study, finished, creations[i + parallelism] - finished))
    return result


def _histogram_counts(metrics: str, name: str) -> tuple[dict[float, float], float, float]:
    buckets: dict[float, float] = {}
    total = count = 0.0
    for line in metrics.splitlines():
        if line.startswith(f"{name}_bucket{{"):
            bound = line.split('le="')[1].split('"')[0]
            buckets[float(bound)] = float(line.split()[-1])
        elif line.startswith(f"{name}_sum "):
            total = float(line.split()[-1])
        elif line.startswith(f"{name}_count "):
            count = float(line.split()[-1])
    return buckets, total, count


def histogram(metrics: str, name: str, since: str = "") -> dict[str, float | None]:
    """Mean and bucket-bound p50/p95 (the upper bound of the bucket holding them) of one of
    the operator's Prometheus histograms; None past the largest bucket (JSON has no +Inf).
    `since`: an earlier /metrics text, to summarise only what was observed after it."""
    buckets, total, count = _histogram_counts(metrics, name)
    if since:
        earlier, total_before, count_before = _histogram_counts(since, name)
        buckets = {b: c - earlier.get(b, 0.0) for b, c in buckets.items()}
        total, count = total - total_before, count - count_before
    if not count:
        return {"mean": None, "p50": None, "p95": None, "n": 0}

    def upper(q: float) -> float | None:
        found = next(b for b, c in sorted(buckets.items()) if c >= q * count)
        return found if math.isfinite(found) else None

    return {"mean": round(total / count, 3), "p50": upper(0.5), "p95": upper(0.95), "n": count}


def _within(bound: float | None) -> str:
    return f"<= {bound:g} s" if bound is not None else "past the largest bucket"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def slope(samples: list[tuple[int, int]]) -> float:
    """Least-squares KiB per trial over the second half of the (trials, KiB) samples."""
    half = [s for s in samples if s[0] >= samples[-1][0] / 2] if samples else []
    if len(half) < 3 or half[-1][0] == half[0][0]:
        return float("nan")
    n = len(half)
    mx = sum(x for x, _ in half) / n
    my = sum(y for _, y in half) / n
    return sum((x - mx) * (y - my) for x, y in half) / sum((x - mx) ** 2 for x, _ in half)


#: Completions (a study's i-th finished trial) around which the slot waits are summarised, to
#: show whether a decision costs more as a study grows (a window of 100 around each).
TRIAL_WINDOWS = (100, 500, 1000, 1900, 5000, 9900)


def by_trial(waits: list[tuple[str, float, float]]) -> dict[str, dict[str, float]]:
    """p50 and p95 of the slot waits of each study's completions 50 either side of each of
    `TRIAL_WINDOWS` (those the run reached)."""
    order: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for study_name, at, latency in waits:
        order[study_name].append((at, latency))
    ranked = [
        (i, latency) for rows in order.values() for i, (_, latency) in enumerate(sorted(rows))
    ]
    found = {}
    for window in TRIAL_WINDOWS:
        near = [latency for i, latency in ranked if abs(i - window) < 50]
        if len(near) >= 20:
            found[str(window)] = {
                "p50": round(percentile(near, 0.5), 3),
                "p95": round(percentile(near, 0.95), 3),
            }
    return found


def read_metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text: str = response.read().decode()
    return text


def pass_by_trial(snapshots: dict[int, str]) -> dict[str, dict[str, float | None]]:
    """The study passes of each stretch between two of `TRIAL_WINDOWS` (trials per study
    finished): whether a pass costs more as the study grows."""
    found, before = {}, ""
    for window in sorted(snapshots):
        if snapshots[window]:
            found[str(window)] = histogram(snapshots[window], "kubetune_study_pass_seconds", before)
            before = snapshots[window]
    return found


def last_slope(samples: list[tuple[int, int]], trials: int = 1000) -> float:
    """KiB per trial over the last `trials` finished (least squares)."""
    if not samples:
        return float("nan")
    tail = [s for s in samples if s[0] >= samples[-1][0] - trials]
    return slope(tail) if len(tail) >= 3 else float("nan")


def requests_by_verb(metrics: str) -> dict[str, float]:
    """kubetune_api_requests_total by verb, from the operator's /metrics text."""
    return {
        line.split('verb="')[1].split('"')[0]: float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("kubetune_api_requests_total{")
    }


def start_operator(
    namespace: str, collector_port: int, metrics_port: int, log: Any
) -> subprocess.Popen[bytes]:
    """`kubetune operator` as a process of its own on `namespace`, its output into `log`."""
    return subprocess.Popen(
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
        # As the image sets it (Dockerfile): one glibc arena per thread otherwise.
        env={"MALLOC_ARENA_MAX": "2", **os.environ, "KUBETUNE_COLLECTOR_SECRET": SECRET},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def run_shape(
    env: dict[str, str],
    studies: int,
    parallelism: int,
    trials: int,
    trial_seconds: float,
    kueue_gpus: int = 0,
) -> dict[str, Any]:
    kubectl = [str(Path(env["KUBETUNE_BIN_DIR"]) / "kubectl")]
    namespace = f"bench-{int(time.time())}"
    client.CoreV1Api().create_namespace({"metadata": {"name": namespace}})
    queue_objects = kueue_objects(namespace, kueue_gpus) if kueue_gpus else []
    if queue_objects:
        subprocess.run(
            [*kubectl, "apply", "-f", "-"],
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": queue_objects}),
            text=True,
            check=True,
            capture_output=True,
        )
    collector_port, metrics_port = 28443, 28080
    results = ROOT / "benchmarks" / "results"  # not in git: a fresh clone has no such folder
    results.mkdir(parents=True, exist_ok=True)
    log = (results / f"operator-{studies}x{parallelism}x{trials}.log").open("w")
    operator = start_operator(namespace, collector_port, metrics_port, log)
    pids = {
        name: int((Path(env["KUBETUNE_STATE_DIR"]) / "pids" / f"{name}.pid").read_text())
        for name in COMPONENTS
    }
    pids["operator"] = operator.pid
    if os.environ.get("BENCH_PROFILE"):  # a development aid: where the operator's CPU goes
        subprocess.Popen(
            [
                "py-spy",
                "record",
                "--gil",
                "-f",
                "raw",
                "-r",
                "20",
                "-o",
                os.environ["BENCH_PROFILE"],
                "-p",
                str(operator.pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    pids["harness"] = os.getpid()
    harness = Harness(namespace, f"http://127.0.0.1:{collector_port}", trial_seconds)
    total = studies * trials
    memory: list[tuple[int, int]] = []
    snapshots: dict[int, str] = {}
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
        for target in (
            harness.watch_pods,
            harness.watch_jobs,
            harness.watch_trials,
            harness.end_pods,
        ):
            threading.Thread(target=target, daemon=True).start()
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        started = time.monotonic()
        api = client.CustomObjectsApi()
        for i in range(studies):
            api.create_namespaced_custom_object(
                "kubetune.io",
                "v1alpha1",
                namespace,
                "studies",
                study(f"s{i:03d}", trials, parallelism, "gpus" if kueue_gpus else None),
            )
        while True:
            items = api.list_namespaced_custom_object(
                "kubetune.io", "v1alpha1", namespace, "studies"
            )["items"]
            done = sum(1 for s in items if (s.get("status") or {}).get("phase") == "Succeeded")
            failed = [s for s in items if (s.get("status") or {}).get("phase") == "Failed"]
            if failed:
                raise SystemExit(f"study failed: {failed[0]['status']}")
            finished = len(harness.succeeded)
            memory.append((finished, memory_kib(operator.pid, "VmRSS")))
            reached = [w for w in TRIAL_WINDOWS if finished >= w * studies and w not in snapshots]
            if reached:  # the passes of the stretch up to this many trials per study
                snapshots[reached[-1]] = read_metrics(metrics_port)
                snapshots.update({w: "" for w in reached[:-1]})
            print(
                f"\r{done}/{studies} studies, {finished}/{total} trials, "
                f"{time.monotonic() - started:.0f}s",
                end="",
                file=sys.stderr,
            )
            if done == studies:
                break
            if time.monotonic() - started > 6 * 3600:
                raise SystemExit("the studies did not finish in 6 hours")
            time.sleep(2)
        elapsed = time.monotonic() - started
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        print(file=sys.stderr)
        metrics = read_metrics(metrics_port)
        by_verb = requests_by_verb(metrics)
        peak_kib = memory_kib(operator.pid, "VmHWM")
    finally:
        harness.stop.set()
        operator.terminate()
        operator.wait(timeout=30)
        subprocess.run(
            [*kubectl, "delete", "namespace", namespace, "--wait=false"],
            capture_output=True,
            check=False,
        )
        for obj in queue_objects[:2]:  # the cluster-scoped ones
            subprocess.run(
                [*kubectl, "delete", obj["kind"].lower(), obj["metadata"]["name"], "--wait=false"],
                capture_output=True,
                check=False,
            )
    from_pod = latencies(harness.pod_done, harness.jobs, parallelism)
    with (ROOT / "benchmarks" / "results" / f"operator-{studies}x{parallelism}x{trials}.csv").open(
        "w"
    ) as table:  # every slot's wait, for a look at the tail
        table.write("study,freed_at_seconds,pod_ended_to_next_job_seconds\n")
        for study_name, at, latency in pairs(harness.pod_done, harness.jobs, parallelism):
            table.write(f"{study_name},{at - started:.3f},{latency:.3f}\n")
    from_trial = latencies(harness.succeeded, harness.jobs, parallelism)
    quarter = [
        memory[min(len(memory) - 1, round(q * (len(memory) - 1)))] for q in (0.25, 0.5, 0.75, 1)
    ]
    return {
        "shape": f"{studies}x{parallelism}x{trials}",
        "studies": studies,
        "parallelism": parallelism,
        "trialsPerStudy": trials,
        "trialSeconds": trial_seconds,
        "trials": total,
        "seconds": round(elapsed, 1),
        "trialsPerSecond": round(total / elapsed, 2),
        "kueueGpus": kueue_gpus,
        "trialsPerMinute": round(60 * total / elapsed, 1),
        "podEndedToNextJobSeconds": {
            "p50": round(percentile(from_pod, 0.5), 3),
            "p95": round(percentile(from_pod, 0.95), 3),
            "n": len(from_pod),
        },
        "podEndedToNextJobByTrial": by_trial(pairs(harness.pod_done, harness.jobs, parallelism)),
        "trialEndedToNextJobByTrial": by_trial(pairs(harness.succeeded, harness.jobs, parallelism)),
        "trialEndedToNextJobSeconds": {
            "p50": round(percentile(from_trial, 0.5), 3),
            "p95": round(percentile(from_trial, 0.95), 3),
            "n": len(from_trial),
        },
        "studyPassSeconds": histogram(metrics, "kubetune_study_pass_seconds"),
        "studyPassSecondsByTrial": pass_by_trial(snapshots),
        "studyQueueSeconds": histogram(metrics, "kubetune_study_queue_seconds"),
        "apiRequestsPerTrial": round(sum(by_verb.values()) / total, 2),
        "apiRequestsPerTrialByVerb": {
            verb: round(count / total, 2) for verb, count in sorted(by_verb.items())
        },
        "cpuMillisecondsPerTrial": {name: round(1000 * s / total, 1) for name, s in cpu.items()},
        "operatorPeakMemoryMiB": round(peak_kib / 1024, 1),
        "operatorMemoryMiBAtQuarters": [
            {"trials": t, "MiB": round(k / 1024, 1)} for t, k in quarter
        ],
        "operatorKiBPerTrialAfterWarmUp": round(slope(memory), 2),
        "operatorKiBPerTrialLast1000": round(last_slope(memory), 2),
        "harnessFailures": harness.failures[:10],
    }


def render(result: dict[str, Any]) -> str:
    pod, trial = result["podEndedToNextJobSeconds"], result["trialEndedToNextJobSeconds"]
    cpu = result["cpuMillisecondsPerTrial"]
    lines = [
        f"{result['shape']} ({result['studies']} studies x {result['parallelism']} in parallel "
        f"x {result['trialsPerStudy']} trials, each running {result['trialSeconds']:g} s): "
        f"{result['trials']} trials in {result['seconds']:.0f} s "
        f"({result['trialsPerSecond']:.2f}/s)"
        + (
            f", through Kueue with a quota of {result['kueueGpus']} GPUs (1 per trial): "
            f"{result['trialsPerMinute']:.0f} trials per minute"
            if result.get("kueueGpus")
            else ""
        ),
        f"  pod ended   -> next Job  p50 {pod['p50']:.3f} s  p95 {pod['p95']:.3f} s  "
        f"(n {pod['n']})",
        f"  Trial ended -> next Job  p50 {trial['p50']:.3f} s  p95 {trial['p95']:.3f} s",
        "  pod ended -> next Job by a study's trial number: "
        + (
            ", ".join(
                f"#{n} p50 {w['p50']:.3f} s p95 {w['p95']:.3f} s"
                for n, w in result["podEndedToNextJobByTrial"].items()
            )
            or "-"
        ),
        "  pass by trial number:     "
        + (
            ", ".join(
                f"up to #{n} mean {h['mean'] or 0:.3f} s p95 {_within(h['p95'])}"
                for n, h in result["studyPassSecondsByTrial"].items()
            )
            or "-"
        ),
        "  study loop               "
        + "; ".join(
            f"{label} mean {h['mean'] or 0:.3f} s, p50 {_within(h['p50'])}, p95 {_within(h['p95'])}"
            for label, h in (
                ("pass", result["studyPassSeconds"]),
                ("wait", result["studyQueueSeconds"]),
            )
        ),
        f"  API requests per trial   {result['apiRequestsPerTrial']:.1f}  ("
        + ", ".join(f"{v} {c}" for v, c in result["apiRequestsPerTrialByVerb"].items())
        + ")",
        "  CPU ms per trial         "
        + ", ".join(f"{name} {ms:.0f}" for name, ms in cpu.items())
        + f"  (all: {sum(cpu.values()):.0f})",
        f"  operator memory          peak {result['operatorPeakMemoryMiB']} MiB; RSS "
        + ", ".join(
            f"{q['MiB']} MiB at {q['trials']}" for q in result["operatorMemoryMiBAtQuarters"]
        )
        + f"; {result['operatorKiBPerTrialAfterWarmUp']} KiB per trial after warm-up, "
        + f"{result['operatorKiBPerTrialLast1000']} over the last 1,000",
    ]
    if result["harnessFailures"]:
        lines.append(f"  harness failures: {result['harnessFailures']}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shape",
        action="append",
        help="STUDIESxPARALLELISMxTRIALS (repeat); default 60x20x60 and 120x30x60",
    )
    parser.add_argument(
        "--trial-seconds",
        type=float,
        default=0.0,
        help="how long a trial runs on average (the shapes; 0: as soon as it has reported)",
    )
    parser.add_argument(
        "--kueue-trial-seconds",
        type=float,
        default=0.0,
        help="the same for the Kueue shapes (apart: a quota of 8 GPUs at 900 s is a long run)",
    )
    parser.add_argument(
        "--kueue",
        action="append",
        help="STUDIESxPARALLELISMxTRIALS of 1-GPU trials admitted by Kueue through a quota of "
        "8 GPUs (repeat; given alone, only these run); default 4x10x30, after the shapes",
    )
    parser.add_argument("--out", default="benchmarks/results/operator.json")
    args = parser.parse_args()
    # Killed (SIGTERM), it still removes its nodes, namespaces and Kueue objects (the
    # `finally`s): left behind, they change what the cluster tests schedule.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    subprocess.run([str(ROOT / "hack" / "cluster-up.sh")], check=True, capture_output=True)
    env = environment()
    os.environ["KUBECONFIG"] = env["KUBECONFIG"]
    config.load_kube_config(config_file=env["KUBECONFIG"])
    kubectl = [str(Path(env["KUBETUNE_BIN_DIR"]) / "kubectl")]
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
    nodes = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [bench_node(i) for i in range(BENCH_NODES)],
    }
    subprocess.run(
        [*kubectl, "apply", "-f", "-"],
        input=json.dumps(nodes),
        text=True,
        check=True,
        capture_output=True,
    )
    results = []
    try:
        only_kueue = args.kueue and not args.shape
        for shape in [] if only_kueue else args.shape or ["60x20x60", "120x30x60"]:
            studies, parallelism, trials = (int(n) for n in shape.split("x"))
            result = run_shape(env, studies, parallelism, trials, args.trial_seconds)
            print(render(result))
            results.append(result)
        for shape in args.kueue or ["4x10x30"]:
            studies, parallelism, trials = (int(n) for n in shape.split("x"))
            result = run_shape(
                env, studies, parallelism, trials, args.kueue_trial_seconds, KUEUE_GPUS
            )
            print(render(result))
            results.append(result)
    finally:
        subprocess.run(
            [
                *kubectl,
                "delete",
                "node",
                *(f"kwok-bench-{i}" for i in range(BENCH_NODES)),
                "--wait=false",
            ],
            capture_output=True,
            check=False,
        )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"machine": machine(), "runs": results}, indent=1))
    return 0


def machine() -> str:
    cpus = os.cpu_count()
    total = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return f"{cpus} CPUs, {total / 1024 / 1024:.0f} GiB, Python {sys.version.split()[0]}"


if __name__ == "__main__":
    sys.exit(main())

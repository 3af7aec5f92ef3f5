"""What finished Trials cost the cluster at 10,000: etcd's bytes, a `kubectl get trials`
LIST, and the operator's memory and pass time over a study that holds them.

    .venv/bin/python benchmarks/trial_objects.py [--trials 10000] [--reports 10]

On the local cluster (hack/cluster-up.sh): one Study (random, running, maxTrials above the
count) and N finished Trials it owns, each with REPORTS reports of two metrics, written
straight to the API server (no Jobs or pods: what Trials alone cost). Then the operator is
started on the namespace: it lists the study's Trials once, builds its records and makes one
decision (one new Trial). Printed and written as JSON:
- etcd: the database's size in use before and after, per Trial;
- the LIST: seconds and bytes of `kubectl get trials -o json`, and seconds of the plain table;
- the operator: RSS once its first pass is done, the time from its start to the new Trial,
  its passes (it makes several: the Trials' watch events arrive too), and requests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from kubernetes import client, config

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import write_result
from operator_bench import (
    ROOT,
    _study,
    environment,
    histogram,
    memory_kib,
    requests_by_verb,
    start_operator,
)

GROUP, VERSION = "kubetune.io", "v1alpha1"


def etcd_bytes(port: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("etcd_mvcc_db_total_size_in_use_in_bytes "):
                return int(float(line.split()[-1]))
    raise SystemExit("etcd's metrics have no etcd_mvcc_db_total_size_in_use_in_bytes")


def trial(study: dict[str, Any], index: int, reports: int) -> dict[str, Any]:
    meta = study["metadata"]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Trial",
        "metadata": {
            "name": f"{meta['name']}-{index}",
            "namespace": meta["namespace"],
            "labels": {"kubetune.io/study": meta["name"], "kubetune.io/trial-index": str(index)},
            "ownerReferences": [
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "Study",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {"study": meta["name"], "index": index, "params": {"x": (index % 997) / 997}},
    }


def finished(index: int, reports: int) -> dict[str, Any]:
    series = [
        {"step": s, "metrics": {"score": 0.5 + s / (2 * reports), "loss": 1.0 / s}}
        for s in range(1, reports + 1)
    ]
    return {
        "status": {
            "phase": "Succeeded",
            "reason": None,
            "objective": series[-1]["metrics"]["score"] if series else 0.5,
            "values": {"score": series[-1]["metrics"]["score"]} if series else {"score": 0.5},
            "reports": series,
            "jobName": f"job-{index}",
            "startTime": "2026-12-07T00:00:00Z",
            "completionTime": "2026-12-07T00:01:00Z",
        }
    }


def timed(command: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, check=True).stdout
    return time.perf_counter() - started, len(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10000)
    parser.add_argument("--reports", type=int, default=10)
    parser.add_argument("--out", default="benchmarks/results/trial-objects.json")
    args = parser.parse_args()
    began = time.time()
    subprocess.run([str(ROOT / "hack" / "cluster-up.sh")], check=True, capture_output=True)
    env = environment()
    os.environ["KUBECONFIG"] = env["KUBECONFIG"]
    config.load_kube_config(config_file=env["KUBECONFIG"])
    kubectl = [str(Path(env["KUBETUNE_BIN_DIR"]) / "kubectl")]
    etcd_port = subprocess.run(
        ["bash", "-c", f"source {ROOT}/hack/lib.sh; echo $ETCD_PORT"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run([*kubectl, "apply", "-f", str(ROOT / "crds")], check=True, capture_output=True)
    namespace = f"objects-{int(time.time())}"
    subprocess.run([*kubectl, "create", "namespace", namespace], check=True, capture_output=True)
    api = client.CustomObjectsApi()
    document = _study("many", args.trials + 10, 1)
    document["metadata"]["namespace"] = namespace
    study = api.create_namespaced_custom_object(GROUP, VERSION, namespace, "studies", document)
    before = etcd_bytes(etcd_port)

    def make(index: int) -> None:
        made = api.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "trials", trial(study, index, args.reports)
        )
        api.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            namespace,
            "trials",
            made["metadata"]["name"],
            finished(index, args.reports),
        )

    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        for done, _ in enumerate(pool.map(make, range(args.trials)), start=1):
            if done % 500 == 0:
                print(f"\r{done}/{args.trials} Trials", end="", file=sys.stderr)
    print(file=sys.stderr)
    write_seconds = time.perf_counter() - started
    api.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        "studies",
        "many",
        {"status": {"nextTrialIndex": args.trials, "phase": "Running"}},
    )
    after = etcd_bytes(etcd_port)
    list_json, list_bytes = timed([*kubectl, "get", "trials", "-n", namespace, "-o", "json"])
    list_table, _ = timed([*kubectl, "get", "trials", "-n", namespace])

    metrics_port = 28081
    log_path = ROOT / "benchmarks" / "results" / "trial-objects-operator.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    operator = start_operator(namespace, 28444, metrics_port, log_path.open("w"))
    begun = time.perf_counter()
    try:
        deadline = time.monotonic() + 600
        new = f"many-{args.trials}"
        while time.monotonic() < deadline:
            try:
                api.get_namespaced_custom_object(GROUP, VERSION, namespace, "trials", new)
                first_trial = time.perf_counter() - begun
                break
            except client.ApiException:
                time.sleep(0.5)
        else:
            raise SystemExit(f"the operator made no new trial in 10 minutes; see {log_path}")
        while time.monotonic() < deadline:  # its first pass writes the status last
            found = api.get_namespaced_custom_object(GROUP, VERSION, namespace, "studies", "many")
            if ((found.get("status") or {}).get("trials") or {}).get("total", 0) > args.trials:
                break
            time.sleep(0.5)
        rss = memory_kib(operator.pid, "VmRSS")
        peak = memory_kib(operator.pid, "VmHWM")
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
            metrics = r.read().decode()
    finally:
        operator.terminate()
        operator.wait(timeout=30)
        subprocess.run(
            [*kubectl, "delete", "namespace", namespace, "--wait=false"],
            capture_output=True,
            check=False,
        )
    passes = histogram(metrics, "kubetune_study_pass_seconds")
    requests = requests_by_verb(metrics)
    result = {
        "trials": args.trials,
        "reportsPerTrial": args.reports,
        "writeSeconds": round(write_seconds, 1),
        "etcdBytesInUse": {"before": before, "after": after},
        "etcdBytesPerTrial": round((after - before) / args.trials),
        "listJsonSeconds": round(list_json, 2),
        "listJsonBytes": list_bytes,
        "listTableSeconds": round(list_table, 2),
        "operatorRssMiB": round(rss / 1024, 1),
        "operatorPeakMiB": round(peak / 1024, 1),
        "operatorStartToNewTrialSeconds": round(first_trial, 1),
        "operatorPasses": passes,
        "operatorRequests": requests,
    }
    print(json.dumps(result, indent=1))
    write_result(args.out, result, began)
    return 0


if __name__ == "__main__":
    sys.exit(main())

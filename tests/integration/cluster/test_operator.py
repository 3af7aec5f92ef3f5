"""The operator on the real API server, running as a process: studies end to end on kwok
nodes, with the test playing each trial's side exactly as the sidecar would."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import Cluster, wait_until
from .operator_harness import Operator, Player, post_reports, report_and_finish, score
from factories import manifest

pytestmark = pytest.mark.cluster


def study(name: str, **spec: Any) -> dict[str, Any]:
    """The tests' Study: one float x scored by the harness, random search, 6 trials, 2 at a time."""
    sections: dict[str, Any] = {
        "objective": {"metric": "score", "goal": "maximize"},
        "parameters": [{"name": "x", "type": "float", "min": 0.0, "max": 1.0}],
        "algorithm": {"name": "random", "seed": 4},
        "budget": {"maxTrials": 6, "parallelism": 2},
    }
    document = manifest(**{**sections, **spec})
    document["metadata"]["name"] = name
    return document


def trials_of(cluster: Cluster, namespace: str, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.get(
        "trials", "-l", f"kubetune.io/study={name}", namespace=namespace
    )["items"]
    return items


def events(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.get("events", namespace=namespace)["items"]
    return items


def test_a_study_runs_end_to_end_on_kwok_nodes(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(study("e2e"), namespace=namespace)
    Player(cluster, namespace, operator, "e2e").play(report_and_finish)
    status = cluster.get("study", "e2e", namespace=namespace)["status"]
    trials = trials_of(cluster, namespace, "e2e")
    assert status["phase"] == "Succeeded" and status["finishedBecause"] == "MaxTrialsReached"
    assert sorted(t["metadata"]["name"] for t in trials) == [f"e2e-{i}" for i in range(6)]
    assert all(t["status"]["phase"] == "Succeeded" for t in trials)
    best = max(trials, key=lambda t: t["status"]["objective"])
    assert status["bestTrial"]["name"] == best["metadata"]["name"]
    assert status["bestTrial"]["objective"] == pytest.approx(score(best["spec"]["params"]))
    assert status["trials"]["succeeded"] == 6 and status["progress"] == "6/6"
    assert status["observedGeneration"] == 1 and status["startTime"] and status["completionTime"]
    assert status["algorithm"] == {"name": "random", "reason": "named in spec.algorithm.name"}
    job = cluster.get("job", "e2e-0", namespace=namespace)
    assert job["metadata"]["labels"]["kubetune.io/trial"] == "e2e-0"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "Trial"
    assert trials[0]["metadata"]["ownerReferences"][0]["kind"] == "Study"
    sidecar = job["spec"]["template"]["spec"]["initContainers"][0]
    assert sidecar["restartPolicy"] == "Always"
    reasons = {e["reason"] for e in events(cluster, namespace)}
    assert {"TrialCreated", "BestTrialImproved", "StudyFinished"} <= reasons
    columns = cluster.kubectl("get", "study", "e2e", namespace=namespace).stdout
    assert "Succeeded" in columns and "6/6" in columns
    header, row = columns.splitlines()[:2]
    assert row.split()[header.split().index("METRIC")] == "score"


def test_early_stopping_deletes_the_job_and_records_why(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    spec = study(
        "asha",
        earlyStopping={
            "name": "asha",
            "settings": {"minBudget": 1, "maxBudget": 9, "reductionFactor": 3},
        },
        budget={"maxTrials": 8, "parallelism": 2},
    )
    cluster.apply(spec, namespace=namespace)

    def curve(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        for step in range(1, 10):
            if (
                player.post(
                    pod,
                    {
                        "reports": [
                            {
                                "seq": step,
                                "step": step,
                                "metrics": {"score": score(params) * step / 9},
                            }
                        ]
                    },
                )
                != 200
            ):
                break
            if step not in (1, 3, 9):
                continue  # asha judges only at its rungs: look there (each look is a kubectl)
            phase = cluster.get("trial", trial, namespace=namespace).get("status", {}).get("phase")
            if phase == "EarlyStopped":
                player.done.add(pod["metadata"]["name"])
                return
        player.finish(pod)

    Player(cluster, namespace, operator, "asha").play(curve)
    status = cluster.get("study", "asha", namespace=namespace)["status"]
    stopped = [
        t for t in trials_of(cluster, namespace, "asha") if t["status"]["phase"] == "EarlyStopped"
    ]
    assert stopped, "some trial below the top third at a rung must have been stopped"
    assert len(status["earlyStopped"]) == len(stopped)
    for trial in stopped:
        record = trial["status"]["stop"]
        assert record["rule"] == "asha" and record["value"] < record["threshold"]
        assert (
            cluster.kubectl(
                "get", "job", trial["metadata"]["name"], namespace=namespace, check=False
            ).returncode
            != 0
        )
    assert "TrialStoppedEarly" in {e["reason"] for e in events(cluster, namespace)}


def test_gpu_trials_never_outnumber_the_gpus(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(
        study("gpus", resources={"gpus": 1}, budget={"maxTrials": 14, "parallelism": 12}),
        namespace=namespace,
    )
    peak = [0]

    def count() -> None:
        # Trials first, pods second: pods never go back from Running to Pending, so a trial
        # seen Running whose pod is later seen Pending is a real fault, not a race of snapshots.
        phases = {
            t["metadata"]["name"]: t.get("status", {}).get("phase")
            for t in trials_of(cluster, namespace, "gpus")
        }
        pods = cluster.get("pods", "-l", "kubetune.io/study=gpus", namespace=namespace)["items"]
        running = [p for p in pods if p["status"].get("phase") == "Running"]
        peak[0] = max(peak[0], len(running))
        assert len(running) <= 8, f"{len(running)} trial pods Running with 8 GPUs"
        waiting = {
            p["metadata"]["labels"]["kubetune.io/trial"]
            for p in pods
            if p["status"].get("phase") == "Pending"
        }
        assert all(phases.get(t) in (None, "Pending") for t in waiting), (
            "a trial waiting for a GPU is not Running"
        )

    def slow(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        count()
        report_and_finish(player, pod, params)

    Player(cluster, namespace, operator, "gpus").play(slow, each_round=count)
    assert peak[0] == 8  # the scheduler filled every GPU, and no more
    assert cluster.get("study", "gpus", namespace=namespace)["status"]["trials"]["succeeded"] == 14
    job = cluster.get("job", "gpus-0", namespace=namespace)["spec"]["template"]["spec"]
    assert job["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert job["nodeSelector"]["nvidia.com/gpu.present"] == "true"


def test_killing_the_operator_three_times_loses_and_duplicates_nothing(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(
        study("restarts", budget={"maxTrials": 10, "parallelism": 3}), namespace=namespace
    )
    rng = random.Random(7)
    kills = [0]

    def maybe_kill() -> None:
        if kills[0] < 3 and rng.random() < 0.35:
            operator.kill()
            kills[0] += 1
            operator.start()

    Player(cluster, namespace, operator, "restarts").play(
        report_and_finish, timeout=300, each_round=maybe_kill
    )
    assert kills[0] == 3
    names = sorted(t["metadata"]["name"] for t in trials_of(cluster, namespace, "restarts"))
    assert names == sorted(f"restarts-{i}" for i in range(10))
    jobs = cluster.get("jobs", "-l", "kubetune.io/study=restarts", namespace=namespace)["items"]
    assert len(jobs) == 10
    assert (
        cluster.get("study", "restarts", namespace=namespace)["status"]["trials"]["succeeded"] == 10
    )


def test_a_study_deleted_and_created_again_runs_again_under_the_same_operator(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    """Trial names come back with the new Study; nothing the operator remembers of the old
    one (keyed by uid, not name) may make it skip the new trials. Found on the real node."""
    document = study("again", budget={"maxTrials": 2, "parallelism": 2})
    for _ in range(2):
        cluster.apply(document, namespace=namespace)
        Player(cluster, namespace, operator, "again").play(report_and_finish)
        status = cluster.get("study", "again", namespace=namespace)["status"]
        assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 2
        cluster.kubectl("delete", "study", "again", "--wait=true", namespace=namespace)
        wait_until(
            lambda: (
                not any(
                    cluster.get(kind, "-l", "kubetune.io/study=again", namespace=namespace)["items"]
                    for kind in ("jobs", "pods")
                )
            ),
            60,
            "the old Study's Jobs and pods to be gone",
        )


def test_an_invalid_search_space_is_refused_by_the_api_server(
    cluster: Cluster, namespace: str, crds: None
) -> None:
    bad = study("bad")
    bad["spec"]["parameters"][0].update({"min": 0.0, "log": True})
    refused = cluster.kubectl(
        "apply", "-f", "-", stdin=json.dumps(bad), namespace=namespace, check=False
    )
    assert refused.returncode != 0
    assert (
        "spec.parameters[0].min" in refused.stderr
        and "must be > 0 when log is true" in refused.stderr
    )


def test_changing_the_search_space_is_refused_but_the_budget_may_change(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(study("grow", budget={"maxTrials": 2, "parallelism": 1}), namespace=namespace)
    player = Player(cluster, namespace, operator, "grow")
    player.play(report_and_finish)
    changed = cluster.kubectl(
        "patch",
        "study",
        "grow",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"parameters": [{"name": "x", "type": "float", "min": 0, "max": 5}]}}),
        namespace=namespace,
        check=False,
    )
    assert changed.returncode != 0 and "spec.parameters cannot change" in changed.stderr
    cluster.kubectl(
        "patch",
        "study",
        "grow",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"budget": {"maxTrials": 4, "parallelism": 2}}}),
        namespace=namespace,
    )
    wait_until(
        lambda: len(trials_of(cluster, namespace, "grow")) == 4,
        30,
        "two more trials after maxTrials grew",
    )
    # The Study is Running again before the player plays: its status may still say
    # Succeeded for a moment after the new trials exist (on a loaded machine it did), and
    # play() ends as soon as it reads a finished phase.
    wait_until(
        lambda: (
            cluster.get("study", "grow", namespace=namespace)["status"].get("phase") == "Running"
        ),
        60,
        "the Study to be Running again",
    )
    player.play(report_and_finish)
    # The trials have ended; the Study's status says so at the operator's next pass, which a
    # loaded machine may delay: waited for, not read at once.
    wait_until(
        lambda: (
            cluster.get("study", "grow", namespace=namespace)["status"].get("progress") == "4/4"
        ),
        60,
        "the Study's progress to read 4/4",
    )


def test_garbage_fails_one_trial_and_a_forged_report_is_refused(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(
        study("garbage", budget={"maxTrials": 4, "parallelism": 2, "maxFailedTrials": 2}),
        namespace=namespace,
    )
    forged = [0]

    def behave(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        if trial == "garbage-1":
            assert (
                player.post(pod, {"reports": [{"seq": 1, "step": 1, "metrics": {"score": "NaN"}}]})
                == 200
            )
            player.done.add(pod["metadata"]["name"])
            return
        if trial == "garbage-2":  # another trial's token must not write here
            other = "garbage-0" if trial != "garbage-0" else "garbage-3"
            code = post_reports(
                operator.collector,
                namespace,
                other,
                "0" * 64,
                {"reports": [{"seq": 99, "step": 1, "metrics": {"score": 99.0}}]},
            )
            assert code == 403
            forged[0] += 1
        report_and_finish(player, pod, params)

    Player(cluster, namespace, operator, "garbage").play(behave)
    trials = {t["metadata"]["name"]: t for t in trials_of(cluster, namespace, "garbage")}
    assert trials["garbage-1"]["status"]["phase"] == "Failed"
    assert (
        "bad value" in trials["garbage-1"]["status"]["reason"]
        and "NaN" in trials["garbage-1"]["status"]["reason"]
    )
    assert [n for n, t in trials.items() if t["status"]["phase"] == "Succeeded"] == [
        "garbage-0",
        "garbage-2",
        "garbage-3",
    ]
    assert all(
        r["metrics"]["score"] != 99.0
        for t in trials.values()
        for r in t["status"].get("reports", [])
    )
    assert forged[0] == 1
    assert operator.metric("kubetune_collector_reports_refused_total", '{reason="bad-token"}') == 1
    assert cluster.get("study", "garbage", namespace=namespace)["status"]["phase"] == "Succeeded"


def test_deleting_a_study_deletes_its_trials_and_jobs_even_with_the_operator_down(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(study("doomed", budget={"maxTrials": 4, "parallelism": 2}), namespace=namespace)
    wait_until(
        lambda: (
            len(cluster.get("jobs", "-l", "kubetune.io/study=doomed", namespace=namespace)["items"])
            == 2
        ),
        30,
        "two Jobs",
    )
    assert not cluster.get("study", "doomed", namespace=namespace)["metadata"].get("finalizers")
    operator.stop()  # an uninstalled or crashed operator must not make a Study undeletable
    cluster.kubectl("delete", "study", "doomed", "--timeout=30s", namespace=namespace)
    wait_until(
        lambda: not trials_of(cluster, namespace, "doomed"),
        60,
        "the Trials to be garbage-collected",
    )
    wait_until(
        lambda: (
            not cluster.get("jobs", "-l", "kubetune.io/study=doomed", namespace=namespace)["items"]
        ),
        60,
        "the Jobs to go",
    )


def test_a_study_reads_its_metrics_from_prometheus(
    cluster: Cluster, namespace: str, operator: Operator, prometheus: dict[str, str]
) -> None:
    source = {
        "url": prometheus["prometheus"],
        "query": f'kubetune_e2e_score{{namespace="{namespace}",trial="${{trial.name}}"}}',
    }
    cluster.apply(
        study("prom", metrics={"prometheus": source}, budget={"maxTrials": 4, "parallelism": 2}),
        namespace=namespace,
    )

    def export(player: Player, pod: dict[str, Any], params: dict[str, Any]) -> None:
        trial = pod["metadata"]["labels"]["kubetune.io/trial"]
        value = score(params)
        body = f"kubetune_e2e_score {value}\n".encode()
        url = (
            f"{prometheus['pushgateway']}/metrics/job/kubetune/namespace/{namespace}/trial/{trial}"
        )
        urllib.request.urlopen(
            urllib.request.Request(url, data=body, method="PUT"), timeout=10
        ).close()
        query = urllib.parse.urlencode({"query": source["query"].replace("${trial.name}", trial)})

        def scraped() -> bool:
            with urllib.request.urlopen(
                f"{prometheus['prometheus']}/api/v1/query?{query}", timeout=10
            ) as r:
                return bool(json.load(r)["data"]["result"])

        wait_until(scraped, 30, f"Prometheus to scrape {trial}")
        player.finish(pod)

    Player(cluster, namespace, operator, "prom").play(export)
    trials = trials_of(cluster, namespace, "prom")
    assert all(t["status"]["phase"] == "Succeeded" for t in trials) and len(trials) == 4
    for trial in trials:
        assert trial["status"]["objective"] == pytest.approx(score(trial["spec"]["params"]))
    job = cluster.get("job", "prom-0", namespace=namespace)["spec"]["template"]["spec"]
    assert "initContainers" not in job  # no sidecar when Prometheus is the source
    best = max(trials, key=lambda t: t["status"]["objective"])
    assert (
        cluster.get("study", "prom", namespace=namespace)["status"]["bestTrial"]["name"]
        == best["metadata"]["name"]
    )


def test_a_prometheus_study_without_url_is_refused_when_the_operator_has_no_default(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    source = {"query": 'score{trial="${trial.name}"}'}
    cluster.apply(study("nourl", metrics={"prometheus": source}), namespace=namespace)
    wait_until(
        lambda: (
            (cluster.get("study", "nourl", namespace=namespace).get("status") or {}).get(
                "finishedBecause"
            )
            == "InvalidSpec"
        ),
        30,
        "the Study to be refused",
    )
    condition = cluster.get("study", "nourl", namespace=namespace)["status"]["conditions"][0]
    assert "spec.metrics.prometheus.url" in condition["message"]
    assert "--prometheus-url" in condition["message"]
    assert not trials_of(cluster, namespace, "nourl")


def test_a_timeout_ends_the_study_and_kills_running_trials(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    cluster.apply(
        study("slow", budget={"maxTrials": 6, "parallelism": 2, "timeout": "3s"}),
        namespace=namespace,
    )
    wait_until(
        lambda: (
            (cluster.get("study", "slow", namespace=namespace).get("status") or {}).get("phase")
            == "Failed"
        ),
        30,
        "the timeout to end the study",
    )
    status = cluster.get("study", "slow", namespace=namespace)["status"]
    assert status["finishedBecause"] == "Timeout" and status["trials"]["killed"] == 2
    trials = trials_of(cluster, namespace, "slow")
    assert {t["status"]["phase"] for t in trials} == {"Killed"}
    assert all("Timeout" in t["status"]["reason"] for t in trials)
    wait_until(
        lambda: (
            not cluster.get("jobs", "-l", "kubetune.io/study=slow", namespace=namespace)["items"]
        ),
        30,
        "the Jobs to be deleted",
    )


def kubetune_cli(
    cluster: Cluster, *args: str, kubeconfig: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KUBECONFIG": kubeconfig if kubeconfig is not None else str(cluster.kubeconfig),
    }
    return subprocess.run(
        [sys.executable, "-m", "kubetune.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=cwd,
    )


def test_the_cli_shows_status_trials_and_best_and_says_what_is_missing(
    cluster: Cluster, namespace: str, operator: Operator, tmp_path: Path
) -> None:
    shown = study("shown", budget={"maxTrials": 3, "parallelism": 3})
    del shown["spec"]["algorithm"]  # the default, auto: it says what it picked and why
    cluster.apply(shown, namespace=namespace)
    Player(cluster, namespace, operator, "shown").play(report_and_finish)
    trials = {t["metadata"]["name"]: t for t in trials_of(cluster, namespace, "shown")}
    best = max(trials.values(), key=lambda t: t["status"]["objective"])

    status = kubetune_cli(cluster, "status", "shown", "-n", namespace)
    assert status.returncode == 0, status.stderr
    assert f"kubetune: Study shown in namespace {namespace} on the cluster" in status.stderr
    assert (
        "Succeeded (MaxTrialsReached)" in status.stdout
        and best["metadata"]["name"] in status.stdout
    )
    assert "algorithm  bayesian (auto: 1 parameter and budget.maxTrials 3: the" in status.stdout
    wide = cluster.kubectl("get", "study", "shown", "-o", "wide", namespace=namespace).stdout
    header, row = wide.splitlines()[:2]
    assert row[header.index("ALGORITHM") :].split()[0] == "bayesian"  # columns may be empty

    listed = kubetune_cli(cluster, "trials", "shown", "-n", namespace)
    rows = listed.stdout.splitlines()
    assert rows[0].split()[:3] == ["TRIAL", "PHASE", "SCORE"]
    order = [r.split()[0] for r in rows[1:]]
    expected = sorted(trials, key=lambda n: -trials[n]["status"]["objective"])
    assert order == expected  # best first

    as_json = json.loads(kubetune_cli(cluster, "best", "shown", "-n", namespace).stdout)
    assert (
        as_json["trial"] == best["metadata"]["name"]
        and as_json["objective"] == best["status"]["objective"]
    )
    as_yaml = yaml.safe_load(
        kubetune_cli(cluster, "best", "shown", "-n", namespace, "-o", "yaml").stdout
    )
    assert as_yaml == as_json

    missing = kubetune_cli(cluster, "status", "nope", "-n", namespace)
    assert missing.returncode == 2 and "no Study 'nope'" in missing.stderr
    no_logs = kubetune_cli(cluster, "logs", "nope-0", "-n", namespace)
    assert no_logs.returncode == 2 and "no Trial 'nope-0'" in no_logs.stderr
    no_config = kubetune_cli(cluster, "status", "shown", kubeconfig=str(tmp_path / "absent"))
    assert no_config.returncode == 2 and "kubeconfig" in no_config.stderr

    # A study that is not on the cluster but in ./kubetune-runs is the local one, said so.
    local = manifest(budget={"maxTrials": 2, "parallelism": 1}, metrics={"format": "keyvalue"})
    local["metadata"]["name"] = "here"
    container = local["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container.update(command=["python", "-c", "print('accuracy=0.5')"], args=[])
    (tmp_path / "here.yaml").write_text(yaml.safe_dump(local))
    ran = kubetune_cli(cluster, "run", "here.yaml", "--no-plot", "--quiet", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    found = kubetune_cli(cluster, "status", "here", "-n", namespace, cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    assert (
        f"the local study in kubetune-runs/here/ (no Study 'here' in namespace '{namespace}' "
        "on the cluster)" in found.stderr
    )
    assert "2/2" in found.stdout


def test_reaching_the_target_kills_the_running_trials_and_finishes_at_once(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    document = study("target", budget={"maxTrials": 10, "parallelism": 3})
    document["spec"]["objective"]["target"] = 0.5
    cluster.apply(document, namespace=namespace)
    wait_until(
        lambda: (
            sum(
                1
                for p in cluster.get("pods", "-l", "kubetune.io/study=target", namespace=namespace)[
                    "items"
                ]
                if p["status"].get("phase") == "Running"
            )
            == 3
        ),
        30,
        "three trial pods running",
    )
    player = Player(cluster, namespace, operator, "target")
    first = next(player.running_pods())
    assert (
        player.post(first, {"reports": [{"seq": 1, "step": 1, "metrics": {"score": 0.9}}]}) == 200
    )
    player.finish(first)
    # Well inside the 60 s heal pass: the kills' own events start no pass, the kill does.
    wait_until(lambda: player.phase() == "Succeeded", 15, "the study to finish")
    status = cluster.get("study", "target", namespace=namespace)["status"]
    assert status["finishedBecause"] == "TargetReached" and status["trials"]["killed"] == 2
    assert status["bestTrial"]["name"] == first["metadata"]["labels"]["kubetune.io/trial"]


def test_a_conditional_study_gives_each_trial_and_job_only_its_active_parameters(
    cluster: Cluster, namespace: str, operator: Operator
) -> None:
    document = study(
        "cond",
        parameters=[
            {"name": "x", "type": "float", "min": 0.0, "max": 1.0},
            {"name": "opt", "type": "categorical", "values": ["adam", "sgd"]},
            {"name": "momentum", "type": "float", "min": 0.5, "max": 0.9,
             "when": {"opt": ["sgd"]}},
        ],
        algorithm={"name": "bayesian", "seed": 2, "settings": {"nInitialPoints": 4}},
        budget={"maxTrials": 8, "parallelism": 2},
    )  # fmt: skip
    container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["args"] = ["--opt=${trial.params.opt}", "--momentum=${trial.params.momentum}"]
    cluster.apply(document, namespace=namespace)
    Player(cluster, namespace, operator, "cond").play(report_and_finish)
    status = cluster.get("study", "cond", namespace=namespace)["status"]
    assert status["phase"] == "Succeeded" and status["trials"]["succeeded"] == 8
    trials = trials_of(cluster, namespace, "cond")
    assert {t["spec"]["params"]["opt"] for t in trials} == {"adam", "sgd"}
    for trial in trials:
        params = trial["spec"]["params"]
        assert ("momentum" in params) == (params["opt"] == "sgd"), params
        job = cluster.get("job", trial["metadata"]["name"], namespace=namespace)
        command = job["spec"]["template"]["spec"]["containers"][0]["command"]
        assert f"--opt={params['opt']}" in command
        assert any(a.startswith("--momentum=") for a in command) == ("momentum" in params)
    listed = kubetune_cli(cluster, "trials", "cond", "-n", namespace).stdout
    header, *rows = listed.splitlines()
    assert header.split()[4:6] == ["opt", "momentum"]
    assert all(row.split()[5] == "-" for row in rows if row.split()[4] == "adam")

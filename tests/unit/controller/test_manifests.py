from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetune.api import InvalidStudyError, load_study, sources
from kubetune.controller import manifests, outcomes, tokens
from kubetune.controller.settings import OperatorSettings
from kubetune.controller.workloads import job as job_kind
from kubetune.controller.workloads import registry
from kubetune.engine import Best, Decision, Finish, NewTrial
from kubetune.metrics import sidecar, wire
from kubetune.metrics.prometheus import parse_vector
from kubetune.records import study_status
from kubetune.records import trials as trial_records

from factories import jobset_template, manifest, study

STUDY_OBJ: dict[str, Any] = {
    "apiVersion": "kubetune.io/v1alpha1",
    "kind": "Study",
    "metadata": {"name": "demo", "namespace": "ns", "uid": "u-1"},
}
ROOT = Path(__file__).resolve().parents[3]
SETTINGS = OperatorSettings(
    secret=b"s", sidecar_image="kubetune/kubetune:test", collector_url="http://collector:8443"
)


def trial_obj(params: dict[str, Any], budget: float | None = None) -> dict[str, Any]:
    trial = manifests.build_trial(STUDY_OBJ, NewTrial("demo-3", 3, params, budget))
    trial["metadata"]["uid"] = "t-uid"
    return trial


def test_a_trial_is_owned_by_its_study_and_labelled() -> None:
    trial = trial_obj({"lr": 0.01})
    assert trial["metadata"]["labels"] == {
        "kubetune.io/study": "demo",
        "kubetune.io/trial": "demo-3",
    }
    assert trial["metadata"]["ownerReferences"][0]["uid"] == "u-1"
    assert trial["spec"] == {"study": "demo", "index": 3, "params": {"lr": 0.01}}


def test_the_job_substitutes_placeholders_and_wraps_the_trainer_for_the_sidecar() -> None:
    document = manifest()
    container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["args"] = ["--lr=${trial.params.lr}", "--name=${trial.name}"]
    job = job_kind.build(
        load_study(document),
        trial_obj({"lr": 0.01, "layers": 2, "optimizer": "sgd"}),
        "tok",
        SETTINGS,
    )
    pod = job["spec"]["template"]["spec"]
    trainer = pod["containers"][0]
    assert trainer["command"][:2] == ["/bin/sh", "-c"]
    assert trainer["command"][-4:] == ["python", "train.py", "--lr=0.01", "--name=demo-3"]
    assert "args" not in trainer
    [sidecar] = pod["initContainers"]
    env = {e["name"]: e.get("value") for e in sidecar["env"]}
    assert sidecar["restartPolicy"] == "Always" and env["KUBETUNE_TOKEN"] == "tok"
    assert (
        env["KUBETUNE_METRICS"] == "accuracy"
        and env["KUBETUNE_COLLECTOR_URL"] == "http://collector:8443"
    )
    assert job["spec"]["backoffLimit"] == 0 and pod["restartPolicy"] == "Never"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "Trial"
    assert job["spec"]["template"]["metadata"]["labels"]["kubetune.io/trial"] == "demo-3"
    assert job["spec"]["template"]["metadata"]["annotations"]["kubetune.io/retries"] == "0"


def test_the_limits_of_the_template_reach_the_job_and_its_pods() -> None:
    document = manifest()
    document["spec"]["trialTemplate"]["spec"].update(backoffLimit=2, activeDeadlineSeconds=600)
    job = job_kind.build(
        load_study(document),
        trial_obj({"lr": 0.01, "layers": 2, "optimizer": "sgd"}),
        "t",
        SETTINGS,
    )
    assert (job["spec"]["backoffLimit"], job["spec"]["activeDeadlineSeconds"]) == (2, 600)
    assert job["spec"]["template"]["metadata"]["annotations"]["kubetune.io/retries"] == "2"


def test_the_sidecar_gets_time_to_outlast_an_operator_restart_unless_the_user_says() -> None:
    params = trial_obj({"lr": 0.01, "layers": 2, "optimizer": "sgd"})
    job = job_kind.build(load_study(manifest()), params, "tok", SETTINGS)
    grace = job["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace == manifests.SIDECAR_GRACE_SECONDS > sidecar.FINAL_FLUSH_SECONDS
    document = manifest()
    document["spec"]["trialTemplate"]["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ] = 5
    job = job_kind.build(load_study(document), params, "tok", SETTINGS)
    assert job["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 5


def test_the_gpu_shortcut_becomes_limits_selector_and_toleration() -> None:
    spec = study(resources={"gpus": 2, "gpuType": "NVIDIA-A100"})
    pod = job_kind.build(spec, trial_obj({"lr": 0.01}), "t", SETTINGS)["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"
    assert pod["nodeSelector"] == {
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.product": "NVIDIA-A100",
    }
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    assert "nvidia.com/gpu" not in str(pod["initContainers"])  # the sidecar asks for none


def test_a_queued_study_creates_suspended_jobs_in_its_kueue_queue() -> None:
    for spec in (
        study(queueName="gpus"),
        study(
            trialTemplate={
                **manifest()["spec"]["trialTemplate"],
                "metadata": {"labels": {"kueue.x-k8s.io/queue-name": "gpus"}},
            }
        ),
    ):
        job = job_kind.build(spec, trial_obj({"lr": 0.01}), "t", SETTINGS)
        assert job["spec"]["suspend"] is True
        assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpus"
        pod_meta = job["spec"]["template"]["metadata"]
        assert pod_meta["annotations"][manifests.QUEUE_ANNOTATION] == "gpus"
    plain = job_kind.build(study(), trial_obj({"lr": 0.01}), "t", SETTINGS)
    assert "suspend" not in plain["spec"]
    assert "kueue.x-k8s.io/queue-name" not in plain["metadata"]["labels"]


def test_a_jobset_trial_labels_every_pod_and_gives_the_sidecar_to_the_first_job() -> None:
    spec = study(trialTemplate=jobset_template(), resources={"gpus": 1}, queueName="gpus")
    jobset = registry.build_workload(spec, trial_obj({"lr": 0.01}), "t", SETTINGS)
    assert jobset["apiVersion"] == "jobset.x-k8s.io/v1alpha2" and jobset["kind"] == "JobSet"
    assert jobset["metadata"]["ownerReferences"][0]["kind"] == "Trial"
    assert jobset["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpus"
    assert jobset["spec"]["suspend"] is True
    leader, workers = jobset["spec"]["replicatedJobs"]
    for replicated in (leader, workers):
        job = replicated["template"]["spec"]
        pod = job["template"]
        assert job["backoffLimit"] == 0
        assert pod["metadata"]["labels"]["kubetune.io/trial"] == "demo-3"
        assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert pod["spec"]["restartPolicy"] == "Never"
    lead = leader["template"]["spec"]["template"]["spec"]
    assert [c["name"] for c in lead["initContainers"]] == ["kubetune-metrics"]
    ranks = {e["name"] for e in lead["initContainers"][0]["env"]}
    assert set(wire.RANK_LABELS) <= ranks  # only rank 0 of these pods reports
    assert lead["containers"][0]["command"][:2] == ["/bin/sh", "-c"]  # output teed
    rest = workers["template"]["spec"]["template"]["spec"]
    assert "initContainers" not in rest and rest["containers"][0]["command"] == [
        "python",
        "train.py",
    ]
    assert rest["containers"][0]["args"] == ["--trial=demo-3", "--role=workers"]


def test_a_template_of_one_kind_with_the_other_kinds_fields_is_refused() -> None:
    with pytest.raises(InvalidStudyError, match=r"trialTemplate.spec.replicatedJobs: a JobSet"):
        study(
            trialTemplate={
                "kind": "JobSet",
                "spec": {
                    "template": {
                        "spec": {"containers": [{"name": "t", "image": "i", "command": ["x"]}]}
                    }
                },
            }
        )
    with pytest.raises(InvalidStudyError, match=r"apiVersion: a Job is batch/v1"):
        study(trialTemplate={**manifest()["spec"]["trialTemplate"], "apiVersion": "v2"})


def test_a_token_names_its_trials_uid_and_is_good_for_that_trial_only() -> None:
    token = tokens.build_token(b"s", "ns", "demo-1", "uid-1")
    assert tokens.read_token(b"s", "ns", "demo-1", token) == "uid-1"
    assert tokens.read_token(b"s", "ns", "demo-2", token) is None
    assert tokens.read_token(b"s", "other", "demo-1", token) is None
    assert tokens.read_token(b"other", "ns", "demo-1", token) is None
    forged = "uid-2." + token.split(".", 1)[1]  # another uid with this trial's MAC
    assert tokens.read_token(b"s", "ns", "demo-1", forged) is None
    for garbage in ("", ".", "uid-1.", "nodot", "uid-1.\u00e9" * 3, "x" * 500):
        assert tokens.read_token(b"s", "ns", "demo-1", garbage) is None


def test_job_outcomes() -> None:
    assert outcomes.job_outcome({"status": {}}) == ("Pending", None)
    assert outcomes.job_outcome({"status": {"active": 1, "ready": 1}}) == ("Running", None)
    assert outcomes.job_outcome(
        {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    ) == ("Succeeded", None)
    phase, reason = outcomes.job_outcome(
        {
            "status": {
                "conditions": [
                    {
                        "type": "Failed",
                        "status": "True",
                        "reason": "BackoffLimitExceeded",
                        "message": "Job has reached the specified backoff limit",
                    }
                ]
            }
        }
    )
    assert phase == "Failed" and reason is not None and "BackoffLimitExceeded" in reason


def test_reports_stay_bounded_keeping_the_latest() -> None:
    reports = [{"step": i, "metrics": {"a": float(i)}} for i in range(500)]
    merged = trial_records.merge_reports(reports[:300], reports[300:])
    assert len(merged) == 200
    assert merged[-100:] == reports[-100:]
    assert merged[0] == reports[0]
    assert [r["step"] for r in merged] == sorted(r["step"] for r in merged)


def test_history_is_rebuilt_from_trial_objects_and_status_follows_the_decision() -> None:
    trial = trial_obj({"lr": 0.01})
    trial["status"] = {
        "phase": "Succeeded",
        "objective": 0.9,
        "reports": [{"step": 1, "metrics": {"accuracy": 0.9}}],
    }
    stale = trial_obj({"lr": 0.5})  # an earlier Study's of the same name, being deleted
    stale["metadata"]["ownerReferences"][0]["uid"] = "u-0"
    stale["spec"]["index"] = 4
    study_obj = {**STUDY_OBJ, "status": {"nextTrialIndex": 7, "startTime": "2026-01-01T00:00:00Z"}}
    history = trial_records.history_from_trials(study_obj, [trial, stale], 0.0)
    assert [t.index for t in history.trials] == [3]
    assert history.trials[0].objective == 0.9 and history.next_trial_index == 7
    assert history.started_at == 1767225600.0
    decision = Decision(
        finish=Finish("MaxTrialsReached", True, "done"), best=Best("demo-3", {"lr": 0.01}, 0.9)
    )
    built = study_status.build_study_status({}, history, decision, 1, 2, 0.0, "accuracy")
    assert built["phase"] == "Succeeded" and built["progress"] == "1/1"
    assert built["nextTrialIndex"] == 7  # deleted trials' names never come back
    assert built["bestTrial"] == {
        "name": "demo-3",
        "params": {"lr": 0.01},
        "objective": 0.9,
        "metric": "accuracy",
    }
    assert (
        built["conditions"][0]["reason"] == "MaxTrialsReached" and built["observedGeneration"] == 2
    )


def test_prometheus_samples_become_reports_by_step() -> None:
    response = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"__name__": "acc", "step": "2"}, "value": [0, "0.8"]},
                {"metric": {"step": "1"}, "value": [0, "0.5"]},
            ],
        },
    }
    reports = parse_vector(response, "accuracy")
    assert [(r.step, dict(r.metrics)) for r in reports] == [
        (1, {"accuracy": 0.5}),
        (2, {"accuracy": 0.8}),
    ]  # type: ignore[union-attr]
    bad = parse_vector(
        {
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, "NaN"]}]},
        },
        "a",
    )
    assert "NaN" in str(bad[0])


def test_kind_configs_gpu_worker_is_where_gpu_trials_land_and_only_they() -> None:
    """kind-config.yaml's GPU worker must match what GPU trials select and tolerate."""
    config = yaml.safe_load((ROOT / "kind-config.yaml").read_text())
    workers = [n for n in config["nodes"] if n["role"] == "worker"]
    gpu = study(resources={"gpus": 1, "gpuType": "NVIDIA-H100-80GB-HBM3"})
    pod = job_kind.build(gpu, trial_obj({"lr": 0.01}), "t", SETTINGS)["spec"]["template"]["spec"]

    def taints(node: dict[str, Any]) -> list[dict[str, Any]]:
        patches = [yaml.safe_load(p) for p in node.get("kubeadmConfigPatches", [])]
        return [t for p in patches for t in p["nodeRegistration"].get("taints", [])]

    def admits(node: dict[str, Any], spec: dict[str, Any]) -> bool:
        labels = node.get("labels", {})
        selected = all(labels.get(k) == v for k, v in spec.get("nodeSelector", {}).items())
        tolerated = all(
            any(t["key"] == tol["key"] for tol in spec.get("tolerations", [])) for t in taints(node)
        )
        return selected and tolerated

    cpu_pod = job_kind.build(study(), trial_obj({"lr": 0.01}), "t", SETTINGS)
    cpu_spec = cpu_pod["spec"]["template"]["spec"]
    assert [admits(n, pod) for n in workers] == [False, True]
    assert [admits(n, cpu_spec) for n in workers] == [True, False]


def test_a_pod_whose_image_cannot_be_pulled_fails_its_trial_with_the_kubelets_word() -> None:
    waiting = {
        "name": "trainer",
        "state": {
            "waiting": {
                "reason": "ImagePullBackOff",
                "message": 'Back-off pulling image "example/nope:1"',
            }
        },
    }
    pod = {"status": {"phase": "Pending", "containerStatuses": [waiting]}}
    phase, reason = outcomes.pod_outcome(pod)
    assert phase == "Failed" and reason is not None
    assert "trainer" in reason and "ImagePullBackOff" in reason and "example/nope:1" in reason
    pulling = {"name": "trainer", "state": {"waiting": {"reason": "ContainerCreating"}}}
    assert outcomes.pod_outcome(
        {"status": {"phase": "Pending", "containerStatuses": [pulling]}}
    ) == (
        "Pending",
        None,
    )


def test_a_pod_disrupted_without_an_exit_code_says_by_what_and_where() -> None:
    pod = {
        "metadata": {"name": "demo-3-abcde"},
        "spec": {"nodeName": "node-7"},
        "status": {
            "phase": "Failed",
            "conditions": [
                {
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "DeletionByPodGC",
                    "message": "PodGC: node no longer exists",
                }
            ],
        },
    }
    assert outcomes.pod_outcome(pod) == (
        "Failed",
        "pod demo-3-abcde on node node-7 was disrupted: DeletionByPodGC: "
        "PodGC: node no longer exists",
    )


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container.get("env") or []}


def test_every_trainer_knows_its_study_and_trial_and_where_its_event_files_go() -> None:
    document = manifest(metrics={"tensorboard": {"tags": {"accuracy": "val/acc"}}})
    container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["args"] = ["--logdir=${trial.tensorboardDir}"]
    container["env"] = [{"name": "KUBETUNE_TRIAL", "value": "a user's, replaced"}]
    job = job_kind.build(load_study(document), trial_obj({"lr": 0.01}), "tok", SETTINGS)
    pod = job["spec"]["template"]["spec"]
    trainer, (side,) = pod["containers"][0], pod["initContainers"]
    assert env_of(trainer) == {
        "KUBETUNE_STUDY": "demo",
        "KUBETUNE_TRIAL": "demo-3",
        "KUBETUNE_TENSORBOARD_DIR": "/kubetune/tensorboard",
    }
    assert trainer["command"][-1] == "--logdir=/kubetune/tensorboard"
    assert "mkdir -p /kubetune/tensorboard" in trainer["command"][2]
    told = wire.SidecarEnv.parse({**env_of(side), "KUBETUNE_NAMESPACE": "ns"})
    assert told.tensorboard_dir == "/kubetune/tensorboard" and told.tags == {"accuracy": "val/acc"}
    assert (
        trainer["volumeMounts"]
        == side["volumeMounts"]
        == [{"name": "kubetune-output", "mountPath": "/kubetune"}]
    )
    reader = sidecar.Sidecar.from_env({**env_of(side), "KUBETUNE_NAMESPACE": "ns"})
    assert reader.follower is not None  # it follows the event files, not the output


def test_a_metrics_file_elsewhere_gets_a_folder_both_containers_share() -> None:
    document = manifest(metrics={"file": {"path": "/var/log/katib/metrics.log", "format": "json"}})
    job = job_kind.build(load_study(document), trial_obj({"lr": 0.01}), "tok", SETTINGS)
    pod = job["spec"]["template"]["spec"]
    trainer, (side,) = pod["containers"][0], pod["initContainers"]
    assert env_of(trainer)["KUBETUNE_METRICS_FILE"] == "/var/log/katib/metrics.log"
    shared = {"name": "kubetune-metrics-folder", "mountPath": "/var/log/katib"}
    assert shared in trainer["volumeMounts"] and shared in side["volumeMounts"]
    assert {"name": "kubetune-metrics-folder", "emptyDir": {}} in pod["volumes"]
    told = wire.SidecarEnv.parse({**env_of(side), "KUBETUNE_NAMESPACE": "ns"})
    assert (told.metrics_file, told.file_format) == ("/var/log/katib/metrics.log", "json")
    inside = manifest(metrics={"file": {}})  # the default: in the output's folder already
    pod = job_kind.build(load_study(inside), trial_obj({"lr": 0.01}), "t", SETTINGS)["spec"]
    assert [v["name"] for v in pod["template"]["spec"]["volumes"]] == ["kubetune-output"]


def test_pods_that_do_not_report_know_who_they_are_but_get_no_places() -> None:
    spec = study(trialTemplate=jobset_template(), metrics={"tensorboard": {}})
    jobset = registry.build_workload(spec, trial_obj({"lr": 0.01}), "t", SETTINGS)
    leader, workers = jobset["spec"]["replicatedJobs"]
    lead = leader["template"]["spec"]["template"]["spec"]["containers"][0]
    rest = workers["template"]["spec"]["template"]["spec"]["containers"][0]
    assert "KUBETUNE_TENSORBOARD_DIR" in env_of(lead)
    assert env_of(rest) == {"KUBETUNE_STUDY": "demo", "KUBETUNE_TRIAL": "demo-3"}


def test_a_prometheus_study_still_tells_its_trainer_who_it_is() -> None:
    spec = study(metrics={"prometheus": {"url": "http://p:9090", "query": "a{t='${trial.name}'}"}})
    job = job_kind.build(spec, trial_obj({"lr": 0.01}), "tok", SETTINGS)
    pod = job["spec"]["template"]["spec"]
    assert "initContainers" not in pod
    assert env_of(pod["containers"][0]) == {"KUBETUNE_STUDY": "demo", "KUBETUNE_TRIAL": "demo-3"}


def test_the_shared_folder_is_the_same_path_for_the_api_and_the_wire() -> None:
    assert sources.SHARED_DIR == wire.OUTPUT_DIR
    assert sources.RESERVED_FILES == (wire.OUTPUT_FILE, wire.EXIT_CODE_FILE)


def test_event_files_in_a_folder_of_the_trainers_own_are_shared_there() -> None:
    spec = study(metrics={"tensorboard": {"dir": "/var/log/katib/tfevent"}})
    pod = job_kind.build(spec, trial_obj({"lr": 0.01}), "tok", SETTINGS)["spec"]["template"]["spec"]
    trainer, (side,) = pod["containers"][0], pod["initContainers"]
    shared = {"name": "kubetune-metrics-folder", "mountPath": "/var/log/katib/tfevent"}
    assert shared in trainer["volumeMounts"] and shared in side["volumeMounts"]
    assert env_of(trainer)["KUBETUNE_TENSORBOARD_DIR"] == "/var/log/katib/tfevent"
    assert "mkdir -p /var/log/katib/tfevent;" in trainer["command"][2]

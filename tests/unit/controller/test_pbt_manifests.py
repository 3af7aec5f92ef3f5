"""A pbt trial on a cluster: its lineage in the Trial, the checkpoint claim in its pod, its two
folders as variables and placeholders, and the init container that deletes what no line can
reach any more."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from kubetune.api import load_study
from kubetune.api.study import Study
from kubetune.controller import manifests, outcomes
from kubetune.controller.settings import OperatorSettings
from kubetune.controller.workloads import job as job_kind
from kubetune.engine import Lineage, NewTrial
from kubetune.records import trials as trial_records

from factories import manifest

STUDY_OBJ: dict[str, Any] = {
    "apiVersion": "kubetune.io/v1alpha1",
    "kind": "Study",
    "metadata": {"name": "demo", "namespace": "ns", "uid": "u-1"},
}
SETTINGS = OperatorSettings(
    secret=b"s", sidecar_image="kubetune/kubetune:test", collector_url="http://collector:8443"
)
LINEAGE = Lineage(2, "demo-4", 1, {"lr": "perturbed", "layers": "copied", "optimizer": "copied"})
PARAMS = {"lr": 0.02, "layers": 2, "optimizer": "sgd"}


def pbt_study(**checkpoints: Any) -> Study:
    document = manifest(
        algorithm={"name": "pbt", "settings": {"population": 4, "readyInterval": 5}},
        checkpoints={"volumeClaim": "ckpt", **checkpoints},
    )
    container = document["spec"]["trialTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["args"] = [
        "--until=${trial.budget}",
        "--save=${trial.checkpointDir}",
        "--restore=${trial.restoreDir}",
    ]
    return load_study(document)


def trial(lineage: Lineage | None = LINEAGE) -> dict[str, Any]:
    new = NewTrial("demo-9", 9, PARAMS, 10.0, lineage, ("demo-4", "demo-6", "demo-7"))
    made = manifests.build_trial(STUDY_OBJ, new)
    made["metadata"]["uid"] = "t-uid"
    return made


def test_the_trial_keeps_its_lineage_in_its_spec_and_the_engine_reads_it_back() -> None:
    made = trial()
    assert made["spec"]["lineage"] == {
        "member": 2,
        "parent": "demo-4",
        "generation": 1,
        "changes": {"lr": "perturbed", "layers": "copied", "optimizer": "copied"},
    }
    assert made["spec"]["checkpointsInUse"] == ["demo-4", "demo-6", "demo-7"]
    assert trial_records.trial_record(made).lineage == LINEAGE
    assert trial_records.lineage_status(made) == {
        "parent": "demo-4",
        "member": 2,
        "generation": 1,
        "changes": dict(LINEAGE.changes),
    }
    first = trial(Lineage(0, None, 0, {"lr": "sampled"}))
    assert "parent" not in first["spec"]["lineage"]
    assert trial_records.lineage_status(first)["parent"] is None


def test_the_pod_mounts_the_claim_and_is_told_both_folders() -> None:
    job = job_kind.build(pbt_study(), trial(), "tok", SETTINGS)
    pod = job["spec"]["template"]["spec"]
    assert {"name": "kubetune-checkpoints", "persistentVolumeClaim": {"claimName": "ckpt"}} in pod[
        "volumes"
    ]
    trainer = pod["containers"][0]
    mount = {"name": "kubetune-checkpoints", "mountPath": "/kubetune/checkpoints"}
    assert mount in trainer["volumeMounts"]
    env = {e["name"]: e["value"] for e in trainer["env"]}
    assert env["KUBETUNE_CHECKPOINT_DIR"] == "/kubetune/checkpoints/demo/demo-9"
    assert env["KUBETUNE_RESTORE_DIR"] == "/kubetune/checkpoints/demo/demo-4"
    command = " ".join(trainer["command"])
    assert "--until=10 --save=/kubetune/checkpoints/demo/demo-9" in command
    assert "--restore=/kubetune/checkpoints/demo/demo-4" in command
    prune = pod["initContainers"][0]
    assert prune["name"] == "kubetune-prune" and prune["image"] == "kubetune/kubetune:test"
    assert prune["command"] == [
        "kubetune",
        "prune-checkpoints",
        "/kubetune/checkpoints/demo",
        "--study=demo",
        "--below=9",
        "--keep=demo-4",
        "--keep=demo-6",
        "--keep=demo-7",
        "--restore=/kubetune/checkpoints/demo/demo-4",
    ]
    assert prune["volumeMounts"] == [mount]


def test_a_first_generation_pod_has_no_restore_folder_and_the_mount_path_is_the_users() -> None:
    job = job_kind.build(
        pbt_study(mountPath="/ckpt"), trial(Lineage(0, None, 0, {})), "tok", SETTINGS
    )
    trainer = job["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in trainer["env"]}
    assert env["KUBETUNE_CHECKPOINT_DIR"] == "/ckpt/demo/demo-9"
    assert "KUBETUNE_RESTORE_DIR" not in env
    assert "--restore= " in " ".join(trainer["command"]) + " "


def test_pruning_deletes_only_older_trials_of_the_study_that_are_not_kept(tmp_path: Path) -> None:
    for name in ("demo-1", "demo-2", "demo-3", "demo-12", "other-1", "demo-x"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.pt").write_text("weights")
    prune = [sys.executable, "-m", "kubetune.cli", "prune-checkpoints", str(tmp_path)]
    done = subprocess.run(
        [*prune, "--study=demo", "--below=10", "--keep=demo-2"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo-12", "demo-2", "demo-x", "other-1"]
    assert "deleted 2 checkpoint(s)" in done.stdout


def test_a_missing_parent_checkpoint_fails_the_pod_before_its_trainer_naming_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "demo-4").mkdir()
    prune = [sys.executable, "-m", "kubetune.cli", "prune-checkpoints", str(tmp_path)]
    done = subprocess.run(
        [*prune, "--study=demo", "--below=9", f"--restore={tmp_path / 'demo-4'}"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    said = f"CheckpointMissing: demo-4's checkpoint folder {tmp_path / 'demo-4'} is empty"
    assert done.stderr.strip() == said
    assert (tmp_path / "demo-4").is_dir(), "nothing deleted by a check that failed"
    # The kubelet keeps the message (terminationMessagePath); the trial's reason names it.
    pod = {
        "metadata": {"name": "demo-9-abcde"},
        "status": {
            "phase": "Failed",
            "initContainerStatuses": [
                {
                    "name": "kubetune-prune",
                    "state": {"terminated": {"exitCode": 1, "message": said + "\n"}},
                }
            ],
            "containerStatuses": [{"name": "trainer", "state": {"waiting": {}}}],
        },
    }
    assert outcomes.pod_outcome(pod) == (
        outcomes.TrialState.FAILED,
        f"container kubetune-prune exited with code 1: {said}",
    )

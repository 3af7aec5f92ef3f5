"""`kubetune convert` as a user runs it: a Study file that `kubetune validate` accepts, with
the notes as comments; refusals one line per Katib field, exit 2; never a traceback."""

from __future__ import annotations

from pathlib import Path

import yaml

from conftest import Kubetune
from katib_experiments import CONVERTIBLE, experiment


def test_the_output_is_a_study_validate_accepts_with_what_changed_as_comments(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    # (every convertible Experiment is loaded as a Study in the unit tests; three by the CLI)
    for name in ("stdout-random", "tensorflow-event", "pytorchjob"):
        source = kubetune.write(CONVERTIBLE[name](), f"{name}.yaml")
        done = kubetune.run("convert", str(source), "-o", f"{name}-study.yaml")
        assert done.returncode == 0, done.stderr
        text = (tmp_path / f"{name}-study.yaml").read_text()
        assert text.startswith("# Converted by `kubetune convert` from the Katib Experiment")
        assert yaml.safe_load(text)["kind"] == "Study"
        checked = kubetune.run("validate", f"{name}-study.yaml")
        assert checked.returncode == 0, (name, checked.stderr)
    printed = kubetune.run("convert", "stdout-random.yaml")
    assert "# - spec.parameters[1].name: 'num-layers' is 'num_layers'" in printed.stdout


def test_refusals_are_one_line_per_katib_field_with_exit_2(kubetune: Kubetune) -> None:
    document = experiment(
        algorithm={"algorithmName": "pbt"},
        metricsCollectorSpec={"collector": {"kind": "Custom", "customCollector": {}}},
    )
    done = kubetune.run("convert", str(kubetune.write(document, "pbt.yaml")))
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "spec.algorithm.algorithmName",
        "spec.metricsCollectorSpec.collector.customCollector",
    ]


def test_files_that_are_no_experiment_are_refused_without_a_traceback(
    kubetune: Kubetune, tmp_path: Path
) -> None:
    cases = {
        "binary.yaml": b"\x00\xff\xfe",
        "list.yaml": b"- 1\n- 2\n",
        "study.yaml": b"apiVersion: kubetune.io/v1alpha1\nkind: Study\n",
        "two.yaml": b"a: 1\n---\nb: 2\n",
        "bad.yaml": b"a: [1\n",
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        done = kubetune.run("convert", name)
        assert done.returncode == 2, (name, done.stderr)
        assert "Traceback" not in done.stderr and done.stderr.strip(), name
    missing = kubetune.run("convert", "nowhere.yaml")
    assert missing.returncode == 2 and "cannot read nowhere.yaml" in missing.stderr

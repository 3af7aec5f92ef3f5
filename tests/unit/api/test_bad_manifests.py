"""A table of bad manifests: each is refused by pydantic with the field path and the fix, and
by the generated CRD (structural schema + CEL rules) the way the API server would refuse it."""

from __future__ import annotations

import pytest

from kubetune.api import InvalidStudyError, load_study
from kubetune.api.crd import render_crds

from bad_manifests import CASES, Mutate, P, param, spec
from factories import manifest
from schema_check import api_server_problems

SCHEMA = render_crds()["kubetune.io_studies.yaml"]["spec"]["versions"][0]["schema"][
    "openAPIV3Schema"
]


def test_the_table_is_at_least_twenty_manifests_long() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize(
    ("mutate", "path", "words"), [c[1:4] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_bad_manifest_is_refused_naming_the_field_and_the_fix(
    mutate: Mutate, path: str, words: str
) -> None:
    bad = manifest()
    mutate(bad)
    with pytest.raises(InvalidStudyError) as refused:
        load_study(bad)
    problems = refused.value.problems
    assert any(p.startswith(f"{path}: ") and words in p for p in problems), problems


@pytest.mark.parametrize(
    ("mutate", "server_path"),
    [(c[1], c[4]) for c in CASES if c[4] is not None],
    ids=[c[0] for c in CASES if c[4] is not None],
)
def test_the_generated_crd_refuses_it_too(mutate: Mutate, server_path: str) -> None:
    bad = manifest()
    mutate(bad)
    problems = api_server_problems(bad, SCHEMA)
    assert any(p.startswith(server_path) for p in problems), problems


def test_a_long_study_name_is_refused_by_both() -> None:
    bad = manifest()
    bad["metadata"]["name"] = "a" * 51
    with pytest.raises(InvalidStudyError) as refused:
        load_study(bad)
    assert refused.value.problems[0].startswith("metadata.name: ")
    assert any("at most 50" in p for p in api_server_problems(bad, SCHEMA))


def test_every_problem_is_reported_not_only_the_first() -> None:
    bad = manifest()
    param(0, min=0.0)(bad)
    spec("budget", {"maxTrials": 0})(bad)
    with pytest.raises(InvalidStudyError) as refused:
        load_study(bad)
    paths = {p.split(":")[0] for p in refused.value.problems}
    assert {f"{P}[0].min", "spec.budget.maxTrials"} <= paths


def test_a_pbt_study_needs_a_checkpoint_volume_on_a_cluster_only() -> None:
    local = manifest()
    spec("algorithm", {"name": "pbt", "settings": {"population": 3, "readyInterval": 2}})(local)
    assert load_study(local).spec.checkpoints is None  # kubetune run keeps them in folders
    problems = api_server_problems(local, SCHEMA)
    assert any(
        p.startswith("spec.algorithm") and "spec.checkpoints.volumeClaim" in p for p in problems
    ), problems
    spec("checkpoints", {"volumeClaim": "checkpoints"})(local)
    assert api_server_problems(local, SCHEMA) == []

"""The sidecar <-> operator contract: each side reads exactly what the other writes, and a
body that breaks it is refused with one line naming what was wrong."""

from __future__ import annotations

import json

import pytest

from kubetune.metrics import wire


def test_the_sidecar_reads_back_the_environment_the_job_builder_renders() -> None:
    told = wire.SidecarEnv(
        collector_url="http://collector:8443",
        token="uid.mac",
        trial="demo-3",
        metrics=("accuracy", "loss"),
        format="regex",
        regex=r"(?P<name>\w+)=(?P<value>\S+)",
        final_flush_seconds=12.5,
    )
    env = told.render()
    downward = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in env if "valueFrom" in e}
    assert downward == {"KUBETUNE_NAMESPACE": "metadata.namespace", "KUBETUNE_POD": "metadata.name"}
    the_pod = {"metadata.namespace": "ns", "metadata.name": "demo-3-x7k2p"}
    as_the_pod_sees_it = {
        e["name"]: e["value"] if "value" in e else the_pod[downward[e["name"]]] for e in env
    }
    assert wire.SidecarEnv.parse(as_the_pod_sees_it) == wire.SidecarEnv(
        **{**told.__dict__, "namespace": "ns", "pod": "demo-3-x7k2p"}
    )


@pytest.mark.parametrize(
    ("job", "pod", "reports"),
    [("0", "0", True), ("0", "1", False), ("1", "0", False), ("2", "3", False)],
)
def test_in_a_jobset_only_the_first_pod_of_the_first_job_reports(
    job: str, pod: str, reports: bool
) -> None:
    told = wire.SidecarEnv(
        collector_url="http://c",
        token="t",
        trial="demo-1",
        metrics=("loss",),
        rank=tuple(wire.RANK_LABELS),
    )
    env = told.render()
    labels = {
        "metadata.labels['jobset.sigs.k8s.io/job-global-index']": job,
        "metadata.labels['batch.kubernetes.io/job-completion-index']": pod,
        "metadata.namespace": "ns",
        "metadata.name": "demo-1-abc",
    }
    seen = {
        e["name"]: e["value"] if "value" in e else labels[e["valueFrom"]["fieldRef"]["fieldPath"]]
        for e in env
    }
    parsed = wire.SidecarEnv.parse(seen)
    assert parsed.rank == tuple(wire.RANK_LABELS) and parsed.reporting is reports
    plain = wire.SidecarEnv.parse({**seen, **dict.fromkeys(wire.RANK_LABELS, "")})
    assert plain.reporting  # a label the pod lacks reads as "": a plain Job's pod is rank 0


def test_a_missing_variable_is_named() -> None:
    with pytest.raises(KeyError, match="KUBETUNE_TOKEN"):
        wire.SidecarEnv.parse({"KUBETUNE_COLLECTOR_URL": "http://c", "KUBETUNE_TRIAL": "t"})


def test_the_path_names_the_trial_and_nothing_else_is_taken_for_one() -> None:
    path = wire.render_path("team-a", "demo-3")
    assert path == "/v1/reports/team-a/demo-3"
    assert wire.parse_path(path) == ("team-a", "demo-3")
    for bad in (
        "/v1/reports",
        "/v1/reports/ns",
        "/v1/reports/ns/t/x",
        "/v2/reports/ns/t",
        "/v1/reports/NS/t",
        "/v1/reports/ns/%2e%2e%2fx",
        "/v1/reports/ns/",
    ):
        assert wire.parse_path(bad) is None, bad


def test_a_body_round_trips() -> None:
    raw = wire.render_body([{"seq": 1, "step": 2, "metrics": {"acc": 0.5}}], "bad line", True)
    body = wire.parse_body(raw)
    assert body == wire.Body((wire.Posted(1, 2, {"acc": 0.5}),), "bad line", True)
    assert wire.parse_body(b"") == wire.Body()
    with_pod = wire.parse_body(wire.render_body([], pod="demo-3-x7k2p"))
    assert with_pod.pod == "demo-3-x7k2p"


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("not json", "body is not JSON"),
        ([1, 2], "body: expected a JSON object, got list"),
        ({"reports": "abc"}, "reports: expected a list, got str"),
        ({"reports": [7]}, "reports[0]: expected an object, got int"),
        (
            {"reports": [{"step": "abc", "metrics": {"a": 1}}]},
            "reports[0].step: expected a non-negative integer",
        ),
        (
            {"reports": [{"seq": -1, "metrics": {"a": 1}}]},
            "reports[0].seq: expected a non-negative integer",
        ),
        ({"reports": [{"step": True, "metrics": {"a": 1}}]}, "reports[0].step"),
        ({"reports": [{"metrics": {}}]}, "reports[0].metrics: expected a non-empty object"),
        ({"reports": [{"metrics": [1]}]}, "reports[0].metrics: expected a non-empty object"),
        ({"reports": [{"metrics": {"a": 1}, "when": 3}]}, "reports[0]: unknown field 'when'"),
        ({"error": 5}, "error: expected a string, got int"),
        ({"final": "yes"}, "final: expected true or false"),
        ({"pod": 7}, "pod: expected a pod's name, got 7"),
        ({"pod": "../etc"}, "pod: expected a pod's name"),
    ],
)
def test_a_malformed_body_is_refused_in_one_line_naming_the_field(
    document: object, reason: str
) -> None:
    raw = document.encode() if isinstance(document, str) else json.dumps(document).encode()
    with pytest.raises(wire.BadBodyError) as refused:
        wire.parse_body(raw)
    assert str(refused.value).startswith(reason) and "\n" not in str(refused.value)


def test_a_value_that_is_not_a_number_is_the_trials_fault_not_a_malformed_body() -> None:
    body = wire.parse_body(json.dumps({"reports": [{"metrics": {"acc": "NaN"}}]}).encode())
    assert body.reports[0].metrics == {"acc": "NaN"}


@pytest.mark.parametrize(("pod", "reports"), [("0", True), ("1", False)])
def test_a_trainjob_node_learns_its_rank_from_its_completion_index_alone(
    pod: str, reports: bool
) -> None:
    """A TrainJob's initializer Jobs come before its `node` Job: the JobSet's Job index of
    the node Job is not 0, so only the completion index is read."""
    told = wire.SidecarEnv(
        collector_url="http://c",
        token="t",
        trial="demo-1",
        metrics=("loss",),
        rank=("KUBETUNE_RANK_POD",),
    )
    env = told.render()
    assert [e["name"] for e in env if e["name"].startswith("KUBETUNE_RANK")] == [
        "KUBETUNE_RANK_POD"
    ]
    seen = {e["name"]: e.get("value", "x") for e in env} | {"KUBETUNE_RANK_POD": pod}
    assert wire.SidecarEnv.parse(seen).reporting is reports

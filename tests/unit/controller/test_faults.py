"""An outage is told once per kind of failure, with how it is retried, and once when it is
over; kopf's per-attempt lines fold into it; a refusal is not an outage."""

from __future__ import annotations

import logging

import pytest
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError, NewConnectionError

from kubetune.controller.faults import API_SERVER, Faults, KopfRetries
from kubetune.controller.kube import ApiHealth, brief, is_outage


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def refused() -> MaxRetryError:
    why = "Failed to establish a new connection: [Errno 111] Connection refused"
    cause = NewConnectionError(None, why)  # type: ignore[arg-type]
    return MaxRetryError(None, "/apis/kubetune.io/v1alpha1/trials", cause)  # type: ignore[arg-type]


def test_a_kind_of_failure_is_said_once_with_its_retries_and_once_when_it_is_over(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    faults = Faults(logging.getLogger("test.faults"), clock)
    with caplog.at_level(logging.WARNING, "test.faults"):
        for _ in range(50):
            faults.failed("the API server", "connection refused", "passes back off")
        faults.failed("Prometheus at http://p:9090", "timed out", "every pull")
        clock.now += 31
        faults.worked("the API server")
        faults.worked("the API server")  # already over: nothing more
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "the API server failing: connection refused; retrying: passes back off (said once; "
        "a line follows when it works again)",
        "Prometheus at http://p:9090 failing: timed out; retrying: every pull (said once; a "
        "line follows when it works again)",
        "the API server back after 31 s (50 failed calls meanwhile; the first: connection refused)",
    ]
    assert faults.failing("Prometheus at http://p:9090") and not faults.failing("the API server")


def test_what_counts_as_an_outage() -> None:
    assert is_outage(refused()) and brief(refused()) == "connection refused"
    assert is_outage(ApiException(status=503, reason="Service Unavailable"))
    assert is_outage(ApiException(status=429, reason="Too Many Requests"))
    assert is_outage(TimeoutError("timed out")) and brief(TimeoutError("timed out")) == "timed out"
    assert not is_outage(ApiException(status=403, reason="Forbidden"))
    assert not is_outage(ApiException(status=422, reason="Unprocessable Entity"))
    assert not is_outage(KeyError("status"))  # a bug


def test_the_api_clients_health_starts_and_ends_the_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    faults = Faults(logging.getLogger("test.health"), Clock())
    health = ApiHealth(faults)
    with caplog.at_level(logging.WARNING, "test.health"):
        health.failed(ApiException(status=404, reason="Not Found"))  # an answer
        assert not faults.failing(API_SERVER)
        health.failed(refused())
        health.failed(refused())
        assert faults.failing(API_SERVER)
        health.failed(ApiException(status=409, reason="Conflict"))  # it answers again
    assert not faults.failing(API_SERVER)
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        f"{API_SERVER} failing",
        f"{API_SERVER} back after 0 s (2 failed calls meanwhile; the first",
    ]


def test_kopfs_attempt_lines_fold_into_the_outage_and_its_other_lines_pass(
    caplog: pytest.LogCaptureFixture,
) -> None:
    faults = Faults(logging.getLogger("test.kopf.faults"), Clock())
    kopf_log = logging.getLogger("test.kopf.watching")
    kopf_log.addFilter(KopfRetries(faults))
    with caplog.at_level(logging.WARNING):
        for attempt in range(1, 8):
            kopf_log.error(
                "Request attempt #%d/9 failed; will retry: GET https://127.0.0.1:16443/apis/"
                "batch/v1/jobs?watch=true -> ClientConnectorError(Cannot connect to host "
                "127.0.0.1:16443 ssl:default [Connect call failed ('127.0.0.1', 16443)])",
                attempt,
            )
        kopf_log.error("Request attempt #9/9 failed; escalating: GET ... -> boom")
    said = [(r.name, r.getMessage()[:40]) for r in caplog.records]
    assert said == [
        ("test.kopf.faults", f"{API_SERVER} failing: connection refused"[:40]),
        ("test.kopf.watching", "Request attempt #9/9 failed; escalating:"),
    ]

"""An ended trial's workload the API server did not delete is deleted again by the next pass:
the trial is finished by then, so nothing else would ever stop its pods."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from kubetune.controller.cache import TrialCache
from kubetune.controller.phases import TrialLocks, TrialPhases
from kubetune.controller.telemetry import Telemetry

JOBSET = ("jobset.x-k8s.io/v1alpha2", "jobsets")


class FakeKube:
    """Deletes that fail while `down`, and what was deleted."""

    def __init__(self) -> None:
        self.down = True
        self.deleted: list[tuple[str, str, str, str]] = []

    def delete_workload(self, namespace: str, name: str, api_version: str, plural: str) -> None:
        if self.down:
            raise ApiException(status=503, reason="Service Unavailable")
        self.deleted.append((namespace, name, api_version, plural))

    def said(self, error: BaseException) -> bool:
        return False


def phases(kube: FakeKube) -> TrialPhases:
    client: Any = kube
    studies: Any = object()
    pulls: Any = object()
    return TrialPhases(client, Telemetry(), TrialLocks(), TrialCache(client), studies, pulls)


def test_a_failed_delete_is_tried_again_by_the_next_pass_in_its_namespace() -> None:
    kube = FakeKube()
    room = phases(kube)
    with pytest.raises(ApiException):
        room._delete_workload("ns", "s-3", JOBSET)
    room.delete_leftovers("ns")  # still down: kept, and the pass is not held up
    room.delete_leftovers("other")  # another namespace's pass leaves it alone
    assert kube.deleted == []
    kube.down = False
    room.delete_leftovers("other")
    assert kube.deleted == []
    room.delete_leftovers("ns")
    assert kube.deleted == [("ns", "s-3", *JOBSET)]
    room.delete_leftovers("ns")  # done once: forgotten
    assert len(kube.deleted) == 1

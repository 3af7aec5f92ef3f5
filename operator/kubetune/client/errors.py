"""What the API server says, as Python exceptions a notebook user can read: the field and the
rule (the Study's CEL messages), never an HTTP body."""

from __future__ import annotations

import json
import re
from typing import Any

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError


class StudyError(Exception):
    """Base of the client's errors."""


class StudyRejectedError(StudyError, ValueError):
    """The API server refused the Study as invalid; `causes` holds (field, message) pairs, the
    first field also as `field`."""

    def __init__(self, message: str, causes: list[tuple[str, str]]) -> None:
        super().__init__(message)
        self.causes = causes
        self.field = causes[0][0] if causes else None


class StudyExistsError(StudyError):
    """A Study of that name is already in the namespace."""


class StudyNotFoundError(StudyError, LookupError):
    """No such Study (or Trial) in the namespace."""


class StudyFailedError(StudyError):
    """The Study ended Failed; `reason` is its `finishedBecause`, `status` its whole status."""

    def __init__(self, message: str, reason: str | None, status: dict[str, Any]) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


class ClusterUnreachableError(StudyError, ConnectionError):
    """The API server did not answer."""


def _status_body(error: ApiException) -> dict[str, Any]:
    try:
        body = json.loads(error.body or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


#: The API server's lead-in to a rule's message: `Invalid value: "object": `.
_LEAD_IN = re.compile(r'^Invalid value: (?:"[^"]*"|[^:]*): ')


def _cause_message(cause: dict[str, Any]) -> str:
    """A cause's message without the API server's lead-in: the rule's own words are what a
    user acts on."""
    return _LEAD_IN.sub("", str(cause.get("message") or cause.get("reason") or ""), count=1)


def translate(error: BaseException, what: str) -> BaseException:
    """The exception to raise for a failed call about `what` (e.g. "Study 'mnist'")."""
    if isinstance(error, HTTPError | OSError):
        return ClusterUnreachableError(f"cannot reach the Kubernetes API server: {error}")
    if not isinstance(error, ApiException):
        return error
    body = _status_body(error)
    message = str(body.get("message") or error.reason or "")
    if error.status in (400, 422):
        causes = [
            (str(c.get("field") or ""), _cause_message(c))
            for c in (body.get("details") or {}).get("causes") or []
        ]
        lines = [f"{field}: {text}" if field else text for field, text in causes] or [message]
        return StudyRejectedError(
            f"{what} was refused by the API server:\n  " + "\n  ".join(lines), causes
        )
    if error.status == 409:
        return StudyExistsError(f"{what} already exists; delete it first or pick another name")
    if error.status == 404:
        return StudyNotFoundError(f"{what} not found: {message}")
    if error.status in (401, 403):
        return PermissionError(f"{what}: the API server refused this identity: {message}")
    if error.status in (0, None, 429) or int(error.status) >= 500:
        return ClusterUnreachableError(f"the API server could not answer about {what}: {message}")
    return StudyError(f"{what}: HTTP {error.status}: {message}")

"""The sidecar <-> operator wire, written once for both ends.

Three contracts cross a process boundary, and each lives only here:
- the trial pod's layout: the file the trainer's output is teed into and the file its exit
  code appears in (the operator's Job builder mounts them, the sidecar reads them);
- the sidecar's environment (`SidecarEnv`): the Job builder renders it, the sidecar parses it;
- a report post: `POST /v1/reports/NAMESPACE/TRIAL`, `Authorization: Bearer TOKEN`, and a JSON
  body `{"reports": [{"seq", "step", "metrics"}], "error"?, "final"?, "pod"?}`. The trial is
  named in the path so that the collector checks the token before it reads a byte of the body;
  `parse_body` checks every type and says in one line what was wrong.

Standard library only: the sidecar imports this in every trial pod.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

OUTPUT_DIR = "/kubetune"
OUTPUT_FILE = f"{OUTPUT_DIR}/output.log"
#: Written (renamed into place) by the trainer's wrapper once all its output is in OUTPUT_FILE.
EXIT_CODE_FILE = f"{OUTPUT_DIR}/exit-code"
FINAL_FLUSH_SECONDS = 75.0  # an operator pod restart took 10-20 s on the local cluster
REPORTS_PATH = "/v1/reports"
#: The largest body the collector reads; the sidecar posts what it read in half a second.
MAX_BODY_BYTES = 1 << 20
#: Answers that no retry of the same post can change: the sidecar gives up on them at once.
PERMANENT_REFUSALS = (400, 401, 403, 404, 411, 413)


#: Each SidecarEnv field's variable.
ENV_NAMES = {
    "collector_url": "KUBETUNE_COLLECTOR_URL",
    "token": "KUBETUNE_TOKEN",
    "trial": "KUBETUNE_TRIAL",
    "metrics": "KUBETUNE_METRICS",
    "format": "KUBETUNE_FORMAT",
    "regex": "KUBETUNE_REGEX",
    "output": "KUBETUNE_OUTPUT",
    "exit_code": "KUBETUNE_EXIT_CODE",
    "final_flush_seconds": "KUBETUNE_FINAL_FLUSH_SECONDS",
    "namespace": "KUBETUNE_NAMESPACE",
    "pod": "KUBETUNE_POD",
    # A followed source: the trainer's variables of the same names say where it writes.
    "tensorboard_dir": "KUBETUNE_TENSORBOARD_DIR",
    "tags": "KUBETUNE_TENSORBOARD_TAGS",
    "metrics_file": "KUBETUNE_METRICS_FILE",
    "file_format": "KUBETUNE_METRICS_FILE_FORMAT",
}
#: In a multi-pod trial (a JobSet), each pod's rank, from the downward API: which Job of the
#: JobSet (its global index) and which pod of that Job (its completion index). Only the pod
#: where both are 0 reports; a pod without the labels (a plain Job's) is rank 0.
RANK_LABELS = {
    "KUBETUNE_RANK_JOB": "jobset.sigs.k8s.io/job-global-index",
    "KUBETUNE_RANK_POD": "batch.kubernetes.io/job-completion-index",
}


def rank_zero(labels: Mapping[str, str]) -> bool:
    """Whether a trial's pod with these labels is the one that reports (RANK_LABELS)."""
    return all(labels.get(label, "") in ("", "0") for label in RANK_LABELS.values())


@dataclass(frozen=True)
class SidecarEnv:
    """What the sidecar is told through its container's environment."""

    collector_url: str
    token: str
    trial: str
    metrics: tuple[str, ...]
    format: str = "kubetune"
    regex: str | None = None
    output: str = OUTPUT_FILE
    exit_code: str = EXIT_CODE_FILE
    final_flush_seconds: float = FINAL_FLUSH_SECONDS
    #: None: the pod's own namespace, through the downward API.
    namespace: str | None = None
    #: None: the pod's own name, through the downward API. Posts carry it, so the operator
    #: tells a retried attempt (a new pod, its sequence numbers from 1 again) from a replay.
    pod: str | None = None
    #: Set in pods of a multi-pod trial: the variables of RANK_LABELS the sidecar learns its
    #: pod's rank from (a TrainJob's nodes: the completion index alone).
    rank: tuple[str, ...] = ()
    #: Read back from those labels: whether this pod is the one that reports.
    reporting: bool = True
    #: Set to follow event files in this folder instead of the output (`spec.metrics.
    #: tensorboard`), with its `tags` (metric -> tag).
    tensorboard_dir: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    #: Set to follow this file instead of the output (`spec.metrics.file`), in `file_format`.
    metrics_file: str | None = None
    file_format: str = "text"

    def source(self) -> dict[str, Any]:
        """The `spec.metrics` these variables stand for, as a manifest writes it."""
        source: dict[str, Any] = {"format": self.format}
        if self.regex is not None:
            source["regex"] = self.regex
        if self.tensorboard_dir is not None:
            source["tensorboard"] = {"tags": dict(self.tags)}
        if self.metrics_file is not None:
            source["file"] = {"path": self.metrics_file, "format": self.file_format}
        return source

    def render(self) -> list[dict[str, Any]]:
        """The container's `env`. Metric names are identifiers (the API refuses others), so
        a comma separates them unambiguously."""
        values = {
            "collector_url": self.collector_url,
            "token": self.token,
            "trial": self.trial,
            "metrics": ",".join(self.metrics),
            "format": self.format,
            "regex": self.regex or "",
            "output": self.output,
            "exit_code": self.exit_code,
            "final_flush_seconds": f"{self.final_flush_seconds:g}",
        }
        if self.tensorboard_dir is not None:
            values["tensorboard_dir"] = self.tensorboard_dir
            values["tags"] = json.dumps(dict(self.tags), sort_keys=True)
        if self.metrics_file is not None:
            values["metrics_file"] = self.metrics_file
            values["file_format"] = self.file_format
        env: list[dict[str, Any]] = [{"name": ENV_NAMES[k], "value": v} for k, v in values.items()]
        source: dict[str, Any] = (
            {"value": self.namespace}
            if self.namespace is not None
            else {"valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}
        )
        env.append({"name": ENV_NAMES["namespace"], **source})
        pod: dict[str, Any] = (
            {"value": self.pod}
            if self.pod is not None
            else {"valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
        )
        env.append({"name": ENV_NAMES["pod"], **pod})
        env += [
            {
                "name": name,
                "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{RANK_LABELS[name]}']"}},
            }
            for name in self.rank
        ]
        return env

    @classmethod
    def parse(cls, env: Mapping[str, str]) -> SidecarEnv:
        """Read it back; a missing required variable raises KeyError naming it."""
        names = ENV_NAMES
        output = env.get(names["output"]) or OUTPUT_FILE
        return cls(
            collector_url=env[names["collector_url"]].rstrip("/"),
            token=env[names["token"]],
            trial=env[names["trial"]],
            namespace=env[names["namespace"]],
            pod=env.get(names["pod"]) or None,
            metrics=tuple(m for m in env.get(names["metrics"], "").split(",") if m),
            format=env.get(names["format"]) or "kubetune",
            regex=env.get(names["regex"]) or None,
            output=output,
            # beside the output file unless told: the wrapper writes both in one folder
            exit_code=env.get(names["exit_code"])
            or str(PurePosixPath(output).parent / "exit-code"),
            final_flush_seconds=float(env.get(names["final_flush_seconds"]) or FINAL_FLUSH_SECONDS),
            rank=tuple(name for name in RANK_LABELS if name in env),
            reporting=all(env.get(name, "") in ("", "0") for name in RANK_LABELS),
            tensorboard_dir=env.get(names["tensorboard_dir"]) or None,
            tags=json.loads(env.get(names["tags"]) or "{}"),
            metrics_file=env.get(names["metrics_file"]) or None,
            file_format=env.get(names["file_format"]) or "text",
        )


# ----- a report post --------------------------------------------------------------------------

_SEGMENT = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def render_path(namespace: str, trial: str) -> str:
    quote = urllib.parse.quote
    return f"{REPORTS_PATH}/{quote(namespace, safe='')}/{quote(trial, safe='')}"


def parse_path(path: str) -> tuple[str, str] | None:
    """(namespace, trial) of a report post's path, or None when it names no trial."""
    parts = path.split("?", 1)[0].split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != REPORTS_PATH:
        return None
    namespace, trial = (urllib.parse.unquote(p) for p in parts[3:])
    if not (_SEGMENT.match(namespace) and _SEGMENT.match(trial)):
        return None
    return namespace, trial


@dataclass(frozen=True)
class Posted:
    """One report as posted. Metric values stay as sent: a value that is not a finite
    number is the trial's fault (it fails, alone), not a malformed body."""

    seq: int | None
    step: int | None
    metrics: Mapping[str, object]


@dataclass(frozen=True)
class Body:
    reports: tuple[Posted, ...] = ()
    error: str | None = None
    final: bool = False
    #: The posting pod's name (None from sidecars older than the field).
    pod: str | None = None


class BadBodyError(ValueError):
    """A body that breaks the contract; its message is the one-line reason for the 400."""


def render_body(
    reports: Sequence[Mapping[str, Any]],
    error: str | None = None,
    final: bool = False,
    pod: str | None = None,
) -> bytes:
    body: dict[str, Any] = {"reports": list(reports), "final": final}
    if error is not None:
        body["error"] = error
    if pod is not None:
        body["pod"] = pod
    return json.dumps(body).encode()


def _whole(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadBodyError(f"{where}: expected a non-negative integer or null, got {value!r:.40}")
    return value


def _report(raw: object, where: str) -> Posted:
    if not isinstance(raw, dict):
        raise BadBodyError(f"{where}: expected an object, got {type(raw).__name__}")
    unknown = set(raw) - {"seq", "step", "metrics"}
    if unknown:
        raise BadBodyError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    metrics = raw.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise BadBodyError(f"{where}.metrics: expected a non-empty object of metric values")
    seq, step = _whole(raw.get("seq"), f"{where}.seq"), _whole(raw.get("step"), f"{where}.step")
    return Posted(seq, step, metrics)


def parse_body(raw: bytes) -> Body:
    """A post's body, every type checked; BadBodyError says what was wrong in one line."""
    try:
        document = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as error:
        raise BadBodyError(f"body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise BadBodyError(f"body: expected a JSON object, got {type(document).__name__}")
    reports = document.get("reports", [])
    if not isinstance(reports, list):
        raise BadBodyError(f"reports: expected a list, got {type(reports).__name__}")
    problem = document.get("error")
    if problem is not None and not isinstance(problem, str):
        raise BadBodyError(f"error: expected a string, got {type(problem).__name__}")
    final = document.get("final", False)
    if not isinstance(final, bool):
        raise BadBodyError(f"final: expected true or false, got {final!r:.40}")
    pod = document.get("pod")
    if pod is not None and not (isinstance(pod, str) and _SEGMENT.match(pod)):
        raise BadBodyError(f"pod: expected a pod's name, got {pod!r:.40}")
    parsed = tuple(_report(r, f"reports[{i}]") for i, r in enumerate(reports))
    return Body(parsed, problem, final, pod)

"""`spec.metrics`: where a trial's reports come from, and how they are read.

One source per Study: the trainer's output (the default; `format` says how a line reads),
a metrics file the trainer appends to (`file`), TensorBoard event files (`tensorboard`), or
Prometheus (`prometheus`, cluster only). Whichever it is, the shells turn what they read into
the same reports (step, metrics); `metrics/sources.py` builds the reader of each.

The file and the event files live where the trainer writes them: on a cluster, in a folder
shared with the metrics sidecar (`CLUSTER_TENSORBOARD_DIR`, the file's own folder); under
`kubetune run`, in the trial's own folder. Trainers find them through `KUBETUNE_METRICS_FILE`
and `KUBETUNE_TENSORBOARD_DIR` (or `${trial.metricsFile}`, `${trial.tensorboardDir}`), so the
same manifest works on both shells.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from kubetune.api.base import Model, cel
from kubetune.api.errors import FieldError
from kubetune.api.goals import METRIC_PATTERN

#: Where a cluster trial's output, exit code and (by default) reports live: an emptyDir the
#: trainer's wrapper and the sidecar share (metrics/wire.py's OUTPUT_DIR is the same path).
SHARED_DIR = "/kubetune"
CLUSTER_TENSORBOARD_DIR = f"{SHARED_DIR}/tensorboard"
DEFAULT_METRICS_FILE = f"{SHARED_DIR}/metrics.log"
#: Files of the shared folder that kubetune writes itself: a metrics file cannot be one.
RESERVED_FILES = (f"{SHARED_DIR}/output.log", f"{SHARED_DIR}/exit-code")


ABSOLUTE_PATH = r"^/([^/\x00]+/)*[^/\x00]+$"
NO_DOT_SEGMENTS = cel(
    "!self.matches('/[.][.]?(/|$)')", "must be an absolute path without . or .. segments"
)


def check_path(field: str, path: str) -> None:
    if any(part in (".", "..") for part in path.split("/")):
        raise FieldError(field, "must be an absolute path without . or .. segments")


class PrometheusSource(Model):
    url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s]+$",
        description="Prometheus server, e.g. http://prometheus.monitoring:9090. Default: the "
        "operator's (--prometheus-url; the chart's value prometheus.url).",
    )
    query: str = Field(
        min_length=1,
        description="PromQL returning the trial's metric; ${trial.name} is substituted. A "
        "`step` label on the samples gives each value its step.",
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "self.contains('${trial.name}')",
                    "must contain ${trial.name} so each trial reads its own series",
                )
            ]
        },
    )

    @model_validator(mode="after")
    def _check_query(self) -> PrometheusSource:
        if "${trial.name}" not in self.query:
            raise FieldError(
                "query", "must contain ${trial.name} so each trial reads its own series"
            )
        return self


class TensorBoardSource(Model):
    dir: str = Field(
        default=CLUSTER_TENSORBOARD_DIR,
        max_length=1024,
        pattern=ABSOLUTE_PATH,
        description="The folder the trainer writes its event files into, as its container "
        f"sees it on a cluster (default {CLUSTER_TENSORBOARD_DIR}); shared with the metrics "
        "sidecar (an emptyDir), so give it a folder of its own. Trainers find it in "
        "KUBETUNE_TENSORBOARD_DIR or ${trial.tensorboardDir}; under `kubetune run` each trial "
        "gets its own folder there.",
        json_schema_extra={
            "x-kubernetes-validations": [
                NO_DOT_SEGMENTS,
                cel(
                    f"self != '{SHARED_DIR}'",
                    f"is the folder kubetune itself writes to: use {CLUSTER_TENSORBOARD_DIR}",
                ),
            ]
        },
    )
    tags: dict[str, str] = Field(
        default_factory=dict,
        max_length=16,
        description="METRIC: TAG where a scalar's tag is not the metric's name (e.g. "
        "val_accuracy: epoch_accuracy). A tag written under a subfolder of the log folder "
        "may be named with it, as TensorBoard shows the run: validation/epoch_accuracy.",
        json_schema_extra={
            "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 256},
            "x-kubernetes-validations": [
                cel(
                    f"self.all(k, size(k) <= 63 && k.matches('{METRIC_PATTERN}'))",
                    "each key is a metric's name (letters, digits, _ - .), mapped to its tag",
                ),
            ],
        },
    )

    @model_validator(mode="after")
    def _check_tags(self) -> TensorBoardSource:
        check_path("dir", self.dir)
        if self.dir == SHARED_DIR:
            raise FieldError(
                "dir", f"is the folder kubetune itself writes to: use {CLUSTER_TENSORBOARD_DIR}"
            )
        for metric, tag in self.tags.items():
            if not re.match(METRIC_PATTERN, metric) or len(metric) > 63:
                raise FieldError(
                    f"tags.{metric}",
                    "each key is a metric's name (letters, digits, _ - .), mapped to its tag",
                )
            if not tag or len(tag) > 256:
                raise FieldError(f"tags.{metric}", "a tag is 1 to 256 characters")
        return self


class FileSource(Model):
    path: str = Field(
        default=DEFAULT_METRICS_FILE,
        max_length=1024,
        pattern=ABSOLUTE_PATH,
        description="Where the trainer appends its reports, as its container sees it on a "
        f"cluster (default {DEFAULT_METRICS_FILE}); the folder is shared with the metrics "
        "sidecar (an emptyDir), so give it a folder of its own. Trainers find it in "
        "KUBETUNE_METRICS_FILE or ${trial.metricsFile}; under `kubetune run` each trial "
        "gets its own file there.",
        json_schema_extra={
            "x-kubernetes-validations": [
                NO_DOT_SEGMENTS,
                cel(
                    "!(self in " + str(list(RESERVED_FILES)).replace("'", '"') + ")",
                    "is a file kubetune writes itself (the trainer's output, its exit code): "
                    f"pick another name, e.g. {DEFAULT_METRICS_FILE}",
                ),
            ]
        },
    )
    format: Literal["text", "json"] = Field(
        default="text",
        description="text: each line read as spec.metrics.format says (kubetune, keyvalue "
        'or regex); json: one JSON object per line, e.g. {"accuracy": 0.91, "step": 3}.',
    )

    @model_validator(mode="after")
    def _check_path(self) -> FileSource:
        check_path("path", self.path)
        if self.path in RESERVED_FILES:
            raise FieldError(
                "path",
                f"{self.path} is a file kubetune writes itself (the trainer's output, its "
                f"exit code): pick another name, e.g. {DEFAULT_METRICS_FILE}",
            )
        return self

    @property
    def folder(self) -> str:
        """The folder shared with the sidecar on a cluster (the file's own)."""
        return str(PurePosixPath(self.path).parent)


SourceKind = Literal["output", "file", "tensorboard", "prometheus"]
_ONE_SOURCE = "set at most one of file, tensorboard and prometheus: a study reads one source"


class MetricsSource(Model):
    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!has(self.regex) || (has(self.format) && self.format == 'regex')",
                    "regex is only used with format: regex",
                    ".regex",
                ),
                cel(
                    "self.format != 'regex' || has(self.regex)",
                    "format regex needs a regex with named groups (?P<name>...) and (?P<value>...)",
                    ".regex",
                ),
                cel(
                    "!has(self.regex) || (self.regex.contains('(?P<name>') && "
                    "self.regex.contains('(?P<value>'))",
                    "regex needs the named groups (?P<name>...) and (?P<value>...)",
                    ".regex",
                ),
                cel(
                    "(has(self.file) ? 1 : 0) + (has(self.tensorboard) ? 1 : 0) + "
                    "(has(self.prometheus) ? 1 : 0) <= 1",
                    _ONE_SOURCE,
                ),
            ]
        }
    )

    format: Literal["kubetune", "keyvalue", "regex"] = Field(
        default="kubetune",
        description="How a line reports (of the trainer's output, or of a text metrics file): "
        "kubetune (kubetune.report lines, default), keyvalue (name=value pairs; kubetune "
        "lines are read too) or regex.",
    )
    regex: str | None = Field(
        default=None,
        description="For format regex: a Python regex with named groups name and value "
        "(and optionally step), matched against each line.",
    )
    file: FileSource | None = Field(
        default=None,
        description="Read reports from a file the trainer appends to, instead of its output.",
    )
    tensorboard: TensorBoardSource | None = Field(
        default=None,
        description="Read scalars from the TensorBoard event files the trainer writes into "
        "KUBETUNE_TENSORBOARD_DIR (${trial.tensorboardDir}), instead of its output. "
        "An event's step is the report's step.",
    )
    prometheus: PrometheusSource | None = Field(
        default=None,
        description="Read metrics from Prometheus instead of the trial's output (cluster only).",
    )

    @model_validator(mode="after")
    def _check_regex(self) -> MetricsSource:
        chosen = [
            name
            for name, source in (
                ("file", self.file),
                ("tensorboard", self.tensorboard),
                ("prometheus", self.prometheus),
            )
            if source is not None
        ]
        if len(chosen) > 1:
            raise FieldError(chosen[1], _ONE_SOURCE)
        if self.format != "regex":
            if self.regex is not None:
                raise FieldError("regex", "only used with format: regex")
            return self
        if not self.regex:
            raise FieldError(
                "regex",
                "format regex needs a regex with named groups (?P<name>...) and (?P<value>...)",
            )
        try:
            groups = re.compile(self.regex).groupindex
        except re.error as error:
            raise FieldError("regex", f"not a valid regex: {error}") from None
        missing = {"name", "value"} - set(groups)
        if missing:
            raise FieldError(
                "regex", f"needs the named groups {sorted(missing)}, e.g. (?P<value>...)"
            )
        return self

    @property
    def kind(self) -> SourceKind:
        if self.file is not None:
            return "file"
        if self.tensorboard is not None:
            return "tensorboard"
        if self.prometheus is not None:
            return "prometheus"
        return "output"

    @property
    def folder(self) -> str | None:
        """The folder a cluster trial's trainer writes its reports into, shared with the
        sidecar; None when its output (or Prometheus) is read instead."""
        if self.file is not None:
            return self.file.folder
        if self.tensorboard is not None:
            return self.tensorboard.dir
        return None

    def describe(self) -> str:
        """Where a trial's reports were looked for, for a reason that says why none came."""
        if self.prometheus is not None:
            return "the Prometheus query returned no sample"
        if self.tensorboard is not None:
            return "no scalar of that tag in its TensorBoard event files"
        if self.file is not None:
            how = "JSON lines" if self.file.format == "json" else f"format {self.format!r}"
            return f"no line of its metrics file ({how}) reported it"
        return f"no line of its output reported it in format {self.format!r}"

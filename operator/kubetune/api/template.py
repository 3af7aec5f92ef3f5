"""The trial's Job template: a batch/v1 Job's metadata and spec, as in a CronJob's jobTemplate.

Only the fields kubetune reads are modelled (containers' command, args, env, image); every other
Job and Pod field passes through untouched, so users can write any Job they already know.
Placeholders `${trial.params.NAME}`, `${trial.name}`, `${trial.budget}`, `${study.name}`
are substituted per trial by `substitute`, the one implementation both shells use.

A conditional parameter the trial lacks (its `when` does not hold) has no value. A list item
that names it (a `--momentum=${trial.params.momentum}` argument, an env var whose value names
it) is left out of its list, so the trainer sees its own default; anywhere else it becomes
an empty string. Write such a flag as one item, `--flag=${...}`: a value on its own item would
leave the flag behind without it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field

from kubetune.api.base import Model, OpenModel

PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


class EnvVar(OpenModel):
    name: str
    value: str | None = None


class Container(OpenModel):
    name: str = Field(description="Container name; the first container is the trainer.")
    image: str = Field(description="Image the trial runs (ignored by `kubetune run`).")
    command: list[str] | None = None
    args: list[str] | None = None
    env: list[EnvVar] | None = None
    working_dir: str | None = Field(default=None, alias="workingDir")


class PodSpec(OpenModel):
    containers: list[Container] = Field(min_length=1)


class PodTemplate(OpenModel):
    spec: PodSpec


class JobSpec(OpenModel):
    template: PodTemplate
    # The two limits `kubetune run` applies itself, as the Job controller does on a cluster.
    active_deadline_seconds: int | None = Field(
        default=None,
        alias="activeDeadlineSeconds",
        ge=1,
        description="A trial running longer than this fails (its first start counts).",
    )
    backoff_limit: int | None = Field(
        default=None,
        alias="backoffLimit",
        ge=0,
        le=100,
        description="Reruns of a failed trainer before its trial fails (kubetune's default: 0).",
    )


class TemplateMetadata(Model):
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class TrialTemplate(Model):
    metadata: TemplateMetadata | None = Field(
        default=None, description="Labels and annotations for each trial's Job."
    )
    spec: JobSpec = Field(
        description="A batch/v1 JobSpec. The first container is the trainer; placeholders "
        "${trial.params.NAME}, ${trial.name}, ${trial.budget}, ${study.name} are substituted."
    )

    @property
    def trainer(self) -> Container:
        return self.spec.template.spec.containers[0]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def find_placeholders(template: TrialTemplate) -> list[str]:
    """Every `${...}` expression in the template's strings, in order of appearance. Raises
    ValueError for a `${` never closed within its string (so no message quotes a span that
    runs across fields)."""
    found: list[str] = []
    for text in _strings(template.model_dump(mode="json", by_alias=True, exclude_none=True)):
        found += PLACEHOLDER.findall(text)
        if "${" in PLACEHOLDER.sub("", text):
            raise ValueError(
                f"{text!r} opens a placeholder with ${{ and never closes it; "
                "write e.g. ${trial.params.NAME}"
            )
    return found


#: A placeholder's value: its text, or None for a parameter the trial lacks.
Values = Mapping[str, str | None]


def render_placeholders(text: str, values: Values) -> str:
    """Substitute `${key}`; unknown keys are left as written (validation refused them earlier)."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        return (values[key] or "") if key in values else match.group(0)

    return PLACEHOLDER.sub(value, text)


def substitute(node: Any, values: Values) -> Any:
    """`node` (a template, or any part of one) with placeholders substituted; list items that
    name a parameter the trial lacks are left out (the module's docstring says why)."""
    if isinstance(node, str):
        return render_placeholders(node, values)
    if isinstance(node, list):
        return [substitute(item, values) for item in node if not _names_lacking(item, values)]
    if isinstance(node, dict):
        return {key: substitute(item, values) for key, item in node.items()}
    return node


def _names_lacking(item: Any, values: Values) -> bool:
    if isinstance(item, dict):  # an env var: {name, value}
        item = item.get("value")
    if not isinstance(item, str):
        return False
    return any(key in values and values[key] is None for key in PLACEHOLDER.findall(item))


def placeholder_values(
    study: str,
    trial: str,
    params: Mapping[str, Any],
    budget: float | None,
    names: Sequence[str] = (),
) -> dict[str, str | None]:
    """The substitution table of one trial; numbers print the way a CLI flag expects them.
    `names`: every parameter of the study; those missing from `params` map to None."""
    values: dict[str, str | None] = {"study.name": study, "trial.name": trial}
    values["trial.budget"] = "" if budget is None else _render_number(budget)
    for name in names:
        values[f"trial.params.{name}"] = None
    for name, value in params.items():
        values[f"trial.params.{name}"] = (
            _render_number(value) if not isinstance(value, str) else value
        )
    return values


def _render_number(value: float | int) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)

"""Earlier local studies read for `spec.warmStart.studies`: their results files.

A study named in `warmStart.studies` is looked for where `kubetune run` writes a study of that
name next to this one: `<runs folder>/NAME/results.jsonl`, the runs folder being the parent of
this study's own (`kubetune-runs/` by default). A name with no results there is an error naming
the field and the path, before any trial runs: a typo must not pass for a cold start.
"""

from __future__ import annotations

from pathlib import Path

from kubetune.api.study import StudySpec
from kubetune.engine.history import TrialRecord
from kubetune.engine.warm_start import PriorSource, fit_prior
from kubetune.local.results import ResultsError, ResultsFile


def load_prior(
    spec: StudySpec, runs_dir: Path
) -> tuple[tuple[TrialRecord, ...], list[PriorSource]]:
    """The trials this study learns from before its own, and what each earlier study gave."""
    prior: list[TrialRecord] = []
    sources: list[PriorSource] = []
    for index, name in enumerate(spec.warm_start.studies):
        path = runs_dir / name / "results.jsonl"
        field = f"spec.warmStart.studies[{index}]"
        if not path.is_file():
            raise ValueError(
                f"{field}: no results of study {name!r} at {path}; run that study first (its "
                f"results go to {runs_dir / name}) or fix the name"
            )
        try:
            results = ResultsFile.load(path)
        except ResultsError as error:
            raise ValueError(f"{field}: {error}") from None
        used, source = fit_prior(spec, name, [row.record() for row in results.rows()])
        prior += used
        sources.append(source)
    return tuple(prior), sources

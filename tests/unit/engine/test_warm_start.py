"""Warm starts: hand-given trials run first outside the budget; earlier studies' trials that
fit this study's space are evidence for the samplers, the rest skipped and counted."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from kubetune.api import InvalidStudyError, load_study
from kubetune.api.trial import TrialState
from kubetune.engine import History, Report, TrialRecord, decide
from kubetune.engine.encoding import build_space
from kubetune.engine.samplers import SAMPLERS
from kubetune.engine.warm_start import fit_prior

from factories import manifest, study

GIVEN = [
    {"params": {"lr": 0.01, "layers": 2, "optimizer": "adam"}},
    {"params": {"lr": 0.05, "layers": 4, "optimizer": "sgd"}},
]


def finished(
    index: int, params: dict[str, Any], accuracy: float, name: str = "demo"
) -> TrialRecord:
    return TrialRecord(
        f"{name}-{index}",
        index,
        params,
        TrialState.SUCCEEDED,
        (Report(None, {"accuracy": accuracy}),),
        accuracy,
    )


def test_hand_given_trials_come_first_with_their_params() -> None:
    spec = study(warmStart={"trials": GIVEN}, budget={"maxTrials": 3, "parallelism": 3}).spec
    decision = decide(spec, History("demo"), 0.0)
    assert [n.index for n in decision.create] == [0, 1, 2]
    assert decision.create[0].params == GIVEN[0]["params"]
    assert decision.create[1].params == GIVEN[1]["params"]
    assert decision.create[2].params not in (GIVEN[0]["params"], GIVEN[1]["params"])


def test_hand_given_trials_count_toward_neither_max_trials_nor_max_failed_trials() -> None:
    spec = study(
        warmStart={"trials": GIVEN}, budget={"maxTrials": 2, "parallelism": 1, "maxFailedTrials": 0}
    ).spec
    failed = TrialRecord("demo-0", 0, GIVEN[0]["params"], TrialState.FAILED, reason="boom")
    ran = finished(1, GIVEN[1]["params"], 0.7)
    decision = decide(spec, History("demo", (failed, ran)), 0.0)
    assert decision.finish is None  # a warm trial's failure is not the study's
    assert [n.index for n in decision.create] == [2]
    two_more = (failed, ran, finished(2, {"lr": 0.001, "layers": 1, "optimizer": "adam"}, 0.6))
    decision = decide(spec, History("demo", two_more), 0.0)
    assert [n.index for n in decision.create] == [3]
    four = (*two_more, finished(3, {"lr": 0.002, "layers": 1, "optimizer": "adam"}, 0.65))
    decision = decide(spec, History("demo", four), 0.0)
    assert decision.finish is not None and decision.finish.reason == "MaxTrialsReached"


def test_a_rung_rule_sets_the_budget_parameter_of_a_hand_given_trial() -> None:
    spec = study(
        parameters=[
            {"name": "lr", "type": "float", "min": 0.0001, "max": 0.1, "log": True},
            {"name": "epochs", "type": "int", "min": 1, "max": 27},
        ],
        earlyStopping={
            "name": "asha",
            "settings": {"minBudget": 1, "maxBudget": 27, "budgetParameter": "epochs"},
        },
        warmStart={"trials": [{"params": {"lr": 0.01}}, {"params": {"lr": 0.02, "epochs": 3}}]},
    ).spec
    created = decide(spec, History("demo"), 0.0).create
    assert created[0].params == {"lr": 0.01, "epochs": 27}
    assert created[1].params == {"lr": 0.02, "epochs": 27}


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        (
            {"lr": 0.01, "layers": 2, "optimizer": "adam", "depth": 3},
            "params.depth",
            "not a parameter",
        ),
        ({"lr": 0.01, "optimizer": "adam"}, "params.layers", "missing"),
        ({"lr": 0.5, "layers": 2, "optimizer": "adam"}, "params.lr", "outside its range"),
        ({"lr": 0.01, "layers": 2, "optimizer": "rmsprop"}, "params.optimizer", "one of"),
        ({"lr": 0.01, "layers": 2.5, "optimizer": "adam"}, "params.layers", "whole numbers"),
    ],
)
def test_a_hand_given_trial_outside_the_space_is_refused_naming_the_parameter(
    params: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(InvalidStudyError) as raised:
        study(warmStart={"trials": [GIVEN[0], {"params": params}]})
    assert f"spec.warmStart.trials[1].{field}" in str(raised.value)
    assert says in str(raised.value)


def test_a_study_cannot_learn_from_itself() -> None:
    with pytest.raises(InvalidStudyError, match=r"spec.warmStart.studies\[1\]: a study cannot"):
        load_study(manifest(warmStart={"studies": ["other", "demo"]}))


def test_earlier_trials_that_fit_are_evidence_and_the_rest_are_counted() -> None:
    spec = study().spec
    earlier = [
        finished(0, {"lr": 0.01, "layers": 2, "optimizer": "adam"}, 0.8, "old"),
        finished(1, {"lr": 0.5, "layers": 2, "optimizer": "adam"}, 0.9, "old"),  # out of range
        finished(2, {"lr": 0.01, "layers": 2, "optimizer": "adam", "x": 1}, 0.9, "old"),
        TrialRecord("old-3", 3, {"lr": 0.01, "layers": 1, "optimizer": "sgd"}, TrialState.FAILED),
        TrialRecord(
            "old-4",
            4,
            {"lr": 0.02, "layers": 1, "optimizer": "sgd"},
            TrialState.SUCCEEDED,
            (Report(None, {"loss": 0.3}),),
        ),
    ]
    used, source = fit_prior(spec, "old", earlier)
    assert [t.name for t in used] == ["old/old-0"]
    assert (source.used, source.skipped) == (1, 3)  # a failed trial is neither
    assert source.why is not None and source.why.startswith("old-1: params.lr")
    assert "3 skipped (first: old-1: params.lr" in source.describe()
    _, alone = fit_prior(spec, "old", earlier[4:])
    assert alone.why == "old-4: did not report accuracy"


def _earlier(count: int) -> tuple[TrialRecord, ...]:
    spec = study().spec
    space = build_space(spec)
    rng = np.random.default_rng(5)
    rows = []
    for index in range(count):
        params = space.decode(list(rng.random(space.size)))
        score = 1.0 - abs(np.log10(float(params["lr"])) + 2.0)  # best near lr = 0.01
        rows.append(finished(index, dict(params), score, "old"))
    return fit_prior(spec, "old", rows)[0]


@pytest.mark.parametrize("name", ["bayesian", "tpe"])
def test_model_samplers_learn_from_earlier_studies_from_their_first_trial(name: str) -> None:
    spec = study(algorithm={"name": name, "seed": 2}).spec
    space = build_space(spec)
    sampler = SAMPLERS[name](spec, space, 2)
    cold = sampler.suggest(History("demo"), 1, np.random.default_rng(0))
    warm = sampler.suggest(History("demo", prior=_earlier(30)), 1, np.random.default_rng(0))
    assert cold != warm  # the first trial is no longer the seeded start-up point
    assert abs(np.log10(float(warm[0]["lr"])) + 2.0) < 1.0  # drawn towards the earlier best


def test_earlier_trials_are_never_this_studys_best_nor_its_budget() -> None:
    spec = study(budget={"maxTrials": 2, "parallelism": 2}).spec
    decision = decide(spec, History("demo", prior=_earlier(10)), 0.0)
    assert decision.best is None
    assert [n.index for n in decision.create] == [0, 1]

"""`algorithm: auto`, the default: what it picks for a space and a budget, and why; its
suggestions are exactly the picked sampler's; a Study that names one, or gives bayesian's
settings without a name (written when bayesian was the default), keeps its meaning."""

from __future__ import annotations

from typing import Any

from kubetune.api import load_study
from kubetune.controller.planning import plan_status
from kubetune.engine import History, TrialRecord, decide
from kubetune.engine.samplers.auto import choose

from factories import manifest, study, trial

FLOATS = [{"name": f"x{i}", "type": "float", "min": 0.0, "max": 1.0} for i in range(25)]
KINDS = [
    {"name": "optimizer", "type": "categorical", "values": ["adam", "sgd", "rmsprop"]},
    {"name": "norm", "type": "categorical", "values": ["batch", "layer"]},
]


def auto(**spec: Any) -> Any:
    document = manifest(**spec)
    del document["spec"]["algorithm"]  # nothing named: the default
    return load_study(document)


def test_the_default_is_auto_and_picks_bayesian_for_a_small_space_and_budget() -> None:
    chosen = auto(budget={"maxTrials": 60, "parallelism": 2})
    assert chosen.spec.algorithm.name == "auto"
    picked = choose(chosen.spec)
    assert picked.name == "bayesian"
    assert picked.reason.startswith("auto: 3 parameters and budget.maxTrials 60")


def test_a_small_all_categorical_space_is_a_grid_each_combination_once() -> None:
    picked = choose(auto(parameters=KINDS, budget={"maxTrials": 6}).spec)
    assert picked.name == "grid" and "all 6 combinations" in picked.reason
    # more combinations than trials: a model picks which to try
    assert choose(auto(parameters=KINDS, budget={"maxTrials": 5}).spec).name == "bayesian"


def test_many_trials_or_many_parameters_go_to_tpe_saying_which() -> None:
    big = choose(auto(budget={"maxTrials": 5000, "parallelism": 50}).spec)
    assert big.name == "tpe" and "budget.maxTrials 5000 is past 2,000" in big.reason
    wide = choose(auto(parameters=FLOATS, budget={"maxTrials": 200}).spec)
    assert wide.name == "tpe" and "25 parameters, past 20" in wide.reason


def test_a_named_sampler_is_kept_and_bayesian_settings_without_a_name_keep_bayesian() -> None:
    named = choose(study(algorithm={"name": "random", "seed": 1}).spec)
    assert (named.name, named.reason) == ("random", "named in spec.algorithm.name")
    document = manifest(budget={"maxTrials": 5000})
    document["spec"]["algorithm"] = {"settings": {"nInitialPoints": 4}}
    assert choose(load_study(document).spec).name == "bayesian"


def test_auto_suggests_exactly_what_the_sampler_it_picked_would() -> None:
    for budget in ({"maxTrials": 40, "parallelism": 3}, {"maxTrials": 3000, "parallelism": 3}):
        by_auto = auto(budget=budget)
        picked = choose(by_auto.spec).name
        named = manifest(budget=budget)
        named["spec"]["algorithm"] = {"name": picked}
        by_name = load_study(named)
        records: list[TrialRecord] = []
        for _ in range(6):  # past the start-up points
            history = History("demo", tuple(records), 0.0)
            ours = decide(by_auto.spec, history, 0.0).create
            theirs = decide(by_name.spec, history, 0.0).create
            assert [dict(n.params) for n in ours] == [dict(n.params) for n in theirs]
            for new in ours:
                loss = float(new.params["lr"]) + 0.1 * float(new.params["layers"])
                records.append(trial(new.index, dict(new.params), objective=-loss))


def test_the_study_status_says_what_auto_picked_and_why() -> None:
    chosen = auto(budget={"maxTrials": 10})
    obj = {"metadata": {"name": "demo", "namespace": "ns", "uid": "u", "generation": 1}}
    history = History("demo", (), 0.0)
    status = plan_status(obj, chosen, history, decide(chosen.spec, history, 0.0), 0.0).status
    assert status["algorithm"]["name"] == "bayesian"
    assert status["algorithm"]["reason"].startswith("auto: 3 parameters")

"""`decide(spec, history, now)`: the one door into the engine.

The study state machine: from the spec and every trial observed so far, which trials to
create (within parallelism and maxTrials), which to stop early and why, whether the study is
over and why, and the best trial. Pure: the caller supplies the clock; randomness comes from
the study seed and the next trial's index, so the same inputs always give the same decision.
"""

from __future__ import annotations

import zlib

import numpy as np

from kubetune.api.study import StudySpec
from kubetune.engine.decision import Best, Decision, Finish, NewTrial
from kubetune.engine.encoding import Params, build_space
from kubetune.engine.history import History, TrialState
from kubetune.engine.samplers import SAMPLERS
from kubetune.engine.stopping import STOPPING_RULES


def study_seed(spec: StudySpec, study: str) -> int:
    """The spec's seed, or one derived from the study name (stable across runs and restarts)."""
    if spec.algorithm.seed is not None:
        return spec.algorithm.seed
    return zlib.crc32(study.encode())


def trial_name(study: str, index: int) -> str:
    return f"{study}-{index}"


def find_best(spec: StudySpec, history: History) -> Best | None:
    maximize = spec.objective.goal == "maximize"
    best: Best | None = None
    for trial in history.by_state(TrialState.SUCCEEDED):
        if trial.objective is None:
            continue
        better = best is None or (
            trial.objective > best.objective if maximize else trial.objective < best.objective
        )
        if better:
            best = Best(trial=trial.name, params=dict(trial.params), objective=trial.objective)
    return best


def counted(history: History) -> int:
    """Trials that use up the maxTrials budget: all but those killed by the study itself."""
    return sum(1 for t in history.trials if t.state != TrialState.KILLED)


def _early_finish(
    spec: StudySpec, history: History, best: Best | None, now: float
) -> Finish | None:
    """Reasons to end the study at once, killing whatever still runs."""
    target = spec.objective.target
    if best is not None and target is not None:
        reached = (
            best.objective >= target
            if spec.objective.goal == "maximize"
            else (best.objective <= target)
        )
        if reached:
            return Finish(
                "TargetReached",
                True,
                f"{best.trial} reached {spec.objective.metric} {best.objective:.6g} "
                f"(target {target:g})",
            )
    failed = len(history.by_state(TrialState.FAILED))
    if failed > spec.budget.max_failed_trials:
        return Finish(
            "TooManyFailures",
            False,
            f"{failed} trials failed, more than budget.maxFailedTrials "
            f"({spec.budget.max_failed_trials})",
        )
    timeout = spec.budget.timeout_seconds
    if (
        timeout is not None
        and history.started_at is not None
        and now - history.started_at >= timeout
    ):
        return Finish(
            "Timeout", best is not None, f"the study ran for budget.timeout ({spec.budget.timeout})"
        )
    return None


def _final_finish(reason: str, message: str, best: Best | None) -> Finish:
    if best is None:
        return Finish(reason, False, message + "; no trial succeeded")
    return Finish(reason, True, message)


def decide(spec: StudySpec, history: History, now: float) -> Decision:
    best = find_best(spec, history)
    active = history.active
    finish = _early_finish(spec, history, best, now)
    if finish is not None:
        return Decision(kill=tuple(t.name for t in active), finish=finish, best=best)

    stops = tuple(STOPPING_RULES[spec.early_stopping.name](spec).decide(history))
    left = spec.budget.max_trials - counted(history)
    slots = spec.budget.parallelism - (len(active) - len(stops))
    wanted = max(0, min(left, slots))
    space = build_space(spec)
    seed = study_seed(spec, history.study)
    suggestions: list[Params] = []
    if wanted:
        sampler = SAMPLERS[spec.algorithm.name](spec, space, seed)
        rng = np.random.default_rng([seed, history.next_trial_index])
        suggestions = [dict(p) for p in sampler.suggest(history, wanted, rng)]
    start = history.next_trial_index
    create = tuple(
        NewTrial(trial_name(history.study, start + i), start + i, params, spec.max_budget)
        for i, params in enumerate(suggestions)
    )
    if not active and not create:
        if left <= 0:
            finish = _final_finish(
                "MaxTrialsReached",
                f"all {spec.budget.max_trials} trials (budget.maxTrials) ran",
                best,
            )
        else:
            finish = _final_finish("GridExhausted", "every point of the grid was tried", best)
    return Decision(
        create=create,
        stop=stops,
        finish=finish,
        best=best,
        next_suggestions=tuple(n.params for n in create),
    )

"""`decide(spec, history, now)`: the one door into the engine.

The study state machine: from the spec and every trial observed so far, which trials to
create (within parallelism and maxTrials), which to stop early and why, whether the study is
over and why, and the best trial. Pure: the caller supplies the clock; randomness comes from
the study seed and the next trial's index, so the same inputs always give the same decision.
"""

from __future__ import annotations

import zlib
from dataclasses import replace

import numpy as np

from kubetune.api.study import StudySpec
from kubetune.engine.decision import Best, Decision, Finish, FrontMember, NewTrial
from kubetune.engine.encoding import Params, Space, build_space
from kubetune.engine.history import History, TrialRecord, TrialState
from kubetune.engine.pareto import crowding
from kubetune.engine.pbt import PbtSampler, reachable_checkpoints, unreachable_checkpoints
from kubetune.engine.samplers import SAMPLERS
from kubetune.engine.standing import standing
from kubetune.engine.stopping import STOPPING_RULES


def study_seed(spec: StudySpec, study: str) -> int:
    """The spec's seed, or one derived from the study name (stable across runs and restarts)."""
    if spec.algorithm.seed is not None:
        return spec.algorithm.seed
    return zlib.crc32(study.encode())


def trial_name(study: str, index: int) -> str:
    return f"{study}-{index}"


#: Members of the Pareto front kept in a Study's status and a results summary.
FRONT_LIMIT = 50


def feasible_results(
    spec: StudySpec, history: History
) -> list[tuple[TrialRecord, dict[str, float]]]:
    """Succeeded trials that reported every objective and broke no constraint, in trial order."""
    return sorted(standing(spec, history).feasible, key=lambda found: found[0].index)


def find_best(spec: StudySpec, history: History) -> Best | None:
    """The best feasible trial by the first objective (the only one, unless several are set:
    then it is the front's member best on the first objective, for one-number views); of
    equal ones, the first."""
    best = standing(spec, history).best
    if best is None:
        return None
    trial, value = best
    return Best(trial=trial.name, params=dict(trial.params), objective=value)


def find_front(spec: StudySpec, history: History, limit: int = FRONT_LIMIT) -> list[FrontMember]:
    """The feasible trials nothing feasible dominates, in trial order; past `limit`, the
    most crowded are dropped one at a time (the ends of the front always stay)."""
    found = standing(spec, history)
    members = sorted(found.front, key=lambda member: member[0].index)
    if len(members) > limit:
        losses = np.array([member[2] for member in members])
        kept = list(range(len(members)))
        while len(kept) > limit:
            kept.pop(int(np.argmin(crowding(losses[kept]))))
        members = [members[i] for i in kept]
    metrics = found.goals.metrics
    return [
        FrontMember(
            trial=trial.name,
            params=dict(trial.params),
            objectives={m: values[m] for m in metrics},
        )
        for trial, values, _ in members
    ]


def _target_reached(spec: StudySpec, history: History) -> Finish | None:
    """With targets set: the first feasible trial that reaches every target set (each metric
    >= its target when maximised, <= when minimised; objectives without one are free)."""
    targets = [o for o in spec.goals if o.target is not None]
    if not targets:
        return None
    reached = standing(spec, history).reached
    if reached is None:
        return None
    trial, values = reached
    said = ", ".join(f"{o.metric} {values[o.metric]:.6g} (target {o.target:g})" for o in targets)
    return Finish("TargetReached", True, f"{trial.name} reached {said}")


def _given_trials(spec: StudySpec, history: History, *states: TrialState) -> int:
    """How many of the hand-given warm-start trials (the first indices) are in `states`:
    they are the first trials in index order, so only those need reading."""
    first = len(spec.warm_start.trials)
    return sum(1 for t in history.trials[:first] if t.index < first and t.state in states)


def counted(spec: StudySpec, history: History) -> int:
    """Trials that use up the maxTrials budget: all but those killed by the study itself and
    the hand-given warm-start trials (the first indices), which count toward nothing."""
    kept = [s for s in TrialState if s != TrialState.KILLED]
    return (
        len(history.trials) - history.count(TrialState.KILLED) - _given_trials(spec, history, *kept)
    )


def _warm_trials(spec: StudySpec, history: History, fixed: Params, slots: int) -> list[Params]:
    """The hand-given trials not yet created, in order, as many as there are slots: trial i
    takes `warmStart.trials[i]` (with a rung rule's budgetParameter as the rule sets it)."""
    given = spec.warm_start.trials
    start = history.next_trial_index
    return [{**given[i].params, **fixed} for i in range(start, min(len(given), start + slots))]


def _early_finish(
    spec: StudySpec, history: History, best: Best | None, now: float
) -> Finish | None:
    """Reasons to end the study at once, killing whatever still runs."""
    reached = _target_reached(spec, history)
    if reached is not None:
        return reached
    failed = history.count(TrialState.FAILED) - _given_trials(spec, history, TrialState.FAILED)
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


def _with_pending(history: History, params: list[Params], start: int) -> History:
    """The history as a sampler must see it after this decision's warm-start trials: running,
    so its picks spread away from them, and numbered past them."""
    if not params:
        return history
    pending = tuple(
        TrialRecord(trial_name(history.study, start + i), start + i, p, TrialState.PENDING)
        for i, p in enumerate(params)
    )
    tally = history.tally.with_pending(pending) if history.tally is not None else None
    return replace(
        history, trials=history.trials + pending, next_index=start + len(params), tally=tally
    )


def decide(spec: StudySpec, history: History, now: float) -> Decision:
    best = find_best(spec, history)
    front = tuple(find_front(spec, history)) if spec.multi_objective else ()
    active = history.active
    finish = _early_finish(spec, history, best, now)
    if finish is not None:
        return Decision(kill=tuple(t.name for t in active), finish=finish, best=best, front=front)

    stops = tuple(STOPPING_RULES[spec.early_stopping.name](spec).decide(history))
    left = spec.budget.max_trials - counted(spec, history)
    slots = max(0, spec.budget.parallelism - (len(active) - len(stops)))
    space = build_space(spec)
    start = history.next_trial_index
    suggestions = _warm_trials(spec, history, dict(space.fixed), slots)
    wanted = max(0, min(left, slots - len(suggestions)))
    seed = study_seed(spec, history.study)
    if spec.algorithm.segmented:
        create = _segments(spec, history, space, seed, wanted, best)
    else:
        if wanted:
            asked = _with_pending(history, suggestions, start)
            sampler = SAMPLERS[spec.algorithm.name](spec, space, seed)
            rng = np.random.default_rng([seed, asked.next_trial_index])
            suggestions += [dict(p) for p in sampler.suggest(asked, wanted, rng)]
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
    drop = (
        tuple(unreachable_checkpoints(history, keep=[best.trial] if best else []))
        if spec.algorithm.segmented
        else ()
    )
    return Decision(
        create=create,
        stop=stops,
        finish=finish,
        best=best,
        front=front,
        next_suggestions=tuple(n.params for n in create),
        drop_checkpoints=drop,
    )


def _segments(
    spec: StudySpec, history: History, space: Space, seed: int, wanted: int, best: Best | None
) -> tuple[NewTrial, ...]:
    """pbt's trials: each a segment of a member's line, its budget the step it ends at."""
    if not wanted:
        return ()
    in_use = reachable_checkpoints(history, keep=[best.trial] if best else [])
    sampler = SAMPLERS[spec.algorithm.name](spec, space, seed)
    assert isinstance(sampler, PbtSampler)
    start = history.next_trial_index
    rng = np.random.default_rng([seed, start])
    return tuple(
        NewTrial(
            trial_name(history.study, start + i),
            start + i,
            dict(segment.params),
            float(segment.end_step),
            segment.lineage,
            tuple(sorted(in_use)),  # holds every parent: parents are members' last good
        )
        for i, segment in enumerate(sampler.segments(history, wanted, rng))
    )

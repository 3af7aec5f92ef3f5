"""`asha`: asynchronous successive halving in its stopping form.

Every trial runs with the full budget; at each rung (minBudget * eta^k < maxBudget) a trial
continues only if its best value by the rung is in the top 1/eta of the trials that reached
that rung before it (lower index) plus itself, at least one always passing. Comparing with
earlier trials only keeps the rule stateless and the first trials from being judged alone.
A trial is judged at the highest rung it has reached.

Several objectives (and constraints): at a rung, each trial is the vector of its best value
of each objective by the rung; the trials there are sorted into Pareto fronts (those outside a
constraint's bound by the rung sorted likewise among themselves, after every one inside), and
ranked by front, then by crowding (the lonelier first, as NSGA-II keeps them). A trial
continues if it is in the top 1/eta of that ranking, or if it is on the rung's first front: a
rule that keeps every member of that front never cuts the final front's trials for being
crowded.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

import numpy as np

from kubetune.api.settings import RungSettings
from kubetune.api.study import StudySpec
from kubetune.engine.decision import StopDecision
from kubetune.engine.history import History, TrialRecord, TrialState
from kubetune.engine.objectives import Goals, values_by
from kubetune.engine.pareto import crowding, nondominated_ranks
from kubetune.engine.stopping.base import Direction, directions
from kubetune.engine.stopping.book import (
    Column,
    Group,
    active_trials,
    book_key,
    curves,
    keys_by,
    kth,
    step_book,
    value_of,
)


def rungs(min_budget: float, max_budget: float, eta: int) -> list[int]:
    """Rung steps below the full budget: ceil(min * eta^k) < max."""
    steps: list[int] = []
    budget = min_budget
    while budget < max_budget - 1e-9:
        step = math.ceil(budget - 1e-9)
        if not steps or step > steps[-1]:
            steps.append(step)
        budget *= eta
    return steps


class RungJudge:
    """Successive halving over a fixed set of rungs and a chosen group of trials."""

    def __init__(
        self,
        direction: Direction,
        settings: RungSettings,
        rule: str,
        goals: Goals | None = None,
        others: list[Direction] | None = None,
    ) -> None:
        """`goals` and `others` (the directions of every objective): given when the study has
        several objectives or constraints, which the Pareto ranking then judges."""
        self.direction = direction
        self.settings = settings
        self.rule = rule
        self.goals = goals
        self.all_directions = others or [direction]

    def judge_all(
        self, history: History, plan: Callable[[TrialRecord], tuple[list[int], Group | None]]
    ) -> list[StopDecision]:
        """A verdict for each running trial; `plan(trial)`: its rungs, and the group of trials
        it is compared with (None: every trial; a bracket for hyperband)."""
        if self.goals is not None:
            return self._judge_all_pareto(history, plan, self.goals)
        direction = self.direction
        book = step_book(history, book_key([direction]), [direction])
        active = [(t, curves(t, [direction])) for t in active_trials(history)]
        stops = []
        for trial in history.by_state(TrialState.RUNNING):
            steps, group = plan(trial)
            rung = self._rung(trial, steps)
            if rung is None:
                continue
            own = keys_by(curves(trial, [direction]), rung)
            if own is None:
                continue
            # Its peers: the earlier trials of its group (finished ones from the book, the
            # few active ones read here) and itself.
            column = book.columns(rung, group)[0]
            newer = column.from_index(trial.index)
            added = [own[0]] + [
                keys[0]
                for peer, found in active
                if peer.index < trial.index
                and (group is None or group.holds(peer.index))
                and (keys := keys_by(found, rung)) is not None
            ]
            stop = self._cut(trial, rung, own[0], column, newer, added)
            if stop is not None:
                stops.append(stop)
        return stops

    def _cut(
        self,
        trial: TrialRecord,
        rung: int,
        own: float,
        column: Column,
        newer: list[float],
        added: list[float],
    ) -> StopDecision | None:
        count = len(column) - len(newer) + len(added)
        if count < self.settings.min_trials:
            return None
        eta = self.settings.reduction_factor
        keep = max(1, count // eta)
        cutoff_key = kth(column, newer, added, keep)
        if own <= cutoff_key:
            return None
        value, cutoff = value_of(own, self.direction), value_of(cutoff_key, self.direction)
        return StopDecision(
            trial=trial.name,
            step=rung,
            value=value,
            rule=self.rule,
            threshold=cutoff,
            reason=f"{self.direction.metric} {value:.6g} at rung {rung} is not in the top "
            f"1/{eta} ({keep} of {count}) of trials at that rung; cut-off {cutoff:.6g}",
        )

    def _judge_all_pareto(
        self,
        history: History,
        plan: Callable[[TrialRecord], tuple[list[int], Group | None]],
        goals: Goals,
    ) -> list[StopDecision]:
        """The finished trials' vectors at a rung come from a `RowBook` (their reports read
        once); the ranking itself is redone at each verdict, over every peer."""
        book = _row_book(history, self)
        active = active_trials(history)
        stops = []
        for trial in history.by_state(TrialState.RUNNING):
            steps, group = plan(trial)
            rung = self._rung(trial, steps)
            if rung is None:
                continue
            own, own_outside = self.vector(trial, rung, goals)
            if not len(own):
                continue
            finished = book.at(rung)
            before = finished[: bisect.bisect_left(finished, trial.index, key=lambda r: r[0])]
            rows = [r for r in before if group is None or group.holds(r[0])]
            for peer in active:
                if peer.index < trial.index and (group is None or group.holds(peer.index)):
                    losses, outside = self.vector(peer, rung, goals)
                    if len(losses):
                        rows.append((peer.index, losses, outside))
            rows.sort(key=lambda row: row[0])  # peers in index order, as a full count has them
            stop = self._judge_pareto(trial, rung, goals, (own, own_outside), rows)
            if stop is not None:
                stops.append(stop)
        return stops

    def vector(self, trial: TrialRecord, rung: int, goals: Goals) -> tuple[np.ndarray, float]:
        """Its losses by the rung (None when an objective has not reached it) and how far
        outside its constraints its latest values by the rung are."""
        values = [d.best_by(trial, rung) for d in self.all_directions]
        if any(v is None for v in values):
            return np.array([]), 0.0
        losses = goals.signs * np.array(values, dtype=float)
        # A constraint metric not reported by the rung yet counts as kept: only what a trial
        # has shown can count against it.
        standing = values_by(trial, tuple(c.metric for c in goals.constraints), rung)
        outside = sum(
            v.by / max(abs(v.limit), 1e-12)
            for v in goals.violations(standing)
            if v.metric in standing
        )
        return losses, outside

    def _rung(self, trial: TrialRecord, steps: list[int]) -> int | None:
        """The highest rung the trial has reached, where it is judged; None before the first."""
        series = trial.series(self.direction.metric)
        reached = [r for r in steps if series and series[-1][0] >= r]
        return reached[-1] if reached else None

    def _judge_pareto(
        self,
        trial: TrialRecord,
        rung: int,
        goals: Goals,
        mine: tuple[np.ndarray, float],
        peers: list[tuple[int, np.ndarray, float]],
    ) -> StopDecision | None:
        """`peers`: (index, losses, outside) of the earlier trials of its group, in index
        order."""
        own = mine[0]
        rows, outside = [own], [mine[1]]
        for _, losses, peer_outside in peers:
            rows.append(losses)
            outside.append(peer_outside)
        if len(rows) < self.settings.min_trials:
            return None
        matrix, broken = np.array(rows), np.array(outside)
        # Feasible trials are sorted into fronts among themselves, then those outside a
        # bound by the rung among themselves, after them. Not by how far outside: a metric
        # that improves with training (a loss under a max) is outside for every trial at the
        # first rung, where the objectives must still decide.
        feasible = broken == 0
        ranks = np.zeros(len(rows), dtype=int)
        if feasible.any():
            ranks[feasible] = nondominated_ranks(matrix[feasible])
        if (~feasible).any():
            first = int(ranks[feasible].max()) + 1 if feasible.any() else 0
            ranks[~feasible] = first + nondominated_ranks(matrix[~feasible])
        lonely = np.zeros(len(rows))
        for rank in np.unique(ranks):
            members = ranks == rank
            lonely[members] = crowding(matrix[members])
        order = list(np.lexsort((-lonely, ranks)))
        eta = self.settings.reduction_factor
        keep = max(1, len(rows) // eta)
        position = order.index(0)
        if position < keep or ranks[0] == 0:
            return None
        cut = float(ranks[order[keep - 1]])
        values = ", ".join(
            f"{d.metric} {v:.6g}"
            for d, v in zip(self.all_directions, goals.signs * own, strict=True)
        )
        why = f"is Pareto rank {int(ranks[0])}"
        if broken[0] > 0:
            why = f"breaks a constraint (rank {int(ranks[0])}, after every trial keeping it)"
        return StopDecision(
            trial=trial.name,
            step=rung,
            value=float(goals.signs[0] * own[0]),
            rule=self.rule,
            threshold=cut,
            reason=f"at rung {rung} ({values}) it {why} among {len(rows)} trials at that "
            f"rung, not in the top 1/{eta} ({keep}) by Pareto rank and crowding nor on the "
            f"rung's first front; cut-off rank {cut:g}",
        )


def rung_judge(spec: StudySpec, settings: RungSettings, rule: str) -> RungJudge:
    """The judge for this study: by the one objective, or by Pareto rank when it has several
    objectives or any constraint."""
    every = directions(spec)
    if len(every) == 1 and not spec.constraints:
        return RungJudge(every[0], settings, rule)
    return RungJudge(every[0], settings, rule, Goals(spec), every)


class AshaRule:
    def __init__(self, judge: RungJudge, settings: RungSettings) -> None:
        self.judge = judge
        self.steps = rungs(settings.min_budget, settings.max_budget, settings.reduction_factor)

    def decide(self, history: History) -> list[StopDecision]:
        return self.judge.judge_all(history, lambda trial: (self.steps, None))


def build(spec: StudySpec) -> AshaRule:
    settings = spec.early_stopping.settings_as(RungSettings)
    return AshaRule(rung_judge(spec, settings, "asha"), settings)


class RowBook:
    """A fold over finished trials (`ledger.Fold`) for the Pareto form: each finished trial's
    vector at each rung asked about (its losses by the rung and how far outside its
    constraints), read from its reports once, kept in index order."""

    def __init__(self, judge: RungJudge, goals: Goals) -> None:
        self.judge = judge
        self.goals = goals
        self.records: list[TrialRecord] = []
        self._rows: dict[int, list[tuple[int, np.ndarray, float]]] = {}

    def add(self, record: TrialRecord) -> None:
        if not record.reports:
            return
        self.records.append(record)
        for rung, rows in self._rows.items():
            self._place(rows, rung, record)

    def at(self, rung: int) -> list[tuple[int, np.ndarray, float]]:
        rows = self._rows.get(rung)
        if rows is None:
            rows = self._rows[rung] = []
            for record in self.records:
                self._place(rows, rung, record)
        return rows

    def _place(
        self, rows: list[tuple[int, np.ndarray, float]], rung: int, record: TrialRecord
    ) -> None:
        losses, outside = self.judge.vector(record, rung, self.goals)
        if len(losses):
            bisect.insort(rows, (record.index, losses, outside), key=lambda row: row[0])


def _row_book(history: History, judge: RungJudge) -> RowBook:
    goals = judge.goals
    assert goals is not None, "the Pareto form has goals"
    key = (
        "stopping.rows",
        book_key(judge.all_directions),
        tuple((c.metric, c.min, c.max) for c in goals.constraints),
    )
    if history.tally is not None:
        kept = history.tally.folded(key, lambda: RowBook(judge, goals))
        if kept is not None:
            return kept
    counted = RowBook(judge, goals)
    for trial in history.trials:
        if not trial.state.active:
            counted.add(trial)
    return counted

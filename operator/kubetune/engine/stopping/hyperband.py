"""`hyperband`: several successive-halving brackets side by side, in the stopping form.

Bracket b starts judging at rung minBudget * eta^b; bracket 0 is the most aggressive, the last
never stops anyone. Trials are dealt to brackets in Hyperband's proportions (more trials to
aggressive brackets), by trial index, so the assignment survives restarts. Within a bracket,
the asha judge applies, comparing a trial only with the earlier trials of its own bracket.
"""

from __future__ import annotations

import math

from kubetune.api.settings import RungSettings
from kubetune.api.study import StudySpec
from kubetune.engine.decision import StopDecision
from kubetune.engine.history import History, TrialRecord
from kubetune.engine.stopping.asha import RungJudge, rung_judge, rungs
from kubetune.engine.stopping.book import Group


def bracket_pattern(brackets: int, eta: int) -> list[int]:
    """A repeating deal of bracket numbers, bracket b weighted as Hyperband sizes it."""
    top = brackets - 1
    weights = [math.ceil((top + 1) / (top - b + 1) * eta ** (top - b)) for b in range(brackets)]
    slots = [(j / w, b) for b, w in enumerate(weights) for j in range(w)]
    return [b for _, b in sorted(slots)]


class HyperbandRule:
    def __init__(self, judge: RungJudge, settings: RungSettings) -> None:
        self.judge = judge
        self.steps = rungs(settings.min_budget, settings.max_budget, settings.reduction_factor)
        self.pattern = bracket_pattern(len(self.steps) + 1, settings.reduction_factor)

    def bracket(self, index: int) -> int:
        return self.pattern[index % len(self.pattern)]

    def decide(self, history: History) -> list[StopDecision]:
        pattern = tuple(self.pattern)

        def plan(trial: TrialRecord) -> tuple[list[int], Group]:
            bracket = self.bracket(trial.index)
            return self.steps[bracket:], Group(pattern, bracket)

        return self.judge.judge_all(history, plan)


def build(spec: StudySpec) -> HyperbandRule:
    settings = spec.early_stopping.settings_as(RungSettings)
    return HyperbandRule(rung_judge(spec, settings, "hyperband"), settings)

"""Population-based training, the engine's half: which training segment each member of the
population runs next, from whose checkpoint, with which parameters, and which checkpoints no
living line can reach any more.

A PBT trial trains one segment and exits; a member's line is the chain of its segments, each
continuing from its parent's checkpoint. Segments end at lineage steps `interval`, `2 *
interval`, ... (the trial's budget is the step its segment must reach). When a member's segment
has finished, its next segment is decided here:

- **exploit**: a member whose latest score is in the worst `quantile` of the members' latest
  scores continues from the checkpoint of a member drawn from the best `quantile` instead of
  its own;
- **explore**: the parameters it takes from that member are then each resampled from the
  space with probability `resample`, else perturbed (a number multiplied by a factor drawn
  from `factors` and kept in range, a categorical moved to a neighbouring value);
- otherwise it continues from its own checkpoint with its own parameters (`copied`).

A member whose segment failed starts again from its last good checkpoint (or from scratch
with its first parameters); after `RETRIES` failures in a row from the same checkpoint (one
missing or unreadable fails every time) it moves on: it exploits a member of the best quantile,
or, with none, starts from scratch with fresh parameters. A checkpoint that `RETRIES`
segments in all failed to continue from is offered to no other member. A killed segment (the
study ending, an operator that lost it) counts as a failure here. Members that wait the
longest go first, so with `parallelism` below the population, members take turns and no line
runs ahead of the rest.

Pure like the rest of the engine: the history is the only input, the seeded generator the
only randomness. A Study reaches it as `algorithm: {name: pbt}` through `build` and
`decide`, which hands the segments to the shells as trials with their lineage;
`benchmarks/pbt_harness.py` drives `next_segments` directly (`make bench-pbt`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from kubetune.api.parameters import ParamValue, active_names
from kubetune.api.settings import PbtSettings as PbtManifestSettings
from kubetune.api.study import StudySpec
from kubetune.engine.decision import Lineage
from kubetune.engine.encoding import Dimension, Params, Space
from kubetune.engine.history import History, TrialRecord, TrialState

SAMPLED, COPIED, PERTURBED, RESAMPLED = "sampled", "copied", "perturbed", "resampled"
#: Segments in a row a member runs from the same checkpoint before it moves on (a missing or
#: unreadable checkpoint fails every time; a flaky node may not).
RETRIES = 2


@dataclass(frozen=True)
class PbtSettings:
    population: int
    interval: int
    quantile: float = 0.25
    factors: tuple[float, ...] = (0.8, 1.2)
    resample: float = 0.25


@dataclass(frozen=True)
class Segment:
    """One segment to create: its parameters, where it comes from, and the lineage step it
    must train to (the trial's budget)."""

    params: Params
    lineage: Lineage
    end_step: int


@dataclass(frozen=True)
class _Member:
    number: int
    segments: tuple[TrialRecord, ...]  # in index order

    @property
    def head(self) -> TrialRecord:
        return self.segments[-1]

    @property
    def last_good(self) -> TrialRecord | None:
        return next((t for t in reversed(self.segments) if t.state == TrialState.SUCCEEDED), None)

    @property
    def busy(self) -> bool:
        return self.head.state.active


def _members(history: History) -> dict[int, _Member]:
    lines: dict[int, list[TrialRecord]] = {}
    for trial in history.trials:
        if trial.lineage is not None:
            lines.setdefault(trial.lineage.member, []).append(trial)
    return {m: _Member(m, tuple(sorted(ts, key=lambda t: t.index))) for m, ts in lines.items()}


def _generation_of(trial: TrialRecord) -> int:
    assert trial.lineage is not None
    return trial.lineage.generation


def _perturb(
    dim: Dimension, value: ParamValue, rng: np.random.Generator, factors: Sequence[float]
) -> ParamValue:
    p = dim.param
    if p.type == "categorical":
        assert p.values is not None
        here = p.values.index(value)  # type: ignore[arg-type]
        there = here + (1 if rng.random() < 0.5 else -1)
        if not 0 <= there < len(p.values):
            there = here - (there - here)  # at an end: the only neighbour
        return p.values[min(max(there, 0), len(p.values) - 1)]
    assert p.min is not None and p.max is not None and not isinstance(value, str)
    factor = float(factors[int(rng.integers(len(factors)))])
    moved = min(max(float(value) * factor, p.min), p.max)
    if value == 0:  # a product cannot leave zero: step by the factor's share of the range
        moved = min(max((factor - 1.0) * (p.max - p.min), p.min), p.max)
    snapped = dim.decode(dim.encode(round(moved) if p.type == "int" else moved))
    if p.type == "int" and snapped == value:  # a small int must still move
        snapped = min(max(int(value) + (1 if factor > 1 else -1), int(p.min)), int(p.max))
    return snapped


def explore(
    space: Space, params: Params, settings: PbtSettings, rng: np.random.Generator
) -> tuple[Params, dict[str, str]]:
    """`params` perturbed or resampled, parameter by parameter, and what became of each. A
    conditional parameter that becomes active gets a fresh draw (`resampled`)."""
    fresh = space.decode(list(rng.random(space.size)))
    out: dict[str, ParamValue] = {}
    changes: dict[str, str] = {}
    for dim in space.dims:
        name = dim.param.name
        if name not in params:
            out[name], changes[name] = fresh.get(name, dim.decode(0.5)), RESAMPLED
        elif rng.random() < settings.resample:
            out[name], changes[name] = dim.decode(float(rng.random())), RESAMPLED
        else:
            out[name] = _perturb(dim, params[name], rng, settings.factors)
            changes[name] = PERTURBED
    out.update(space.fixed)
    keep = set(active_names([d.param for d in space.dims], out)) | set(space.fixed)
    return {k: v for k, v in out.items() if k in keep}, {
        k: c for k, c in changes.items() if k in keep
    }


def _ranked(members: Mapping[int, _Member], maximize: bool) -> list[tuple[int, float]]:
    """(member, latest score) of every member with a scored segment, best first."""
    scored = []
    for number, member in members.items():
        good = member.last_good
        if good is not None and good.objective is not None:
            scored.append((number, good.objective))
    return sorted(scored, key=lambda s: (-s[1] if maximize else s[1], s[0]))


def next_segments(
    space: Space,
    settings: PbtSettings,
    history: History,
    wanted: int,
    maximize: bool,
    rng: np.random.Generator,
) -> list[Segment]:
    """Up to `wanted` segments to start now: new members first, then the members whose
    segment ended, those waiting longest (fewest segments, then lowest number) first."""
    members = _members(history)
    out: list[Segment] = []
    for number in range(settings.population):
        if len(out) == wanted:
            return out
        if number not in members:
            params = space.decode(list(rng.random(space.size)))
            changes = {name: SAMPLED for name in params if name not in space.fixed}
            out.append(Segment(params, Lineage(number, None, 0, changes), settings.interval))
    ready = sorted(
        (m for m in members.values() if not m.busy),
        key=lambda m: (len(m.segments), m.number),
    )
    ranked = _ranked(members, maximize)
    share = min(math.ceil(settings.quantile * len(ranked)), len(ranked) // 2)
    spoiled = _spoiled(history)
    top = [
        number
        for number, _ in ranked[:share]
        if (members[number].last_good or members[number].head).name not in spoiled
    ]
    bottom = {number for number, _ in ranked[len(ranked) - share :]} if share else set()
    for member in ready[: max(0, wanted - len(out))]:
        out.append(_continue(space, settings, members, member, top, bottom, rng))
    return out


def _continue(
    space: Space,
    settings: PbtSettings,
    members: Mapping[int, _Member],
    member: _Member,
    top: list[int],
    bottom: set[int],
    rng: np.random.Generator,
) -> Segment:
    good = member.last_good
    if member.head.state != TrialState.SUCCEEDED:  # failed or killed: again from the last good
        if _failed_from(member, good) >= RETRIES:
            # That checkpoint (or this start) failed every time: the member moves on, from a
            # strong member's checkpoint if there is one, else from scratch.
            donors = [n for n in top if n != member.number]
            if donors:
                source = members[donors[int(rng.integers(len(donors)))]].last_good
                assert source is not None
                params, changes = explore(space, dict(source.params), settings, rng)
                return _from(space, settings, member.number, source, params, changes)
            params = space.decode(list(rng.random(space.size)))
            changes = {name: RESAMPLED for name in params if name not in space.fixed}
            return Segment(params, Lineage(member.number, None, 0, changes), settings.interval)
        if good is None:
            first = member.segments[0]
            changes = {name: COPIED for name in first.params if name not in space.fixed}
            lineage = Lineage(member.number, None, 0, changes)
            return Segment(dict(first.params), lineage, settings.interval)
        return _from(space, settings, member.number, good, dict(good.params), COPIED)
    assert good is not None
    if member.number in bottom and top:
        donor = members[top[int(rng.integers(len(top)))]]
        source = donor.last_good
        assert source is not None
        params, changes = explore(space, dict(source.params), settings, rng)
        return _from(space, settings, member.number, source, params, changes)
    return _from(space, settings, member.number, good, dict(good.params), COPIED)


def _from(
    space: Space,
    settings: PbtSettings,
    number: int,
    parent: TrialRecord,
    params: Params,
    changes: str | Mapping[str, str],
) -> Segment:
    generation = _generation_of(parent) + 1
    said = (
        {name: changes for name in params if name not in space.fixed}
        if isinstance(changes, str)
        else dict(changes)
    )
    lineage = Lineage(number, parent.name, generation, said)
    return Segment(params, lineage, settings.interval * (generation + 1))


def _spoiled(history: History) -> set[str]:
    """Checkpoints that `RETRIES` segments in all failed to continue from (lost or
    unreadable, most likely): no one else is sent to them."""
    failures: dict[str, int] = {}
    for trial in history.trials:
        parent = trial.lineage.parent if trial.lineage is not None else None
        if parent is not None and trial.state in (TrialState.FAILED, TrialState.KILLED):
            failures[parent] = failures.get(parent, 0) + 1
    return {name for name, count in failures.items() if count >= RETRIES}


def _failed_from(member: _Member, good: TrialRecord | None) -> int:
    """How many of the member's latest segments in a row failed (or were killed) starting
    from `good`'s checkpoint (None: from scratch)."""
    parent = good.name if good is not None else None
    count = 0
    for segment in reversed(member.segments):
        if segment.state == TrialState.SUCCEEDED or segment.lineage is None:
            break
        if segment.lineage.parent != parent:
            break
        count += 1
    return count


def reachable_checkpoints(history: History, keep: Sequence[str] = ()) -> set[str]:
    """Segments whose checkpoints a line may still continue from: each member's last good
    one, the segments still running and their parents, and `keep` (the best trial's, which a user
    wants to load). A finished segment outside this set never comes back into it: lines only
    continue from their members' latest good segments, which only move forward."""
    needed = set(keep)
    for member in _members(history).values():
        good = member.last_good
        if good is not None:
            needed.add(good.name)
    for trial in history.trials:
        if trial.lineage is not None and trial.state.active:
            needed.add(trial.name)  # its checkpoint is being written
            if trial.lineage.parent:
                needed.add(trial.lineage.parent)
    return needed


def unreachable_checkpoints(history: History, keep: Sequence[str] = ()) -> list[str]:
    """Finished segments whose checkpoints no line can continue from any more."""
    needed = reachable_checkpoints(history, keep)
    return [
        t.name
        for t in history.trials
        if t.lineage is not None and not t.state.active and t.name not in needed
    ]


class PbtSampler:
    """What the registry builds for `algorithm: pbt`: `decide` asks it for `segments`; a
    caller that only wants points (`suggest`) gets the params those segments would take."""

    def __init__(self, spec: StudySpec, space: Space, seed: int) -> None:
        given = spec.algorithm.settings_as(PbtManifestSettings)
        self.space = space
        self.maximize = spec.primary.goal == "maximize"
        self.settings = PbtSettings(
            population=given.population,
            interval=given.ready_interval,
            quantile=given.quantile,
            factors=tuple(given.perturb_factors),
            resample=given.resample_probability,
        )
        del seed  # the generator handed to each call carries it

    def segments(self, history: History, wanted: int, rng: np.random.Generator) -> list[Segment]:
        return next_segments(self.space, self.settings, history, wanted, self.maximize, rng)

    def suggest(self, history: History, count: int, rng: np.random.Generator) -> list[Params]:
        found = [s.params for s in self.segments(history, count, rng)]
        while len(found) < count:  # every member busy: fresh draws, as a new member's
            found.append(self.space.decode(list(rng.random(self.space.size))))
        return found


def build(spec: StudySpec, space: Space, seed: int) -> PbtSampler:
    return PbtSampler(spec, space, seed)

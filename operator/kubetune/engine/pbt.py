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
with its first parameters). Members that wait the longest go first, so with `parallelism`
below the population, members take turns and no line runs ahead of the rest.

Pure like the rest of the engine: the history is the only input, the seeded generator the
only randomness. Not yet reachable from a Study: `algorithm: pbt` comes with the shells'
checkpoint folders and the lineage they record (issue 39); `benchmarks/pbt_harness.py` drives
it directly (`make bench-pbt`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from kubetune.api.parameters import ParamValue, active_names
from kubetune.engine.decision import Lineage
from kubetune.engine.encoding import Dimension, Params, Space
from kubetune.engine.history import History, TrialRecord, TrialState

SAMPLED, COPIED, PERTURBED, RESAMPLED = "sampled", "copied", "perturbed", "resampled"


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
    top = [number for number, _ in ranked[:share]]
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


def unreachable_checkpoints(history: History, keep: Sequence[str] = ()) -> list[str]:
    """Segments whose checkpoints no line can continue from any more: not a member's last
    good segment, not the parent of a segment still to run, not in `keep` (the best trial's,
    which a user wants to load)."""
    members = _members(history)
    needed = set(keep)
    for member in members.values():
        good = member.last_good
        if good is not None:
            needed.add(good.name)
    for trial in history.trials:
        if trial.lineage is not None and trial.state.active and trial.lineage.parent:
            needed.add(trial.lineage.parent)
    return [
        t.name
        for t in history.trials
        if t.lineage is not None and not t.state.active and t.name not in needed
    ]

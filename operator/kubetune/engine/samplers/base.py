"""The sampler interface: one method, no state between calls.

A sampler is built once from the spec and then asked `suggest(history, count, rng)`; it must
derive everything from the history it is given (running trials included, so a batch spreads
out) and the generator it is handed. Returning fewer than `count` means the space is used up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from kubetune.api.study import StudySpec
from kubetune.engine.encoding import Params, Space
from kubetune.engine.history import History


class Sampler(Protocol):
    def suggest(self, history: History, count: int, rng: np.random.Generator) -> list[Params]: ...


#: Builds a sampler for one study: (spec, space, seed) -> Sampler.
SamplerFactory = Callable[[StudySpec, Space, int], Sampler]


def start_up_point(seed: int, index: int, size: int) -> list[float]:
    """Trial `index`'s random start-up point in the unit box: fixed by seed and index alone, so
    it is the same however the trials before it were batched (the operator and `kubetune run`
    may ask one at a time or several) and after any restart."""
    return list(np.random.default_rng([seed, index]).random(size))

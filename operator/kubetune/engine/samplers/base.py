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

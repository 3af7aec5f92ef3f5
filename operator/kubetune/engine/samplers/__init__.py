"""The samplers: each one a module with a `build` factory, registered by one `Registered`
line in `kubetune.api.algorithms`. A sampler's module is imported on first use: the bayesian
sampler pulls in scipy (about a second on a laptop), which a random or grid study, and
`kubetune validate`, never need."""

from __future__ import annotations

from collections.abc import Mapping

from kubetune.api.algorithms import SAMPLERS as _REGISTERED
from kubetune.engine.registry import Factories
from kubetune.engine.samplers.base import Sampler, SamplerFactory

SAMPLERS: Mapping[str, SamplerFactory] = Factories[SamplerFactory](_REGISTERED)

__all__ = ["SAMPLERS", "Sampler", "SamplerFactory"]

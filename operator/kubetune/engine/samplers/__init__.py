"""The samplers and their registry: adding one is one module and one line here.

The registry imports a sampler's module on first use: the bayesian sampler pulls in scipy
(about a second on a laptop), which a random or grid study, and `kubetune validate`, never need.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping

from kubetune.engine.samplers.base import Sampler, SamplerFactory


class _Registry(Mapping[str, SamplerFactory]):
    def __init__(self, modules: Mapping[str, str]) -> None:
        self._modules = dict(modules)

    def __getitem__(self, name: str) -> SamplerFactory:
        module = importlib.import_module(f"{__name__}.{self._modules[name]}")
        factory: SamplerFactory = module.build
        return factory

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)


SAMPLERS: Mapping[str, SamplerFactory] = _Registry(
    {"grid": "grid", "random": "random", "sobol": "sobol", "bayesian": "bayesian"}
)

__all__ = ["SAMPLERS", "Sampler", "SamplerFactory"]

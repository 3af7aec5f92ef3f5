"""The samplers and their registry: adding one is one module and one line here."""

from kubetune.engine.samplers import bayesian, grid, random, sobol
from kubetune.engine.samplers.base import Sampler, SamplerFactory

SAMPLERS: dict[str, SamplerFactory] = {
    "grid": grid.build,
    "random": random.build,
    "sobol": sobol.build,
    "bayesian": bayesian.build,
}

__all__ = ["SAMPLERS", "Sampler", "SamplerFactory"]

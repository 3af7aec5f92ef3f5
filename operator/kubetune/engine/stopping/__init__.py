"""The stopping rules and their registry: adding one is one module and one line here."""

from kubetune.engine.stopping import asha, hyperband, median
from kubetune.engine.stopping.base import StoppingFactory, StoppingRule, build_none

STOPPING_RULES: dict[str, StoppingFactory] = {
    "none": build_none,
    "median": median.build,
    "asha": asha.build,
    "hyperband": hyperband.build,
}

__all__ = ["STOPPING_RULES", "StoppingFactory", "StoppingRule"]

"""The stopping rules: each one a module with a `build` factory, registered by one
`Registered` line in `kubetune.api.algorithms`."""

from collections.abc import Mapping

from kubetune.api.algorithms import STOPPING_RULES as _REGISTERED
from kubetune.engine.registry import Factories
from kubetune.engine.stopping.base import StoppingFactory, StoppingRule

STOPPING_RULES: Mapping[str, StoppingFactory] = Factories[StoppingFactory](_REGISTERED)

__all__ = ["STOPPING_RULES", "StoppingFactory", "StoppingRule"]

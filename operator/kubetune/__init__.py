"""kubetune: hyperparameter tuning on Kubernetes and on a laptop, with one Study manifest.

Trial code imports `kubetune.report` inside users' images, so importing this package must stay
cheap and pull in nothing beyond the standard library: `report` and `search` are loaded here,
everything else (`Client`, `tune`) on first use, by `__getattr__`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from kubetune import search
from kubetune.sdk import report

if TYPE_CHECKING:
    from kubetune.client.cluster import Client
    from kubetune.client.errors import (
        StudyError,
        StudyExistsError,
        StudyFailedError,
        StudyNotFoundError,
        StudyRejectedError,
    )
    from kubetune.client.results import StudyResult, TrialResult
    from kubetune.tuning.shipping import UnshippableFunctionError
    from kubetune.tuning.tune import tune

__version__ = "0.1.0"
__all__ = [
    "Client",
    "StudyError",
    "StudyExistsError",
    "StudyFailedError",
    "StudyNotFoundError",
    "StudyRejectedError",
    "StudyResult",
    "TrialResult",
    "UnshippableFunctionError",
    "__version__",
    "report",
    "search",
    "tune",
]

#: What `__getattr__` loads, by name: the module that holds it.
_LAZY = {
    "Client": "kubetune.client.cluster",
    "StudyError": "kubetune.client.errors",
    "StudyExistsError": "kubetune.client.errors",
    "StudyFailedError": "kubetune.client.errors",
    "StudyNotFoundError": "kubetune.client.errors",
    "StudyRejectedError": "kubetune.client.errors",
    "StudyResult": "kubetune.client.results",
    "TrialResult": "kubetune.client.results",
    "UnshippableFunctionError": "kubetune.tuning.shipping",
    "tune": "kubetune.tuning.tune",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kubetune' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

"""kubetune: hyperparameter tuning on Kubernetes and on a laptop, with one Study manifest.

Only the version and the trial-side `report()` are public here: trial code imports
`kubetune.report` inside users' images, so importing this package must stay cheap and
pull in nothing beyond the standard library.
"""

from kubetune.sdk import report

__version__ = "0.1.0"
__all__ = ["__version__", "report"]

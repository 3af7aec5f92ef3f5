"""`python -m kubetune.cli`: the same as the `kubetune` script."""

import sys

from kubetune.cli import main

sys.exit(main())

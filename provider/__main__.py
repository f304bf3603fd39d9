"""``python -m provider``: see :mod:`provider.cli`."""

import sys

from .cli import main

sys.exit(main())

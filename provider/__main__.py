"""``python -m provider`` (``python -m shoprenter_webhooks`` when installed): see
:mod:`provider.cli`."""

import sys

from .cli import main

sys.exit(main())

"""The receiving side's public path, ``shoprenter_webhooks.receive``: the code lives in
:mod:`provider.deliveries.receive` (its docstring says what ``parse`` accepts and refuses)."""

from .deliveries.receive import *  # noqa: F403 (the public surface is that module's __all__)
from .deliveries.receive import __all__  # noqa: F401 (re-exported: star imports follow it)

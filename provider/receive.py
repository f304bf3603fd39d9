"""The receiving side's public path, ``shoprenter_webhooks.receive``: the code lives in
:mod:`provider.deliveries.receive` (its docstring says what ``parse`` accepts and refuses) and
:mod:`provider.deliveries.dedupe` (the stores that make a receiver handle each delivery once)."""

from .deliveries import dedupe, receive
from .deliveries.dedupe import *  # noqa: F403 (the public surface is each module's __all__)
from .deliveries.receive import *  # noqa: F403

__all__ = receive.__all__ + dedupe.__all__

"""Shoprenter webhooks as Pulumi resources.

``Webhook`` declares one webhook; ``WebhookProvider`` is the dynamic provider behind it.
Importing this package has no side effects: the Pulumi engine re-imports it in its
provider process.

The released package is imported as ``shoprenter_webhooks``; in this project's repository the
same code is the folder ``provider``. One program must use one of the two names: the engine
pickles each resource's provider by its module's name, and two copies of the package in one
process would keep two views of the shop. Importing both is refused, naming the fix.

``Webhook`` and ``WebhookProvider`` are loaded when first asked for: a receiver imports
``shoprenter_webhooks.receive`` without the Pulumi SDK (see :mod:`provider.receive`).
"""

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .webhook_provider import Webhook, WebhookProvider

from .version import DISTRIBUTION, __version__

IMPORT_NAMES = ("shoprenter_webhooks", "provider")


def _refuse_a_second_name() -> None:
    for other in IMPORT_NAMES:
        if (
            other != __name__
            and getattr(sys.modules.get(other), "DISTRIBUTION", "") == DISTRIBUTION
        ):
            raise ImportError(
                f"{DISTRIBUTION} is imported twice, as {other} and as {__name__}: import it as "
                "shoprenter_webhooks only (provider is the same code in the project's own "
                "repository; a program uses one of the two names)"
            )


_refuse_a_second_name()


def __getattr__(name: str) -> Any:
    """``Webhook`` and ``WebhookProvider``, from :mod:`provider.webhook_provider` on first use."""
    if name in ("Webhook", "WebhookProvider"):
        return getattr(import_module(".webhook_provider", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DISTRIBUTION", "Webhook", "WebhookProvider", "__version__"]

"""Shoprenter webhooks as Pulumi resources.

``Webhook`` declares one webhook; ``WebhookProvider`` is the dynamic provider behind it.
Importing this package has no side effects: the Pulumi engine re-imports it in its
provider process.
"""

from .webhook_provider import Webhook, WebhookProvider

__all__ = ["Webhook", "WebhookProvider"]

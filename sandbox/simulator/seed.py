"""Ready-made shops to start the simulator with (``--seed NAME``).

``shared``: a shop as it is once several owners use it, for trying what a stack reports,
adopts and prunes there. A person made one webhook in the admin, another integration made
two (one delivering to two targets), and two stacks marked theirs in the label as this project's
provider does (``[pulumi:OWNER]``; the simulator itself gives the text no meaning).
"""

from __future__ import annotations

from typing import Any

from .shop import Shop


def _webhook(label: str, *urls: str, event: str = "order_confirm") -> dict[str, Any]:
    return {
        "event": event,
        "status": "1",
        "label": label,
        "webHookParameters": [{"type": "json", "url": url} for url in urls],
    }


SHARED = [
    _webhook("Számlázó (made in the admin)", "https://invoices.example.com/in"),
    _webhook("Partner CRM", "https://partner.example.org/orders"),
    _webhook("Partner fan-out", "https://partner.example.org/a", "https://partner.example.org/b"),
    _webhook(
        "Newsletter sync [pulumi:marketing/prod]",
        "https://crm.example.com/nl",
        event="newsletter_subscribe",
    ),
    _webhook("ERP sync [pulumi:agency/staging]", "https://erp-staging.example.com/hooks"),
]
SEEDS: dict[str, list[dict[str, Any]]] = {"shared": SHARED}


def seed(shop: Shop, name: str) -> None:
    """Add the seed's webhooks to ``shop`` as if made through its API."""
    for body in SEEDS[name]:
        shop.create(body)

"""Delivering webhooks the way Shoprenter does, when the simulator is told an order was placed.

The request and its payload are the product's own (:func:`provider.deliveries.trigger.send`, built
by :mod:`provider.deliveries.builder`), without the test header: one builder serves test deliveries,
the go-live check and the simulator, so a receiver tested against the simulator is tested against
what ``trigger`` sends too.

The simulator delivers only to loopback targets: it never sends anything off this machine.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from provider.deliveries.trigger import send

from ..loopback import is_loopback
from .shop import Shop


def outcome_of(url: str, event: str, parameter: dict[str, Any], number: int) -> str:
    """Deliver to one target (loopback only); what happened, in words."""
    if not is_loopback(urlsplit(url).hostname or ""):
        return "skipped: the simulator delivers only to loopback addresses"
    fields = parameter.get("fields") or []
    sent = send(url, event, parameter["type"], fields, test=False, number=number)
    return f"{'delivered' if sent.delivered else 'failed'}: {sent.answer}"


def place_order(shop: Shop, request: dict[str, Any]) -> list[dict[str, Any]]:
    """Place an order and deliver its event to each enabled webhook of that event."""
    event = request.get("event", "order_confirm")
    number = int(request.get("number", len(shop.deliveries) + 1000))
    report = []
    for hook in shop.all():
        if hook["event"] != event:
            continue
        for parameter in hook["webHookParameters"]:
            if hook["status"] != "1":
                outcome = "skipped: disabled"
            elif hook["webHookDelay"]:
                delay = hook["webHookDelay"][0]
                outcome = f"scheduled: in {delay['delay']} {delay['delayUnit']}"
            else:
                outcome = outcome_of(parameter["url"], event, parameter, number)
            report.append(
                {
                    "webhookId": hook["id"],
                    "label": hook["label"],
                    "url": parameter["url"],
                    "format": parameter["type"],
                    "outcome": outcome,
                    "at": time.time(),
                }
            )
    shop.deliveries.extend(report)
    return report

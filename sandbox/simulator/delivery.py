"""Delivering webhooks the way Shoprenter does, when the simulated shop's orders change.

Placing an order delivers ``order_confirm`` (``abandoned_cart`` for a cart left at status 0);
moving it to another status delivers ``order_status_change``; a newsletter event delivers a
sample subscriber. Each enabled webhook of the event gets one delivery per target, once:
Shoprenter documents no retry, so neither does the simulator. A webhook with a delay is
reported as scheduled and never sent (no simulated clock runs it).

The request is the product's own (:func:`provider.deliveries.trigger.deliver`, the payload
made by :func:`provider.deliveries.builder.document` from the order's record), without the
test header: a receiver tested against the simulator is tested against what ``trigger`` and
``replay`` send too.

The simulator delivers only to loopback targets: it never sends anything off this machine.
A target taken down with ``POST /_sim/outages`` fails as a stopped receiver would.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from provider.deliveries.builder import document, render, sample_subscriber
from provider.deliveries.trigger import deliver

from ..loopback import is_loopback
from .orders import ABANDONED, parse_time, shop_now
from .shop import ApiError, Shop

Record = dict[str, Any]


def outcome_of(shop: Shop, url: str, event: str, parameter: Record, record: Record) -> str:
    """Deliver ``record`` to one target (loopback only); what happened, in words."""
    if not is_loopback(urlsplit(url).hostname or ""):
        return "skipped: the simulator delivers only to loopback addresses"
    if shop.is_down(url):
        return "failed: connection refused (the target is down: a simulated outage)"
    body = render(document(event, record, parameter.get("fields") or []), parameter["type"])
    sent = deliver(url, body, parameter["type"], {})
    return f"{'delivered' if sent.delivered else 'failed'}: {sent.answer}"


def deliver_event(shop: Shop, event: str, record: Record, about: str) -> list[Record]:
    """Deliver ``event`` about ``record`` to each target of each webhook of the event."""
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
                outcome = outcome_of(shop, parameter["url"], event, parameter, record)
            report.append(
                {
                    "webhookId": hook["id"],
                    "label": hook["label"],
                    "event": event,
                    "about": about,
                    "url": parameter["url"],
                    "format": parameter["type"],
                    "outcome": outcome,
                    "at": time.time(),
                }
            )
    shop.deliveries.extend(report)
    return report


def place_order(shop: Shop, request: Record) -> list[Record]:
    """``POST /_sim/orders``: ``{"number", "at", "status", "event"}``, each optional.

    An order placed at ``at`` (the shop's local time; default now) with ``status`` (default 1;
    0 leaves an abandoned cart). A newsletter ``event`` delivers a subscriber instead.
    """
    event = str(request.get("event", "order_confirm"))
    number = int(request.get("number", len(shop.orders) + 1000))
    if event.startswith("newsletter_"):
        return deliver_event(shop, event, sample_subscriber(number), f"subscriber {number}")
    default_status = ABANDONED if event == "abandoned_cart" else 1
    status = int(request.get("status", default_status))
    at = parse_time(request["at"]) if request.get("at") else shop_now()
    order = shop.place(number, at, status)
    placed = "abandoned_cart" if status == ABANDONED else "order_confirm"
    if event != placed:
        raise ApiError(
            400, None, f"an order placed with status {status} delivers {placed}, not {event}"
        )
    return deliver_event(shop, placed, order.record(order.history[-1]), f"order {number}")


def change_status(shop: Shop, number: int, request: Record) -> list[Record]:
    """``POST /_sim/orders/{number}/status``: ``{"status", "at", "comment"}``; delivers
    ``order_status_change`` with the new history entry."""
    at = parse_time(request["at"]) if request.get("at") else shop_now()
    order, entry = shop.change_status(
        number, int(request["status"]), at, str(request.get("comment", ""))
    )
    return deliver_event(shop, "order_status_change", order.record(entry), f"order {number}")

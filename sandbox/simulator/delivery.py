"""Delivering webhooks the way Shoprenter does, when the simulator is told an order was placed.

Shoprenter POSTs ``multipart/form-data`` with one form field ``data`` holding the payload
(JSON, or XML for ``xml`` hooks) and ``User-Agent: ShopRenter``. ``fields`` limits the
payload to the named fields: ``order_<key>`` selects a key of the order, and
``orderProduct_<key>`` a key of each ordered product.

The simulator delivers only to loopback targets: it never sends anything off this machine.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from ..loopback import is_loopback
from .render import to_xml
from .shop import Shop

USER_AGENT = "ShopRenter"


def sample_order(number: int) -> dict[str, Any]:
    """An order with one product, its keys named after Shoprenter's field tables."""
    return {
        "storeName": "demo",
        "innerId": str(number),
        "innerResourceId": base64.b64encode(f"order-order_id={number}".encode()).decode(),
        "firstname": "Teszt",
        "lastname": "Elek",
        "email": "teszt.elek@example.com",
        "phone": "+36 1 234 5678",
        "paymentCity": "Budapest",
        "shippingCity": "Budapest",
        "total": "12700.00",
        "currency": "HUF",
        "orderProducts": {
            "orderProduct": [
                {"name": "Coffee mug", "sku": "MUG-1", "price": "5000.00", "quantity": "2"},
            ]
        },
    }


def select_fields(order: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Keep only the named fields; no names keeps everything."""
    if not fields:
        return order
    wanted = set(fields)
    products = order.get("orderProducts", {}).get("orderProduct", [])
    kept = {
        key: value
        for key, value in order.items()
        if key != "orderProducts" and f"order_{key}" in wanted
    }
    kept_products = [
        {key: value for key, value in product.items() if f"orderProduct_{key}" in wanted}
        for product in products
    ]
    if any(kept_products):
        kept["orderProducts"] = {"orderProduct": kept_products}
    return kept


def render_payload(order: dict[str, Any], kind: str) -> str:
    document = {"orders": {"order": [order]}}
    if kind == "xml":
        return to_xml(document["orders"], tag="orders").decode("utf-8")
    return json.dumps(document, ensure_ascii=False)


def deliver(url: str, payload: str, timeout: float = 10.0) -> str:
    """POST one payload as Shoprenter does; return what happened, in words."""
    host = urlsplit(url).hostname or ""
    if not is_loopback(host):
        return "skipped: the simulator delivers only to loopback addresses"
    try:
        response = requests.post(
            url,
            files={"data": (None, payload)},
            headers={"User-Agent": USER_AGENT},
            timeout=timeout,
        )
    except requests.RequestException as error:
        return f"failed: {type(error).__name__}"
    return f"delivered: HTTP {response.status_code}"


def place_order(shop: Shop, request: dict[str, Any]) -> list[dict[str, Any]]:
    """Place an order and deliver its event to each enabled webhook of that event."""
    event = request.get("event", "order_confirm")
    order = sample_order(int(request.get("number", len(shop.deliveries) + 1000)))
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
                payload = select_fields(order, parameter.get("fields", []))
                outcome = deliver(parameter["url"], render_payload(payload, parameter["type"]))
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

"""A Shoprenter webhook receiver with Flask: check the URL's token, parse, hand the orders on.

Run it (``pip install --no-deps shoprenter-webhooks pydantic defusedxml flask``, see the
README's "Receive deliveries in Python"):

    WEBHOOK_TOKENS=new-token flask --app app run --port 8080

and declare its target as ``https://hooks.example.com/shoprenter/orders?key=new-token``.
Shoprenter signs nothing, so the token in the URL is what tells a delivery from anyone's POST;
while a token is rotated, both are accepted (``WEBHOOK_TOKENS=new-token,old-token``).
Answer fast: Shoprenter documents no retry, so a slow or failing receiver loses the order.
"""

from __future__ import annotations

import os

from flask import Flask, Response, request
from shoprenter_webhooks.receive import DeliveryError, Order, parse, verify_token

app = Flask(__name__)
# The body's size is the web framework's to limit: parse bounds nesting and numbers, not bytes.
# One order with a hundred products is some 100 KiB; past 1 MiB Flask answers 413.
app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024


def accepted_tokens() -> list[str]:
    return [token for token in os.environ.get("WEBHOOK_TOKENS", "").split(",") if token]


def handle_order(order: Order) -> None:
    """Your code goes here; the example logs what arrived."""
    products = ", ".join(f"{p.quantity} x {p.sku}" for p in order.products or [])
    app.logger.info(
        "order %s of %s: %s %s (%s)",
        order.inner_id,
        order.email,
        order.total_gross,
        order.currency,
        products,
    )


@app.post("/shoprenter/orders")
def orders() -> Response | tuple[dict[str, list[str | None]], int]:
    if not verify_token(request.url, accepted_tokens()):
        return Response("unknown token\n", status=403)
    try:
        delivery = parse(request.get_data(), request.content_type or "")
    except DeliveryError as error:
        return Response(f"not a Shoprenter delivery: {error}\n", status=400)
    for order in delivery.orders or []:
        handle_order(order)
    return {"orders": [order.inner_id for order in delivery.orders or []]}, 200

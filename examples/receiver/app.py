"""A Shoprenter webhook receiver with Flask: check the URL's token, parse, hand each order on once.

Run it (``pip install --no-deps shoprenter-webhooks pydantic defusedxml python-multipart
flask``, see the
docs' "Receive deliveries in Python"):

    WEBHOOK_TOKENS=new-token flask --app app run --port 8080

and declare one target per event, the event last in its path:
``https://hooks.example.com/shoprenter/order_confirm?key=new-token`` (the payload names no
event, the path does). Shoprenter signs nothing, so the token in the URL is what tells a
delivery from anyone's POST; while a token is rotated, both are accepted
(``WEBHOOK_TOKENS=new-token,old-token``).

Each delivery's key is claimed in a store (SQLite here, ``DELIVERY_STORE``; ``PostgresStore``
for several instances) before the order is handed on: a copy ``replay`` sends of an order
already handled answers ``200`` and is not handed on again; one being handled by another
worker right now answers ``409`` (``replay`` tries again); a handler that fails releases the
key, so that the next copy is handled. Answer fast: a slow receiver holds up the shop.
"""

from __future__ import annotations

import os

from flask import Flask, Response, request
from shoprenter_webhooks.receive import (
    DeliveryError,
    Order,
    SqliteStore,
    delivery_key,
    parse,
    verify_token,
)

ORDER_EVENTS = ("order_confirm", "order_status_change", "abandoned_cart")

app = Flask(__name__)
# The body's size is the web framework's to limit: parse bounds nesting and numbers, not bytes.
# One order with a hundred products is some 100 KiB; past 1 MiB Flask answers 413.
app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
store = SqliteStore(os.environ.get("DELIVERY_STORE", "deliveries.sqlite3"))


def accepted_tokens() -> list[str]:
    return [token for token in os.environ.get("WEBHOOK_TOKENS", "").split(",") if token]


def handle_order(event: str, order: Order) -> None:
    """Your code goes here; the example logs what arrived."""
    products = ", ".join(f"{p.quantity} x {p.sku}" for p in order.products or [])
    app.logger.info(
        "%s: order %s of %s: %s %s (%s)",
        event,
        order.inner_id,
        order.email,
        order.total_gross,
        order.currency,
        products,
    )


@app.post("/shoprenter/<event>")
def deliveries(event: str) -> Response | tuple[dict[str, list[str]], int]:
    if event not in ORDER_EVENTS:
        return Response(f"no such order event: {event}\n", status=404)
    if not verify_token(request.url, accepted_tokens()):
        return Response("unknown token\n", status=403)
    try:
        delivery = parse(request.get_data(), request.content_type or "")
        keyed = [(delivery_key(event, order), order) for order in delivery.orders or []]
    except DeliveryError as error:
        return Response(f"not a Shoprenter delivery: {error}\n", status=400)
    handled, duplicates = [], []
    for key, order in keyed:
        with store.once(key) as claim:
            if claim.outcome == "busy":
                return Response(f"{key} is being handled right now\n", status=409)
            if claim.fresh:
                handle_order(event, order)
                handled.append(key)
            else:
                duplicates.append(key)
    return {"handled": handled, "duplicates": duplicates}, 200

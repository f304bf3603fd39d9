"""The rebuild against the shop's own deliveries: every payload key ``replay`` gives back holds
what the live delivery held, the keys it cannot give back are exactly those it says, and the
order resources are read page by page in either of the fixtures' paging forms."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from provider.core.payload import documented_fields
from provider.deliveries.builder import document
from provider.deliveries.rebuild import LEFT_OUT
from provider.deliveries.receive import Order, parse
from provider.replay import Window, find, routes_of
from sandbox.simulator.control import SimulatorControl
from sandbox.simulator.orders import shop_now
from sandbox.simulator.receiver import Receiver
from tests.test_replay import declared, reader_of

PARTS = {"order": None, "orderProduct": "orderProducts", "orderHistory": "orderHistory"}


def rebuilt_fields(record: dict[str, Any]) -> set[str]:
    """The payload field names a rebuilt record carries."""
    names = {f"order_{key}" for key in record if key not in ("orderProducts", "orderHistory")}
    names |= {f"orderHistory_{key}" for key in record.get("orderHistory", {})}
    for product in record["orderProducts"]["orderProduct"]:
        names |= {f"orderProduct_{key}" for key in product}
    return names


def test_every_rebuilt_key_holds_what_the_live_delivery_held(sim: SimulatorControl) -> None:
    with Receiver() as receiver:
        declarations = declared(receiver.url, order_status_change={"fields": [], "format": "json"})
        for declaration in declarations:
            sim.add_webhook(declaration.webhook.to_api_body())
        start = shop_now() - timedelta(hours=1)
        for number in (1, 2, 3):
            sim.place_order(number=number, at=(start + timedelta(minutes=number)).isoformat())
        sim.change_status(2, status=3, at=(start + timedelta(minutes=9)).isoformat(), comment="ok")
        live = {
            key: order
            for delivery in receiver.deliveries
            for event in [delivery.path.rpartition("/")[2]]
            for order in parse(delivery.body, delivery.content_type).orders or []
            for key in [f"{event}:{order.inner_id}"]
        }
    found = find(reader_of(sim), routes_of(declarations), Window(start, shop_now()))
    assert len(found) == len(live) == 4
    for happening in found:
        # What replay sends (every field of the event) against what the shop sent live.
        [sent] = document(happening.event, happening.record)["orders"]["order"]
        was = live[f"{happening.event}:{happening.order}"].model_dump(by_alias=True)
        now = Order.model_validate(sent).model_dump(by_alias=True)
        for key in sent:
            if key != "orderProducts":
                assert now[key] == was[key], (happening.event, key)
        for kept, original in zip(now["orderProducts"], was["orderProducts"], strict=True):
            for key in sent["orderProducts"]["orderProduct"][0]:
                assert kept[key] == original[key], ("orderProduct", key)


def test_the_keys_left_out_are_exactly_those_no_resource_gives_back(
    sim: SimulatorControl,
) -> None:
    sim.place_order(number=5, at=(shop_now() - timedelta(minutes=5)).isoformat())
    routes = routes_of(declared("http://127.0.0.1:9")[:1])
    [happening] = find(reader_of(sim), routes, Window(shop_now() - timedelta(hours=1), shop_now()))
    documented = {
        name
        for event in ("order_confirm", "order_status_change", "abandoned_cart")
        for name in documented_fields()[event]
        if name.split("_")[0] in PARTS
    }
    assert documented - rebuilt_fields(happening.record) == set(LEFT_OUT)


@pytest.mark.parametrize("paging", ["numbers", "strings"])
def test_every_page_of_orders_is_read_in_either_paging_form(
    sim: SimulatorControl, paging: str
) -> None:
    sim.settings(orderPaging=paging)
    start = shop_now() - timedelta(hours=5)
    for number in range(1, 206):  # two pages of /orderExtend at 200 a page
        sim.place_order(number=number, at=(start + timedelta(seconds=number)).isoformat())
    routes = routes_of(declared("http://127.0.0.1:9")[:1])
    found = find(reader_of(sim), routes, Window(start, shop_now()))
    assert [h.order for h in found] == [str(n) for n in range(1, 206)]
    calls = [call["path"].rpartition("/")[2] for call in sim.requests() if "/api/" in call["path"]]
    assert calls.count("orderExtend") == 2 and calls.count("orderHistories") == 205
    assert calls.count("orderStatusDescriptions") == 1

"""Placing an order delivers order_confirm webhooks the way Shoprenter does."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest

from provider.core.payload import EVENTS
from provider.deliveries.receive import parse
from sandbox.simulator.control import SimulatorControl
from sandbox.simulator.receiver import Receiver
from tests.helpers import api_body


def hook(url: str, label: str, **parameter: object) -> dict[str, object]:
    return api_body(label=label, webHookParameters=[{"type": "json", "url": url, **parameter}])


def test_each_enabled_hook_of_the_event_gets_the_order(sim: SimulatorControl) -> None:
    with Receiver() as receiver:
        sim.add_webhook(hook(f"{receiver.url}/all", "all fields"))
        sim.add_webhook(hook(f"{receiver.url}/some", "some", fields=["order_email"]))
        sim.add_webhook(hook(f"{receiver.url}/xml", "xml", type="xml"))
        sim.add_webhook({**hook(f"{receiver.url}/off", "off"), "status": "0"})
        sim.add_webhook(
            {
                **hook(f"{receiver.url}/later", "later"),
                "webHookDelay": [{"delay": "2", "delayUnit": "hour"}],
            }
        )
        sim.add_webhook({**hook(f"{receiver.url}/news", "news"), "event": "newsletter_subscribe"})
        report = sim.place_order(number=42)
        got = {delivery.path: delivery for delivery in receiver.deliveries}

    assert sorted(got) == ["/all", "/some", "/xml"]
    outcomes = {entry["label"]: entry["outcome"] for entry in report}
    assert outcomes["off"] == "skipped: disabled"
    assert outcomes["later"] == "scheduled: in 2 hour"
    assert "news" not in outcomes

    everything = got["/all"]
    assert everything.user_agent == "ShopRenter"
    assert everything.content_type.startswith("multipart/form-data")
    order = json.loads(everything.data)["orders"]["order"][0]
    assert order["innerId"] == "42" and order["orderProducts"]["orderProduct"][0]["sku"]

    assert json.loads(got["/some"].data)["orders"]["order"] == [{"email": "customer42@example.com"}]
    xml_order = ElementTree.fromstring(got["/xml"].data).find("order")
    assert xml_order is not None and xml_order.findtext("innerId") == "42"
    # Every delivery parses, in both formats, to the same order.
    parsed = {path: parse(d.body, d.content_type) for path, d in got.items()}
    assert parsed["/all"] == parsed["/xml"]
    assert [order.inner_id for order in parsed["/all"].orders or []] == ["42"]


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("format", ["json", "xml"])
def test_every_event_the_simulator_delivers_parses(
    sim: SimulatorControl, event: str, format: str
) -> None:
    with Receiver() as receiver:
        sim.add_webhook({**hook(f"{receiver.url}/in", "in", type=format), "event": event})
        if event == "order_status_change":
            sim.place_order(number=7)
            [entry] = sim.change_status(7, status=2)
        else:
            [entry] = sim.place_order(event=event, number=7)
        [got] = receiver.deliveries
    assert entry["outcome"] == "delivered: HTTP 200 OK"
    delivery = parse(got.body, got.content_type)
    records = delivery.subscribers if event.startswith("newsletter_") else delivery.orders
    assert records and len(records) == 1


def test_a_status_change_delivers_the_new_history_entry(sim: SimulatorControl) -> None:
    with Receiver() as receiver:
        sim.add_webhook({**hook(f"{receiver.url}/in", "in"), "event": "order_status_change"})
        sim.place_order(number=8, at="2026-12-01T10:00:00")
        sim.change_status(8, status=3, at="2026-12-01T12:30:00", comment="csomag feladva")
        [got] = receiver.deliveries
    [order] = parse(got.body, got.content_type).orders or []
    assert order.inner_id == "8" and order.order_history is not None
    assert (order.order_history.status, order.order_history.comment) == ("3", "csomag feladva")
    assert str(order.order_history.date_added) == "2026-12-01 12:30:00"


def test_a_target_taken_down_loses_the_delivery_and_nothing_retries_it(
    sim: SimulatorControl,
) -> None:
    with Receiver() as receiver:
        sim.add_webhook(hook(f"{receiver.url}/in", "in"))
        sim.take_down(receiver.url)
        [lost] = sim.place_order(number=1)
        sim.bring_up(receiver.url)
        [kept] = sim.place_order(number=2)
        paths = [delivery.path for delivery in receiver.deliveries]
    assert lost["outcome"].startswith("failed: connection refused")
    assert kept["outcome"] == "delivered: HTTP 200 OK" and paths == ["/in"]


def test_targets_off_this_machine_are_never_contacted(sim: SimulatorControl) -> None:
    sim.add_webhook(hook("https://erp.example.com/hook", "remote"))
    [entry] = sim.place_order()
    assert entry["outcome"].startswith("skipped: the simulator delivers only to loopback")

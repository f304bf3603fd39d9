"""End to end through the real CLI: webhooks with several targets, and refreshes that read the
shop's collection instead of every webhook on its own."""

from __future__ import annotations

import json
from typing import Any
from xml.etree import ElementTree

import pytest

from sandbox.local_engine import LocalStack
from sandbox.simulator.control import SimulatorControl
from sandbox.simulator.receiver import Receiver
from tests.helpers import CallsSince, shop_state, summary, up_with

pytestmark = pytest.mark.engine

ERP_TARGET = {"url": "https://erp.example.com/sr", "fields": ["order_innerId", "order_email"]}
WAREHOUSE_TARGET = {"url": "https://warehouse.example.com/in", "format": "xml"}
FAN_OUT: dict[str, Any] = {
    "name": "fan-out",
    "event": "order_confirm",
    "label": "ERP and warehouse",
    "targets": [ERP_TARGET, WAREHOUSE_TARGET],
}


def test_several_targets_are_one_webhook_and_one_target_changed_is_one_put(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    calls = CallsSince(sim)
    up_with(stack, [FAN_OUT])
    [hook] = shop_state(sim).values()
    assert hook["webHookParameters"] == [
        {
            "type": "json",
            "url": "https://erp.example.com/sr",
            "fields": ["order_email", "order_innerId"],
        },
        {"type": "xml", "url": "https://warehouse.example.com/in"},
    ]
    assert calls.writes() == {"POST": 1}

    reordered = {**FAN_OUT, "targets": FAN_OUT["targets"][::-1]}  # a set: order means nothing
    stack.declare([reordered])
    assert summary(stack.pulumi("preview", "--refresh").stdout) == {"unchanged": 3}

    changed = {**FAN_OUT, "targets": [{**ERP_TARGET, "fields": ["order_email"]}, WAREHOUSE_TARGET]}
    stack.declare([changed])
    assert summary(stack.pulumi("preview").stdout) == {"to update": 1, "unchanged": 2}
    calls = CallsSince(sim)
    assert summary(stack.up().stdout) == {"updated": 1, "unchanged": 2}
    assert calls.writes() == {"PUT": 1}  # never a replacement
    [hook] = shop_state(sim).values()
    assert hook["webHookParameters"][0]["fields"] == ["order_email"]
    stack.pulumi("preview", "--refresh", "--expect-no-changes")


def test_an_order_reaches_each_target_in_its_own_format_and_fields(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    with Receiver() as receiver:
        up_with(
            stack,
            [
                {
                    **FAN_OUT,
                    "targets": [
                        {"url": f"{receiver.url}/erp", "fields": ["order_email"]},
                        {"url": f"{receiver.url}/warehouse", "format": "xml"},
                    ],
                }
            ],
        )
        sim.place_order(number=7)
        got = {delivery.path: delivery for delivery in receiver.deliveries}
    assert json.loads(got["/erp"].data)["orders"]["order"] == [{"email": "customer7@example.com"}]
    order = ElementTree.fromstring(got["/warehouse"].data).find("order")
    assert order is not None and order.findtext("innerId") == "7"


def test_a_refresh_reads_the_collection_not_each_webhook(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    hooks = [
        {"name": f"hook-{n}", "event": "order_confirm", "url": f"https://h.example.com/{n}"}
        for n in range(6)
    ]
    up_with(stack, hooks)
    ids = stack.outputs()["webhookIds"]
    sim.edit_webhook(ids["hook-1"], status="0")
    sim.delete_webhook(ids["hook-2"])
    calls = CallsSince(sim)
    stack.pulumi("refresh", "--yes", "--skip-preview")
    reads = [c["path"] for c in calls.all() if c["method"] == "GET" and "/webHooks" in c["path"]]
    # One page for the six webhooks and the inventory; the missing one confirmed by its own read.
    assert sorted(reads) == ["/api/webHooks", f"/api/webHooks/{ids['hook-2']}"]
    changes = summary(stack.pulumi("preview").stdout)
    assert (changes["to create"], changes["to update"]) == (1, 1)  # the deleted, the edited

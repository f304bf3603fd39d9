"""No duplicate, whatever a person or a proxy does to the shop: through the real CLI, with
each plugin set. A renamed label is drift put back with one PUT; a page or an unreadable
answer is one plain sentence or a looked-for create; an entry without url names url."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandbox.gitops import ShopRepo
from sandbox.local_engine import LocalStack, PulumiError
from sandbox.simulator.control import SimulatorControl
from tests.helpers import CallsSince, summary, up_with

pytestmark = pytest.mark.engine

OWNER = "shoprenter-webhooks/test"
FEED = {"name": "status-feed", "event": "order_status_change", "url": "https://erp.example.com/s"}
ERP = {"name": "erp", "event": "order_confirm", "url": "https://erp.example.com/o"}
CLASS_NAMES = ("ShoprenterError", "AmbiguousOutcome", "NotFound", "Traceback")


def webhooks_by_label(sim: SimulatorControl) -> list[tuple[str, str]]:
    """Every webhook on the shop as (label as the shop holds it, status): repeats kept."""
    return sorted((hook["label"], hook["status"]) for hook in sim.webhooks())


@pytest.mark.parametrize("disabled", [False, True], ids=["rename", "rename-and-disable"])
def test_a_label_renamed_in_the_admin_is_put_back_not_doubled(
    stack: LocalStack, sim: SimulatorControl, disabled: bool
) -> None:
    up_with(stack, [FEED, ERP])
    feed_id = stack.outputs()["webhookIds"]["status-feed"]
    sim.edit_webhook(feed_id, label="Status feed", **({"status": "0"} if disabled else {}))

    preview = stack.pulumi("preview", "--refresh", "--diff")
    assert summary(preview.stdout).get("to update") == 1, preview.stdout
    assert "~ label" in preview.stdout and "released" not in preview.stdout + preview.stderr
    calls = CallsSince(sim)
    stack.up("--refresh")
    assert calls.writes() == {"PUT": 1}
    assert webhooks_by_label(sim) == [
        (f"erp [pulumi:{OWNER}]", "1"),
        (f"status-feed [pulumi:{OWNER}]", "1"),
    ]
    assert stack.outputs()["webhookIds"]["status-feed"] == feed_id
    calls = CallsSince(sim)
    stack.up("--refresh")
    assert calls.writes() == {}


def test_restore_after_a_delete_and_a_rename_is_one_post_and_one_put(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    up_with(stack, [FEED, ERP])
    ids = stack.outputs()["webhookIds"]
    sim.delete_webhook(ids["erp"])
    sim.edit_webhook(ids["status-feed"], label="feed (old)")
    calls = CallsSince(sim)
    stack.up("--refresh")
    assert calls.writes() == {"POST": 1, "PUT": 1}
    assert [label for label, _ in webhooks_by_label(sim)] == [
        f"erp [pulumi:{OWNER}]",
        f"status-feed [pulumi:{OWNER}]",
    ]


def test_destroy_deletes_a_webhook_whose_label_lost_its_marker(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    up_with(stack, [FEED])
    sim.edit_webhook(stack.outputs()["webhookIds"]["status-feed"], label="renamed")
    stack.pulumi("destroy", "--yes")
    assert sim.webhooks() == []


def test_a_gateway_page_is_one_plain_sentence(stack: LocalStack, sim: SimulatorControl) -> None:
    up_with(stack, [ERP])
    stack.declare([{**ERP, "label": "ERP sync v3"}])
    sim.fault("PUT", "/webHooks/*", mode="page", status=200)
    sim.fault("GET", "/webHooks/*", mode="page", status=200)  # the look afterwards too
    with pytest.raises(PulumiError) as caught:
        stack.up()
    output = caught.value.output
    assert (
        "update webhook ERP sync v3 failed (HTTP 200 OK): an HTML page, not an answer of "
        "the Shoprenter API" in output
    )
    assert "<html" not in output and "Gateway" not in output
    assert not [name for name in CLASS_NAMES if name in output], output


@pytest.mark.parametrize("mode", ["cut-after", "empty-after"])
def test_an_unreadable_answer_to_a_create_ends_with_exactly_one(
    stack: LocalStack, sim: SimulatorControl, mode: str
) -> None:
    sim.fault("POST", "/webHooks", mode=mode)
    calls = CallsSince(sim)
    up_with(stack, [ERP])
    assert calls.writes() == {"POST": 1}
    assert webhooks_by_label(sim) == [(f"erp [pulumi:{OWNER}]", "1")]
    stack.pulumi("preview", "--refresh", "--expect-no-changes")


def test_an_entry_without_url_names_url_at_preview(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    stack.declare([{"name": "status-feed", "event": "order_status_change"}])
    with pytest.raises(PulumiError) as caught:
        stack.pulumi("preview")
    assert "webhooks[0] (status-feed): url: is required (or targets, for several)" in (
        caught.value.output
    )
    assert sim.api_calls() == []


def test_the_first_up_shows_the_shops_other_webhooks(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    for n in range(3):
        sim.add_webhook(
            {
                "event": "order_confirm",
                "status": "1",
                "label": f"foreign {n}",
                "webHookParameters": [{"type": "json", "url": f"https://x.example.com/{n}"}],
            }
        )
    stack.declare([ERP])
    calls = CallsSince(sim)
    stack.up()
    assert [c["method"] for c in calls.all() if c["method"] == "GET"] == ["GET"]  # one listing
    unmanaged: list[dict[str, Any]] = stack.outputs()["unmanaged"]
    assert sorted(entry["label"] for entry in unmanaged) == ["foreign 0", "foreign 1", "foreign 2"]


def test_a_stack_that_listed_nothing_says_so(stack: LocalStack, sim: SimulatorControl) -> None:
    up_with(stack, [])
    assert stack.outputs()["unmanaged"].startswith("not listed yet")
    stack.pulumi("refresh", "--yes")
    stack.up()
    assert stack.outputs()["unmanaged"] == []


def test_a_renamed_label_in_a_fleet_shop_is_put_back_not_doubled(
    tmp_path: Path, pulumi_path: Path
) -> None:
    shops = ShopRepo(tmp_path, pulumi_path, ["shop-a", "shop-b", "shop-c"], [FEED, ERP])
    try:
        shops.reset_shops(rateLimit=None)
        assert shops.fleet("up", "--all")[0] == 0
        shop = shops.shops["shop-b"]
        hooks = {hook["label"].split(" [")[0]: hook["id"] for hook in shop.webhooks()}
        shop.edit_webhook(hooks["status-feed"], label="Status feed")
        shop.delete_webhook(hooks["erp"])
        code, runs, output = shops.fleet("drift", "--all")
        assert code == 2 and [r["state"] for r in runs] == ["ok", "drifted", "ok"], output
        calls = CallsSince(shop)
        assert shops.fleet("refresh", "--stacks", "shop-b")[0] == 0
        assert shops.fleet("up", "--all")[0] == 0
        assert calls.writes() == {"POST": 1, "PUT": 1}
        assert sorted(hook["label"] for hook in shop.webhooks()) == [
            "erp [pulumi:shoprenter-webhooks/shop-b]",
            "status-feed [pulumi:shoprenter-webhooks/shop-b]",
        ]
        assert shops.fleet("drift", "--all")[0] == 0
    finally:
        shops.close()

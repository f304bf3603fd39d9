"""A person's edit on the shop is drift to put back, never a release or a second webhook.

Provider methods called as the engine calls them, against the simulator over HTTP. Only a
marker naming another owner lets a webhook go (:func:`provider.core.ownership.is_foreign`).
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.dynamic import Config, ConfigureRequest

from provider import WebhookProvider
from provider.core.ownership import is_foreign
from provider.inventory import InventoryProvider
from sandbox.simulator.control import SimulatorControl
from tests.helpers import DECLARED, CallsSince, api_body, simulator_config

MINE = "agency/prod"
OURS = {**DECLARED, "owner": MINE}


def configured(provider: Any, sim: SimulatorControl, config: dict[str, Any] | None = None) -> Any:
    """``provider`` configured as the engine configures it for one command."""
    raw = simulator_config(sim) if config is None else config
    provider.configure(ConfigureRequest(Config(raw, "shoprenter-webhooks")))
    return provider


def created(provider: WebhookProvider, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    checked = provider.check({}, props)
    assert checked.failures == []
    made = provider.create(checked.inputs)
    assert made.outs is not None
    return made.id, made.outs


@pytest.mark.parametrize(
    ("marked", "mine", "foreign"),
    [(None, MINE, False), (MINE, MINE, False), ("someone/else", MINE, True), (MINE, None, True)],
)
def test_only_a_marker_naming_someone_else_is_foreign(
    marked: str | None, mine: str | None, foreign: bool
) -> None:
    assert is_foreign(marked, mine) is foreign


@pytest.mark.parametrize("disabled", [False, True], ids=["renamed", "renamed-and-disabled"])
def test_a_label_renamed_in_the_admin_is_drift_put_back_with_one_put(
    sim: SimulatorControl, disabled: bool
) -> None:
    provider = configured(WebhookProvider(), sim)
    hook_id, outs = created(provider, OURS)
    edit: dict[str, Any] = {"label": "Status feed (renamed)"}  # the marker went with the text
    if disabled:
        edit["status"] = "0"
    sim.edit_webhook(hook_id, **edit)

    read = provider.read(hook_id, outs)
    assert read.id == hook_id, "a webhook that lost its marker must stay in the state"
    assert read.outs is not None
    assert (read.outs["label"], read.outs["owner"]) == ("Status feed (renamed)", None)
    expected = ["enabled", "label"] if disabled else ["label"]
    diff = provider.diff(hook_id, read.outs, provider.check({}, OURS).inputs)
    assert diff.changes is True and diff.replaces == []
    assert sorted(k for k in ("label", "enabled") if read.outs[k] != OURS[k]) == expected

    calls = CallsSince(sim)
    provider.update(hook_id, read.outs, provider.check({}, OURS).inputs)
    assert calls.writes() == {"PUT": 1}
    [hook] = sim.webhooks()
    assert (hook["id"], hook["label"], hook["status"]) == (
        hook_id,
        f"ERP sync [pulumi:{MINE}]",
        "1",
    )


def test_a_marker_erased_back_to_the_declared_text_is_put_back_with_one_put(
    sim: SimulatorControl,
) -> None:
    """Someone deletes only the bracket: the label is the declared text, the marker is gone.
    The refresh reports the webhook unowned, so it differs from the declaration."""
    provider = configured(WebhookProvider(), sim)
    hook_id, outs = created(provider, OURS)
    sim.edit_webhook(hook_id, label=OURS["label"])

    read = provider.read(hook_id, outs)
    assert read.id == hook_id and read.outs is not None and read.inputs is not None
    assert (read.outs["label"], read.outs["owner"]) == (OURS["label"], None)
    declared = provider.check(read.inputs, OURS).inputs
    assert provider.diff(hook_id, read.outs, declared).changes is True
    calls = CallsSince(sim)
    updated = provider.update(hook_id, read.outs, declared)
    assert calls.writes() == {"PUT": 1}
    assert [hook["label"] for hook in sim.webhooks()] == [f"ERP sync [pulumi:{MINE}]"]
    assert provider.diff(hook_id, updated.outs, declared).changes is False


def test_this_owners_marker_on_other_text_is_drift(sim: SimulatorControl) -> None:
    provider = configured(WebhookProvider(), sim)
    hook_id, outs = created(provider, OURS)
    sim.edit_webhook(hook_id, label=f"typed over [pulumi:{MINE}]")
    read = provider.read(hook_id, outs)
    assert read.outs is not None and read.outs["label"] == "typed over"


def test_another_owners_marker_still_releases_without_a_write(sim: SimulatorControl) -> None:
    provider = configured(WebhookProvider(), sim)
    hook_id, outs = created(provider, OURS)
    sim.edit_webhook(hook_id, label="ERP sync [pulumi:someone/else]")
    calls = CallsSince(sim)
    assert (provider.read(hook_id, outs).id, calls.writes()) == ("", {})


def test_destroy_deletes_a_webhook_of_ours_whose_label_lost_its_marker(
    sim: SimulatorControl,
) -> None:
    provider = configured(WebhookProvider(), sim)
    hook_id, outs = created(provider, OURS)
    sim.edit_webhook(hook_id, label="renamed by hand")
    configured(WebhookProvider(), sim).delete(hook_id, outs)  # destroy: a new command
    assert sim.webhooks() == []


def test_a_stack_whose_state_is_lost_readopts_its_webhooks_by_marker_without_a_post(
    sim: SimulatorControl,
) -> None:
    first = configured(WebhookProvider(), sim)
    made = [created(first, {**OURS, "url": f"https://erp.example.com/{n}"})[0] for n in range(3)]
    calls = CallsSince(sim)
    again = configured(WebhookProvider(), sim)  # a new state, the same owner
    adopted = [created(again, {**OURS, "url": f"https://erp.example.com/{n}"})[0] for n in range(3)]
    assert adopted == made
    assert calls.writes() == {}
    assert len(sim.webhooks()) == 3


def test_a_provider_configured_for_a_new_command_lists_anew(sim: SimulatorControl) -> None:
    config = simulator_config(sim)
    provider = configured(WebhookProvider(), sim, config)
    created(provider, {**OURS, "url": "https://erp.example.com/listed"})  # lists the shop
    sim.add_webhook(api_body(label=f"ERP sync [pulumi:{MINE}]", url="https://erp.example.com/2"))
    twin = {**OURS, "url": "https://erp.example.com/2", "format": "json", "fields": None}
    twin.pop("delay")

    same_command = configured(WebhookProvider(), sim, config)  # the same Configure: one listing
    calls = CallsSince(sim)
    configured(InventoryProvider(), sim, config)
    assert same_command._ledger().shop.last_listing() is not None and calls.all() == []

    next_command = configured(WebhookProvider(), sim)  # a new Configure: a new listing
    hook_id, _ = created(next_command, twin)
    assert calls.writes() == {}  # the twin made after the first listing was found, not posted
    assert len(sim.webhooks()) == 2 and hook_id in {hook["id"] for hook in sim.webhooks()}


def inventory_props(managed: list[str]) -> dict[str, Any]:
    return {
        "mode": "report",
        "owner": MINE,
        "managed": managed,
        "adopting": [],
        "declared": [],
        "pruneTargets": [],
        "pruneLimit": 10,
    }


def test_the_first_up_records_the_listing_its_creates_made_without_a_call(
    sim: SimulatorControl,
) -> None:
    for n in range(3):
        sim.add_webhook(api_body(label=f"foreign {n}", url=f"https://x.example.com/{n}"))
    config = simulator_config(sim)
    hook_id, _ = created(configured(WebhookProvider(), sim, config), OURS)
    inventory = configured(InventoryProvider(), sim, config)
    checked = inventory.check({}, inventory_props([hook_id]))
    calls = CallsSince(sim)
    made = inventory.create(checked.inputs)
    assert calls.all() == []
    assert made.outs is not None
    assert sorted(entry["label"] for entry in made.outs["unmanaged"]) == [
        "foreign 0",
        "foreign 1",
        "foreign 2",
    ]


def test_a_first_up_that_listed_nothing_says_so(sim: SimulatorControl) -> None:
    inventory = configured(InventoryProvider(), sim)
    checked = inventory.check({}, inventory_props([]))
    made = inventory.create(checked.inputs)
    assert made.outs is not None and made.outs["unmanaged"] is None
    assert sim.requests() == []

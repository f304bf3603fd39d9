"""End to end through the real CLI: export, the unmanaged inventory, pruning, allowed targets
and payload field names (the shop's whole webhook set)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandbox.local_engine import LocalStack, PulumiError
from sandbox.simulator.control import SimulatorControl
from tests.helpers import CallsSince, api_body, package_command, shop_state, up_with

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parent.parent
OURS = {"name": "ours", "event": "order_confirm", "url": "https://erp.example.com/sr"}


def hand_made(sim: SimulatorControl) -> None:
    """Webhooks nobody declared: two in the hooks.example.com scope, a partner's, a mixed one."""
    sim.add_webhook(api_body(label="old export", url="https://a.hooks.example.com/x?key=sec1"))
    sim.add_webhook(api_body(label="stale test", url="https://b.hooks.example.com/y?key=sec2"))
    sim.add_webhook(api_body(label="partner", url="https://partner.example.org/in?key=sec3"))
    mixed = api_body(label="mixed", url="https://c.hooks.example.com/z")
    mixed["webHookParameters"].append({"type": "json", "url": "https://partner.example.org/m"})
    sim.add_webhook(mixed)


def test_export_round_trip_marks_each_webhook_and_then_shows_no_change(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    sim.add_webhook(api_body(label="ERP sync", url="https://erp.example.com/sr?key=s"))
    sim.add_webhook(api_body(label="Reviews", url="https://reviews.example.com/in", status="0"))
    two = api_body(label="two targets")
    two["webHookParameters"].append({"type": "xml", "url": "https://b.example.com/x"})
    sim.add_webhook(two)
    done = package_command(
        "export",
        "--stack",
        "test",
        "--output",
        "hooks.yaml",
        cwd=stack.project,
        env=stack.environment,
    )
    assert done.returncode == 0, done.stderr
    assert "exported 3 webhooks" in done.stderr  # the one with two targets whole

    stack.declare(None)
    stack.set_config("shoprenter-webhooks:webhooksFile", "hooks.yaml")
    calls = CallsSince(sim)
    stack.up()
    assert calls.writes() == {"PUT": 3}  # the owner's marker on each label, nothing else
    assert len(shop_state(sim)["two targets"]["webHookParameters"]) == 2
    stack.pulumi("preview", "--expect-no-changes")
    stack.pulumi("preview", "--refresh", "--expect-no-changes")


def test_report_lists_exactly_the_hand_made_webhooks_by_host(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    up_with(stack, [OURS])
    hand_made(sim)
    preview = stack.pulumi("preview", "--refresh")
    assert "4 webhooks on the shop are not managed by this stack" in preview.stdout
    stack.up("--refresh")
    unmanaged = stack.outputs()["unmanaged"]
    assert sorted(entry["label"] for entry in unmanaged) == [
        "mixed",
        "old export",
        "partner",
        "stale test",
    ]
    assert {entry["host"] for entry in unmanaged} >= {"a.hooks.example.com", "partner.example.org"}
    assert "key=" not in str(unmanaged) and "/x" not in str(unmanaged)  # hosts only
    assert set(unmanaged[0]) == {"id", "event", "label", "host", "owner"}
    assert len(sim.webhooks()) == 5  # reported, never touched


def test_a_refresh_costs_one_collection_read_and_a_plain_preview_none(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    up_with(stack, [OURS])
    for number in range(205):  # two pages
        sim.add_webhook(api_body(label=f"hand {number}"))
    calls = CallsSince(sim)
    stack.pulumi("preview")
    assert calls.all() == []
    stack.pulumi("refresh", "--yes", "--skip-preview")  # one refresh (--yes alone: two)
    reads = [c["path"] for c in calls.all() if c["method"] == "GET"]
    listing = [path for path in reads if path.endswith("/webHooks")]
    assert len(listing) == 2  # page 0 and page 1 of one collection read
    assert len(reads) == 2  # which the managed webhook's read shares: no read of its own


def configure_pruning(stack: LocalStack, **extra: Any) -> None:
    stack.set_config("shoprenter-webhooks:unmanaged", "prune")
    stack.set_config("shoprenter-webhooks:pruneTargets", ["*.hooks.example.com"])
    for key, value in extra.items():
        stack.set_config(f"shoprenter-webhooks:{key}", value)


def test_prune_deletes_exactly_the_in_scope_unmanaged_and_then_nothing(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    configure_pruning(stack)
    up_with(stack, [OURS])
    hand_made(sim)
    preview = stack.pulumi("preview", "--refresh")
    assert "will delete 2 unmanaged webhooks" in preview.stdout
    assert "'old export' (order_confirm -> a.hooks.example.com; unowned)" in preview.stdout
    assert "'stale test' (order_confirm -> b.hooks.example.com; unowned)" in preview.stdout
    assert sorted(shop_state(sim)) == ["mixed", "old export", "ours", "partner", "stale test"]

    calls = CallsSince(sim)
    stack.up("--refresh")
    assert calls.writes() == {"DELETE": 2}
    assert sorted(shop_state(sim)) == ["mixed", "ours", "partner"]  # out of scope: kept

    again = CallsSince(sim)
    stack.up("--refresh")
    assert again.writes() == {}
    stack.pulumi("destroy", "--yes")
    assert sorted(shop_state(sim)) == ["mixed", "partner"]  # destroy never prunes


def test_prune_above_the_limit_fails_and_deletes_nothing(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    configure_pruning(stack, pruneLimit="1")
    up_with(stack, [OURS])
    hand_made(sim)
    calls = CallsSince(sim)
    with pytest.raises(PulumiError) as caught:
        stack.up("--refresh")
    assert "2 unmanaged webhooks are in scope for pruning, more than pruneLimit (1)" in (
        caught.value.output
    )
    assert calls.writes() == {}
    assert len(sim.webhooks()) == 5


def test_prune_without_a_scope_fails_at_preview_with_no_call(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    stack.set_config("shoprenter-webhooks:unmanaged", "prune")
    stack.declare([OURS])
    with pytest.raises(PulumiError) as caught:
        stack.pulumi("preview")
    assert "set shoprenter-webhooks:pruneTargets" in caught.value.output
    assert sim.requests() == []


def test_allowed_targets_refuse_an_outside_host_at_preview_with_no_call(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    stack.set_config("shoprenter-webhooks:allowedTargets", ["erp.example.com"])
    leak = {"name": "leak", "event": "order_confirm", "url": "https://paste.example.net/x"}
    stack.declare([OURS, leak])
    with pytest.raises(PulumiError) as caught:
        stack.pulumi("preview")
    assert "webhooks[1] (leak): url: paste.example.net is not among the allowed targets" in (
        caught.value.output
    )
    assert sim.requests() == []
    stack.declare([OURS])
    stack.up()
    assert sorted(shop_state(sim)) == ["ours"]


def test_unknown_fields_are_refused_and_extra_fields_accepted(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    newer = {**OURS, "fields": ["order_email", "order_loyaltyTier"]}
    stack.declare([newer])
    with pytest.raises(PulumiError) as caught:
        stack.pulumi("preview")
    assert "webhooks[0] (ours): fields: order_loyaltyTier is not a documented payload field" in (
        caught.value.output
    )
    assert sim.requests() == []
    stack.set_config("shoprenter-webhooks:extraFields", ["order_loyaltyTier"])
    stack.up()
    [hook] = sim.webhooks()
    assert hook["webHookParameters"][0]["fields"] == ["order_email", "order_loyaltyTier"]


def test_a_program_of_ones_own_gets_the_allowed_targets_check_from_the_provider(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    program = (
        "from provider import Webhook\n"
        "Webhook('leak', event='order_confirm', url='https://paste.example.net/x')\n"
    )
    (stack.project / "__main__.py").write_text(program, encoding="utf-8")
    stack.set_config("shoprenter-webhooks:allowedTargets", ["erp.example.com"])
    with pytest.raises(PulumiError) as caught:
        stack.pulumi("preview")
    assert "paste.example.net is not among the allowed targets" in caught.value.output
    assert sim.requests() == []


POLICY_PACK = ROOT / "examples" / "policy"


def test_the_example_policy_pack_refuses_a_forbidden_target_and_advises_on_owners(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    owned = {**OURS, "label": "ERP sync @erp-team"}
    stack.declare(
        [owned, {"name": "unowned", "event": "order_confirm", "url": "https://crm.example.com/x"}]
    )
    allowed = stack.pulumi("preview", "--policy-pack", str(POLICY_PACK))
    assert "webhook-label-names-owner" in allowed.stdout  # advisory: reported, not failing
    assert "unowned: label 'unowned' names no owner; add one as @team" in allowed.stdout

    stack.declare(
        [owned, {"name": "leak", "event": "order_confirm", "url": "https://paste.example.net/x"}]
    )
    with pytest.raises(PulumiError) as caught:
        stack.pulumi("preview", "--policy-pack", str(POLICY_PACK))
    assert "webhook-targets-allowed" in caught.value.output
    assert "leak delivers to paste.example.net" in caught.value.output
    assert sim.requests() == []

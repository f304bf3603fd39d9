"""``python -m provider export`` against the simulator, as a person runs it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any, Optional

import yaml

from provider.core.declarations import parse_declarations
from provider.core.model import LiveWebhook, read_listed
from provider.core.rules import Rules
from provider.shoprenter.client import Listing
from provider.shoprenter.export import UniqueNames, export
from sandbox.local_engine import shoprenter_variables
from sandbox.simulator.control import SimulatorControl
from tests.helpers import api_body, package_command

ROOT = Path(__file__).resolve().parent.parent


def run_export(
    *args: str, sim: Optional[SimulatorControl] = None
) -> subprocess.CompletedProcess[str]:
    """``python -m provider export ARGS`` with the simulator's settings in ``SHOPRENTER_*``
    variables, or with no settings at all."""
    connection = sim.connection(requestsPerSecond="1000") if sim else {}
    variables = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SHOPRENTER_")},
        **shoprenter_variables(connection),
    }
    return package_command("export", *args, env=variables)


def add_hand_made(sim: SimulatorControl) -> dict[str, Any]:
    """What a shop may have: hooks from the admin, one with two targets, one over http, one
    with one url twice."""
    sim.add_webhook(
        api_body(
            label="ERP sync",
            url="https://erp.example.com/sr?key=s3cret",
            webHookDelay=[{"delay": "2", "delayUnit": "hour"}],
        )
    )
    sim.add_webhook(api_body(label="ERP sync", url="https://erp.example.com/other", status="0"))
    sim.add_webhook(
        {
            "event": "newsletter_subscribe",
            "status": "1",
            "label": "Hírlevél CRM",
            "webHookParameters": [
                {"type": "xml", "url": "https://crm.example.com/nl", "fields": ["subscriber_email"]}
            ],
        }
    )
    two = api_body(label="two targets")
    two["webHookParameters"].append({"type": "json", "url": "https://b.example.com/x"})
    sim.add_webhook(two)
    twice = api_body(label="one url twice")
    twice["webHookParameters"].append(twice["webHookParameters"][0])
    sim.add_webhook(twice)
    return sim.add_webhook(api_body(label="plain http", url="http://legacy.example.com/x?key=k"))


def test_export_writes_declarations_that_take_every_webhook_over(
    sim: SimulatorControl, tmp_path: Path
) -> None:
    add_hand_made(sim)
    output = tmp_path / "hooks.yaml"
    done = run_export("--output", str(output), sim=sim)
    assert done.returncode == 0, done.stderr
    document = yaml.safe_load(output.read_text())
    names = [entry["name"] for entry in document["webhooks"]]
    assert names == ["erp-sync", "erp-sync-2", "hirlevel-crm", "two-targets"]
    assert all(entry["adoptId"] for entry in document["webhooks"])
    assert document["webhooks"][0]["delay"] == {"amount": 2, "unit": "hour"}
    assert document["webhooks"][1]["enabled"] is False
    assert document["webhooks"][0]["url"] == "https://erp.example.com/sr?key=s3cret"
    assert [t["url"] for t in document["webhooks"][3]["targets"]] == [
        "https://b.example.com/x",
        "https://erp.example.com/hook",
    ]
    assert output.stat().st_mode & 0o777 == 0o600  # URLs may carry secrets
    declared = parse_declarations(document["webhooks"])  # valid as it stands
    assert [d.webhook.adopt_id for d in declared] == [e["adoptId"] for e in document["webhooks"]]
    assert "left out" in done.stderr and "two targets deliver to one url" in done.stderr
    assert "legacy.example.com" in done.stderr and "key=k" not in done.stderr
    assert "page 1, 6 so far" in done.stderr


def test_stack_config_format_prints_the_block_to_paste(sim: SimulatorControl) -> None:
    sim.add_webhook(api_body(label="ERP sync"))
    done = run_export("--format", "stack-config", sim=sim)
    assert done.returncode == 0, done.stderr
    block = yaml.safe_load(done.stdout)["config"]["shoprenter-webhooks:webhooks"]
    assert [entry["label"] for entry in block] == ["ERP sync"]


def test_export_without_settings_fails_naming_what_to_set() -> None:
    done = run_export()
    assert done.returncode == 1
    assert "SHOPRENTER_CLIENT_ID" in done.stderr and "Traceback" not in done.stderr


def test_undocumented_field_names_are_kept_and_named_for_extra_fields() -> None:
    answer = api_body(label="new fields", id="abc", href="h")
    answer["webHookParameters"][0]["fields"] = ["order_email", "order_loyaltyTier"]
    found = read_listed(answer)
    assert isinstance(found, LiveWebhook)
    result = export(Listing(webhooks=[found]), Rules())
    assert [entry["fields"] for entry in result.entries] == [["order_email", "order_loyaltyTier"]]
    assert result.extra_fields == {"order_loyaltyTier"}
    rendered = yaml.safe_load(result.render("stack-config"))["config"]
    assert rendered["shoprenter-webhooks:extraFields"] == ["order_loyaltyTier"]


def test_names_are_readable_and_unique() -> None:
    names = UniqueNames(["taken"])
    assert [
        names.take(label) for label in ["ERP sync", "ERP  sync!", "Árvíztűrő", "", "taken"]
    ] == [
        "erp-sync",
        "erp-sync-2",
        "arvizturo",
        "webhook",
        "taken-2",
    ]


def test_export_strips_markers_and_skips_other_owners_unless_asked(sim: SimulatorControl) -> None:
    sim.add_webhook(api_body(label="ERP sync", url="https://erp.example.com/a"))
    sim.add_webhook(api_body(label="CRM [pulumi:team-b/prod]", url="https://crm.example.com/b"))
    default = run_export(sim=sim)
    assert done_labels(default) == ["ERP sync"]
    assert "skipped" in default.stderr and "owned by team-b/prod" in default.stderr
    assert "--owner" in default.stderr
    named = run_export("--owner", "team-b/prod", sim=sim)
    assert done_labels(named) == ["ERP sync", "CRM"]  # the marker stripped
    assert done_labels(run_export("--owner", "any", sim=sim)) == ["ERP sync", "CRM"]
    assert "owner" not in yaml.safe_load(named.stdout)["webhooks"][1]  # the adopter marks it


def done_labels(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert done.returncode == 0, done.stderr
    return [entry["label"] for entry in yaml.safe_load(done.stdout)["webhooks"]]

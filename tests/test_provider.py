"""The dynamic provider's methods, called as the engine calls them, against the simulator."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from pulumi.dynamic import Config, ConfigureRequest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.output import Unknown

from provider import WebhookProvider
from provider.core import declarations, model
from provider.core.bag import PROPERTY_KEYS
from provider.core.declarations import CHECKED_KEY
from sandbox.simulator.control import SimulatorControl
from sandbox.simulator.shop import DEFAULT_CLIENT_SECRET
from tests.helpers import DECLARED, api_body, simulator_config


@pytest.fixture
def provider(sim: SimulatorControl) -> WebhookProvider:
    configured = WebhookProvider()
    configured.configure(ConfigureRequest(Config(simulator_config(sim), "shoprenter-webhooks")))
    return configured


def checked(provider: WebhookProvider, props: dict[str, Any]) -> dict[str, Any]:
    result = provider.check({}, props)
    assert result.failures == []
    return result.inputs


def test_check_normalises_and_makes_no_call(
    provider: WebhookProvider, sim: SimulatorControl
) -> None:
    inputs = checked(provider, {**DECLARED, "webhookId": None, "href": None, "__provider": "x"})
    assert inputs["targets"][0]["fields"] == ["order_email", "order_innerId"]
    assert set(inputs) == {*PROPERTY_KEYS, CHECKED_KEY}
    assert sim.requests() == []


def test_inputs_judged_before_are_accepted_unjudged_under_the_same_release_and_rules(
    provider: WebhookProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = checked(provider, DECLARED)

    def judged_again(*_args: Any) -> None:
        raise AssertionError("validated again")

    monkeypatch.setattr(model, "validate_declaration", judged_again)
    again = provider.check(first, {key: first[key] for key in PROPERTY_KEYS})
    assert again.failures == [] and again.inputs == first
    with pytest.raises(AssertionError, match="validated again"):  # another value: judged
        provider.check(first, {**first, "label": "renamed"})
    with pytest.raises(AssertionError, match="validated again"):  # a stray key: judged
        provider.check(first, {**first, "colour": "red"})


def test_the_same_inputs_are_judged_again_under_new_rules_or_a_new_release(
    provider: WebhookProvider, sim: SimulatorControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = checked(provider, DECLARED)  # delivers to erp.example.com
    strict = {**simulator_config(sim), "shoprenter-webhooks:allowedTargets": '["*.shop.example"]'}
    provider.configure(ConfigureRequest(Config(strict, "shoprenter-webhooks")))
    refused = provider.check(first, {key: first[key] for key in PROPERTY_KEYS})
    assert [failure.property for failure in refused.failures] == ["targets"]
    assert "not among the allowed targets" in refused.failures[0].reason
    provider.configure(ConfigureRequest(Config(simulator_config(sim), "shoprenter-webhooks")))
    monkeypatch.setattr(declarations, "__version__", "9.9.9")
    assert checked(provider, first)[CHECKED_KEY] != first[CHECKED_KEY]


def test_an_unchanged_check_and_diff_load_no_models() -> None:
    """What a provider process of an unchanged run does, short of the engine: no pydantic."""
    code = (
        "import sys\n"
        "from provider.webhook_provider import WebhookProvider\n"
        "from provider.inventory import InventoryProvider\n"
        f"DECLARED = {DECLARED!r}\n"
        "assert 'pydantic' not in sys.modules, 'imported with the providers'\n"
        "import provider.core.model\n"
        "inputs = WebhookProvider().check({}, DECLARED).inputs\n"
        "del sys.modules['provider.core.model']; [sys.modules.pop(m) for m in list(sys.modules) "
        "if m.startswith('pydantic')]\n"
        "again = WebhookProvider().check(inputs, {k: v for k, v in inputs.items() "
        "if not k.startswith('__')}).inputs\n"
        "outputs = {**inputs, 'webhookId': '1', 'href': 'h'}\n"
        "assert not WebhookProvider().diff('1', outputs, again).changes\n"
        "assert 'provider.core.model' not in sys.modules, 'loaded by an unchanged check or diff'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_check_names_each_bad_property(provider: WebhookProvider) -> None:
    result = provider.check(
        {}, {**DECLARED, "url": "http://erp.example.com", "delay": {"amount": 0, "unit": "x"}}
    )
    assert sorted({failure.property for failure in result.failures}) == ["delay", "url"]
    assert all(failure.reason for failure in result.failures)


def test_check_accepts_unknown_values_in_preview(
    provider: WebhookProvider, sim: SimulatorControl
) -> None:
    unknown = Unknown()  # type: ignore[no-untyped-call]
    computed = {"url": unknown, "fields": ["order_email", unknown]}
    result = provider.check({}, {**DECLARED, **computed})
    assert result.failures == []
    assert isinstance(result.inputs["targets"][0]["url"], Unknown)
    diff = provider.diff("id", {**DECLARED, "webhookId": "id", "href": "h"}, result.inputs)
    assert diff.changes is True
    assert sim.requests() == []


def test_create_then_diff_and_read_report_no_change(
    provider: WebhookProvider, sim: SimulatorControl
) -> None:
    inputs = checked(provider, DECLARED)
    created = provider.create(inputs)
    assert created.outs is not None
    assert created.outs["webhookId"] == created.id
    assert provider.diff(created.id, created.outs, inputs).changes is False

    read = provider.read(created.id, created.outs)
    assert read.id == created.id and read.outs == created.outs
    assert read.inputs == {k: v for k, v in inputs.items() if k != CHECKED_KEY}  # judged anew
    assert provider.diff(created.id, read.outs or {}, inputs).changes is False


def test_diff_reports_real_changes_in_place(provider: WebhookProvider) -> None:
    inputs = checked(provider, DECLARED)
    outs = {**inputs, "webhookId": "id", "href": "h"}
    news = checked(provider, {**DECLARED, "fields": ["order_email"], "enabled": False})
    diff = provider.diff("id", outs, news)
    assert diff.changes is True
    assert diff.replaces == [] and diff.delete_before_replace is False
    reordered = checked(provider, {**DECLARED, "fields": ["order_email", "order_innerId"]})
    assert provider.diff("id", outs, reordered).changes is False


def test_drift_made_in_the_admin_shows_after_read(
    provider: WebhookProvider, sim: SimulatorControl
) -> None:
    inputs = checked(provider, DECLARED)
    created = provider.create(inputs)
    sim.edit_webhook(created.id, status="0", label="changed by hand")
    read = provider.read(created.id, created.outs or {})
    assert read.outs is not None and read.outs["enabled"] is False
    assert provider.diff(created.id, read.outs, inputs).changes is True
    updated = provider.update(created.id, read.outs, inputs)
    assert updated.outs == created.outs
    assert sim.webhooks()[0]["label"] == "ERP sync"


def test_read_of_a_deleted_webhook_drops_it(
    provider: WebhookProvider, sim: SimulatorControl
) -> None:
    created = provider.create(checked(provider, DECLARED))
    sim.delete_webhook(created.id)
    read = provider.read(created.id, created.outs or {})
    assert (read.id, read.outs) == ("", {})


def test_delete_tolerates_a_webhook_already_gone(
    provider: WebhookProvider, sim: SimulatorControl
) -> None:
    created = provider.create(checked(provider, DECLARED))
    provider.delete(created.id, created.outs or {})
    provider.delete(created.id, created.outs or {})
    assert sim.webhooks() == []


def test_update_returns_full_outputs(provider: WebhookProvider) -> None:
    inputs = checked(provider, DECLARED)
    created = provider.create(inputs)
    news = checked(provider, {**DECLARED, "delay": None})
    updated = provider.update(created.id, created.outs or {}, news)
    assert updated.outs is not None
    assert set(updated.outs) == {*PROPERTY_KEYS, "webhookId", "href"}
    assert updated.outs["delay"] is None


def test_a_provider_recorded_under_another_name_is_recorded_anew_without_a_call(
    provider: WebhookProvider, sim: SimulatorControl
) -> None:
    inputs = checked(provider, DECLARED)
    created = provider.create(inputs)
    recorded = {**(created.outs or {}), "__provider": "pickled as provider.webhook_provider"}
    declared = {**inputs, "__provider": "pickled as shoprenter_webhooks.webhook_provider"}
    assert provider.diff(created.id, recorded, declared).changes is True
    calls = len(sim.requests())
    updated = provider.update(created.id, recorded, declared)
    assert len(sim.requests()) == calls  # the shop already has it: no PUT
    assert updated.outs == created.outs
    same = {**recorded, "__provider": declared["__provider"]}
    assert provider.diff(created.id, same, declared).changes is False
    assert not provider.diff(created.id, created.outs or {}, inputs).changes


def test_adopt_id_is_kept_in_outputs_and_ignored_by_diff(
    provider: WebhookProvider, sim: SimulatorControl
) -> None:
    existing = sim.add_webhook(api_body(label="by hand"))
    inputs = checked(provider, {**DECLARED, "adoptId": existing["id"]})
    created = provider.create(inputs)
    assert created.id == existing["id"] and len(sim.webhooks()) == 1
    assert created.outs is not None and created.outs["adoptId"] == existing["id"]
    without = checked(provider, DECLARED)
    assert provider.diff(created.id, created.outs, without).changes is False


def test_the_pickled_provider_carries_no_settings_or_credentials(
    provider: WebhookProvider,
) -> None:
    provider.create(checked(provider, DECLARED))  # settings resolved, client built
    pickled = serialize_provider(provider)
    fresh = serialize_provider(WebhookProvider())
    assert pickled == fresh
    assert DEFAULT_CLIENT_SECRET.encode() not in pickled.encode()


def test_importing_the_provider_has_no_side_effects() -> None:
    code = (
        "import sys, threading, socket\n"
        "before = threading.active_count()\n"
        "import provider\n"
        "assert threading.active_count() == before, 'a thread was started'\n"
        "assert 'requests' not in sys.modules, 'the HTTP stack loads only when needed'\n"
        "from provider.shoprenter import ledger\n"
        "assert ledger.open_ledgers() == 0, 'a client was built'\n"
    )
    environment = {**os.environ, "SHOPRENTER_CLIENT_SECRET": "x"}
    subprocess.run([sys.executable, "-c", code], check=True, env=environment, timeout=60)

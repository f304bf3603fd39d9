"""The create-or-adopt policy against the simulator: no duplicate, no shared or stolen webhook."""

from __future__ import annotations

import threading

import pytest

from provider.core.errors import NotFound, OwnedElsewhere, ShoprenterError
from provider.core.model import DeclaredWebhook, Target
from provider.shoprenter.client import PacedRetry, ShoprenterClient
from provider.shoprenter.ledger import WebhookLedger
from sandbox.simulator.control import SimulatorControl
from tests.helpers import ERP, CallsSince, api_body, oauth_settings


def ledger_on(sim: SimulatorControl, **overrides: object) -> WebhookLedger:
    """A ledger as a new provider process would have it."""
    return WebhookLedger(ShoprenterClient(oauth_settings(sim, **overrides)))


@pytest.fixture
def client(sim: SimulatorControl) -> WebhookLedger:
    return ledger_on(sim)


def test_create_read_update_delete(client: WebhookLedger, sim: SimulatorControl) -> None:
    created = client.create(ERP)
    assert created.state.same_webhook(ERP)
    assert created.href.endswith(f"/api/webHooks/{created.id}")
    stored = sim.webhooks()
    assert [hook["label"] for hook in stored] == ["ERP sync"]
    assert stored[0]["webHookDelay"] == [{"delay": "2", "delayUnit": "hour"}]

    read = client.shop.read(created.id)
    assert read is not None and read.state.same_webhook(ERP)

    disabled = ERP.model_copy(update={"enabled": False, "delay": None})
    updated = client.update(created.id, disabled)
    assert updated.state.same_webhook(disabled)
    assert sim.webhooks()[0]["status"] == "0"
    assert sim.webhooks()[0]["webHookDelay"] == []

    client.delete(created.id, "ERP sync", ERP.owner)
    client.delete(created.id, "ERP sync", ERP.owner)  # already gone: still done
    assert sim.webhooks() == []
    assert client.shop.read(created.id) is None


def test_a_lost_post_response_does_not_duplicate(
    client: WebhookLedger, sim: SimulatorControl
) -> None:
    sim.fault("POST", "/webHooks", mode="drop-after")
    created = client.create(ERP)
    assert len(sim.webhooks()) == 1
    assert sim.webhooks()[0]["id"] == created.id
    assert len(sim.api_calls("POST")) == 1  # found, not posted again


def test_a_post_that_timed_out_but_landed_is_found_not_repeated(sim: SimulatorControl) -> None:
    client = ledger_on(sim, timeout_seconds=0.3)
    sim.fault("POST", "/webHooks", mode="delay", seconds=1.0)
    created = client.create(ERP)
    assert [hook["id"] for hook in sim.webhooks()] == [created.id]


def test_a_post_refused_by_a_5xx_is_retried_after_looking(
    client: WebhookLedger, sim: SimulatorControl
) -> None:
    sim.fault("POST", "/webHooks", status=503, count=2)
    client.create(ERP)
    assert len(sim.webhooks()) == 1
    methods = [call["method"] for call in sim.api_calls()]
    assert methods == ["GET", "POST", "GET", "POST", "GET", "POST"]


def test_create_adopts_an_identical_webhook_instead_of_duplicating(
    client: WebhookLedger, sim: SimulatorControl
) -> None:
    existing = sim.add_webhook(api_body(label="ERP sync", url=ERP.urls[0]))
    adopted = client.create(ERP)
    assert adopted.id == existing["id"]
    assert len(sim.webhooks()) == 1
    # The hand-made one had no fields or delay: taking it over made it match.
    assert adopted.state.same_webhook(ERP)
    assert sim.webhooks()[0]["webHookDelay"] == [{"delay": "2", "delayUnit": "hour"}]


def test_two_resources_never_share_one_webhook(
    client: WebhookLedger, sim: SimulatorControl
) -> None:
    first = client.create(ERP)
    other = ERP.model_copy(update={"adopt_id": first.id, "label": "someone else's"})
    with pytest.raises(ShoprenterError, match="already managed by another resource"):
        client.create(other)
    assert sim.webhooks()[0]["label"] == "ERP sync"  # refused before it was touched


def test_adopt_id_takes_over_the_named_webhook(
    client: WebhookLedger, sim: SimulatorControl
) -> None:
    existing = sim.add_webhook(api_body(label="hand made", url="https://old.example.com/x"))
    adopted = client.create(ERP.model_copy(update={"adopt_id": existing["id"]}))
    assert adopted.id == existing["id"]
    assert [hook["label"] for hook in sim.webhooks()] == ["ERP sync"]
    with pytest.raises(NotFound, match="adoptId 'missing' names no webhook"):
        client.create(ERP.model_copy(update={"adopt_id": "missing"}))


def test_many_creates_from_four_threads_cost_one_collection_read(
    client: WebhookLedger, sim: SimulatorControl
) -> None:
    sim.settings(latencyMs=30)  # so that the threads really overlap
    threads = [
        threading.Thread(target=client.create, args=(ERP.model_copy(update={"label": str(n)}),))
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sim.api_calls("GET")) == 1
    assert len(sim.api_calls("POST")) == 8


def test_errors_name_operation_webhook_status_and_message(
    client: WebhookLedger, sim: SimulatorControl
) -> None:
    sim.fault("PUT", "/webHooks/abc", status=400)
    with pytest.raises(ShoprenterError) as caught:
        client.update("abc", ERP)
    assert (
        str(caught.value) == "update webhook ERP sync failed (HTTP 400 Bad Request): injected fault"
    )
    with pytest.raises(
        NotFound, match=r"update webhook ERP sync failed \(HTTP 404 Not Found\).*refresh"
    ):
        client.update("missing", ERP)


def test_a_post_dropped_before_it_was_handled_is_sent_again(
    client: WebhookLedger, sim: SimulatorControl
) -> None:
    sim.fault("POST", "/webHooks", mode="drop-before")
    client.create(ERP)
    assert len(sim.webhooks()) == 1
    assert [call["status"] for call in sim.api_calls("POST")] == [0, 201]


def test_a_webhook_taken_over_in_this_run_is_not_deleted_by_its_old_resource(
    sim: SimulatorControl,
) -> None:
    earlier_run = ledger_on(sim)
    old = earlier_run.create(ERP)
    this_run = ledger_on(sim)
    renamed = this_run.create(ERP)  # a resource renamed without an alias: created anew
    assert renamed.id == old.id
    this_run.delete(old.id, "ERP sync", ERP.owner)  # ...then the old resource is deleted
    assert [hook["id"] for hook in sim.webhooks()] == [old.id]


def test_refusals_do_not_use_up_the_attempts_of_a_create(
    client: WebhookLedger, sim: SimulatorControl
) -> None:
    sim.fault("POST", "/webHooks", status=429, count=6)  # more than the unclear-outcome budget
    created = client.create(ERP)
    assert [hook["id"] for hook in sim.webhooks()] == [created.id]
    assert [call["status"] for call in sim.api_calls("POST")] == [429] * 6 + [201]


MINE = ERP.model_copy(update={"owner": "agency/prod"})


def test_another_owners_twin_is_refused_before_any_write(sim: SimulatorControl) -> None:
    theirs = sim.add_webhook(api_body(label="ERP sync [pulumi:team-b/prod]", url=ERP.urls[0]))
    calls = CallsSince(sim)
    with pytest.raises(OwnedElsewhere, match=r"managed by another stack, team-b/prod"):
        ledger_on(sim).create(MINE)
    assert calls.writes() == {}  # the listing alone
    with pytest.raises(OwnedElsewhere):
        ledger_on(sim).create(MINE.model_copy(update={"adopt_id": theirs["id"]}))


def test_take_over_from_moves_another_owners_twin_with_one_put(sim: SimulatorControl) -> None:
    theirs = sim.add_webhook(api_body(label="ERP sync [pulumi:team-b/prod]", url=ERP.urls[0]))
    live = ledger_on(sim).create(
        MINE.model_copy(update={"targets": (Target(url=ERP.urls[0]),), "delay": None}),
        frozenset({"team-b/prod"}),
    )
    assert live.id == theirs["id"] and live.state.owner == "agency/prod"
    assert sim.webhooks()[0]["label"] == "ERP sync [pulumi:agency/prod]"


def test_a_delete_lets_go_of_a_webhook_someone_else_marks_now(sim: SimulatorControl) -> None:
    ledger = ledger_on(sim)
    made = ledger.create(MINE)
    sim.edit_webhook(made.id, label="ERP sync [pulumi:someone/else]")
    ledger_on(sim).delete(made.id, "ERP sync", "agency/prod")
    assert [hook["id"] for hook in sim.webhooks()] == [made.id]
    ledger_on(sim).delete(made.id, "ERP sync", "someone/else")  # its owner's own delete
    assert sim.webhooks() == []


def hand_made(sim: SimulatorControl, count: int) -> list[str]:
    return [
        sim.add_webhook(api_body(label=f"hook {n}", url=f"https://h.example.com/{n}"))["id"]
        for n in range(count)
    ]


def webhook_calls(calls: CallsSince) -> list[str]:
    return [f"{c['method']} {c['path']}" for c in calls.all() if "/webHooks" in c["path"]]


def test_a_refresh_reads_every_webhook_from_one_listing(sim: SimulatorControl) -> None:
    ids = hand_made(sim, 5)
    calls = CallsSince(sim)
    ledger = ledger_on(sim)
    read = [ledger.shop.read(webhook_id) for webhook_id in ids]
    assert [live.state.label for live in read if live] == [f"hook {n}" for n in range(5)]
    assert webhook_calls(calls) == ["GET /api/webHooks"]  # one page, no read of its own
    assert [live.id for live in ledger.shop.listing().webhooks] == ids  # shared, not listed again
    assert len(webhook_calls(calls)) == 1


def test_a_webhook_the_listing_lacks_is_gone_only_when_its_own_read_says_so(
    sim: SimulatorControl,
) -> None:
    [listed] = hand_made(sim, 1)
    ledger = ledger_on(sim)
    assert ledger.shop.read(listed) is not None  # the listing is read here
    later = sim.add_webhook(api_body(label="made since", url="https://h.example.com/later"))
    calls = CallsSince(sim)
    found = ledger.shop.read(later["id"])
    assert found is not None and found.state.label == "made since"
    sim.delete_webhook(later["id"])
    assert ledger.shop.read(later["id"]) is None
    assert webhook_calls(calls) == [f"GET /api/webHooks/{later['id']}"] * 2


def test_a_listing_that_keeps_failing_falls_back_to_each_webhooks_own_read(
    sim: SimulatorControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PacedRetry, "get_backoff_time", lambda _self: 0.0)  # no waiting here
    ids = hand_made(sim, 3)
    sim.fault("GET", "/webHooks", status=503, count=99)  # the page, never the items
    calls = CallsSince(sim)
    ledger = ledger_on(sim)
    read = [ledger.shop.read(webhook_id) for webhook_id in ids]
    assert all(live is not None for live in read)  # nothing live reported gone
    pages = [call for call in webhook_calls(calls) if call.endswith("/webHooks")]
    assert len(pages) == 6  # the page and its 5 retries, once for the whole refresh
    assert len(webhook_calls(calls)) == 6 + 3


def test_a_page_that_fails_twice_is_retried_and_the_refresh_stays_one_listing(
    sim: SimulatorControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PacedRetry, "get_backoff_time", lambda _self: 0.0)
    ids = hand_made(sim, 3)
    sim.fault("GET", "/webHooks", mode="drop-before", count=1)
    sim.fault("GET", "/webHooks", status=502, count=1)
    calls = CallsSince(sim)
    ledger = ledger_on(sim)
    assert all(ledger.shop.read(webhook_id) is not None for webhook_id in ids)
    assert webhook_calls(calls) == ["GET /api/webHooks"] * 3


def test_a_webhook_with_the_same_targets_in_another_order_is_adopted_not_duplicated(
    sim: SimulatorControl,
) -> None:
    fan_out = api_body(label="ERP sync", url="https://b.example.com/in")
    fan_out["webHookParameters"].insert(0, {"type": "xml", "url": "https://a.example.com/in"})
    existing = sim.add_webhook(fan_out)
    b_first = [
        {"url": "https://b.example.com/in"},
        {"url": "https://a.example.com/in", "format": "xml"},
    ]
    declared = DeclaredWebhook.model_validate({**ERP.to_props(), "targets": b_first, "delay": None})
    calls = CallsSince(sim)
    adopted = ledger_on(sim).create(declared)
    assert adopted.id == existing["id"] and len(sim.webhooks()) == 1
    assert calls.writes() == {}  # the same webhook: nothing to write

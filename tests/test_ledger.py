"""The create-or-adopt policy against the simulator: no duplicate, no shared or stolen webhook."""

from __future__ import annotations

import threading

import pytest

from provider.client import ShoprenterClient
from provider.errors import NotFound, OwnedElsewhere, ShoprenterError
from provider.ledger import WebhookLedger
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

    read = client.read(created.id)
    assert read is not None and read.state.same_webhook(ERP)

    disabled = ERP.model_copy(update={"enabled": False, "delay": None})
    updated = client.update(created.id, disabled)
    assert updated.state.same_webhook(disabled)
    assert sim.webhooks()[0]["status"] == "0"
    assert sim.webhooks()[0]["webHookDelay"] == []

    client.delete(created.id, "ERP sync", ERP.owner)
    client.delete(created.id, "ERP sync", ERP.owner)  # already gone: still done
    assert sim.webhooks() == []
    assert client.read(created.id) is None


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
    existing = sim.add_webhook(api_body(label="ERP sync", url=ERP.url))
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
    assert str(caught.value) == "update webhook ERP sync failed (HTTP 400): injected fault"
    with pytest.raises(NotFound, match=r"update webhook ERP sync failed \(HTTP 404\).*refresh"):
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
    theirs = sim.add_webhook(api_body(label="ERP sync [pulumi:team-b/prod]", url=ERP.url))
    calls = CallsSince(sim)
    with pytest.raises(OwnedElsewhere, match=r"managed by another stack, team-b/prod"):
        ledger_on(sim).create(MINE)
    assert calls.writes() == {}  # the listing alone
    with pytest.raises(OwnedElsewhere):
        ledger_on(sim).create(MINE.model_copy(update={"adopt_id": theirs["id"]}))


def test_take_over_from_moves_another_owners_twin_with_one_put(sim: SimulatorControl) -> None:
    theirs = sim.add_webhook(api_body(label="ERP sync [pulumi:team-b/prod]", url=ERP.url))
    live = ledger_on(sim).create(
        MINE.model_copy(update={"fields": (), "delay": None}), frozenset({"team-b/prod"})
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

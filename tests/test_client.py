"""The HTTP client against the simulator over real HTTP on loopback."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from provider.client import ShoprenterClient
from provider.errors import CredentialsRejected, NotFound, ShoprenterError
from provider.model import DeclaredWebhook
from provider.simulator.control import SimulatorControl
from provider.simulator.shop import DEFAULT_PASSWORD, DEFAULT_USERNAME
from tests.conftest import api_body, oauth_settings

ERP = DeclaredWebhook(
    event="order_confirm",
    url="https://erp.example.com/hooks/sr",
    label="ERP sync",
    fields=("order_email", "order_innerId"),
    delay={"amount": 2, "unit": "hour"},  # type: ignore[arg-type]
)


@pytest.fixture
def client(sim: SimulatorControl) -> ShoprenterClient:
    return ShoprenterClient(oauth_settings(sim))


def test_create_read_update_delete(client: ShoprenterClient, sim: SimulatorControl) -> None:
    created = client.create(ERP)
    assert created.state.same_webhook(ERP)
    assert created.href.endswith(f"/api/webHooks/{created.id}")
    stored = sim.webhooks()
    assert [hook["label"] for hook in stored] == ["ERP sync"]
    assert stored[0]["webHookDelay"] == [{"delay": "2", "delayUnit": "hour"}]

    read = client.get(created.id)
    assert read is not None and read.state.same_webhook(ERP)

    disabled = ERP.model_copy(update={"enabled": False, "delay": None})
    updated = client.update(created.id, disabled)
    assert updated.state.same_webhook(disabled)
    assert sim.webhooks()[0]["status"] == "0"
    assert sim.webhooks()[0]["webHookDelay"] == []

    client.delete(created.id, "ERP sync")
    client.delete(created.id, "ERP sync")  # already gone: still done
    assert sim.webhooks() == []
    assert client.get(created.id) is None


def test_one_token_serves_many_calls_and_threads(
    client: ShoprenterClient, sim: SimulatorControl
) -> None:
    threads = [threading.Thread(target=client.list) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sim.token_requests() == 1


def test_a_token_is_renewed_before_it_expires(sim: SimulatorControl) -> None:
    sim.settings(tokenTtl=2)  # renewed after half its life when shorter than the margin
    client = ShoprenterClient(oauth_settings(sim))
    client.list()
    time.sleep(1.2)
    client.list()
    assert sim.token_requests() == 2
    assert all(call["status"] == 200 for call in sim.api_calls())


def test_a_revoked_token_is_renewed_once_on_401(
    client: ShoprenterClient, sim: SimulatorControl
) -> None:
    client.list()
    sim.revoke_tokens()
    client.list()
    assert sim.token_requests() == 2
    assert [call["status"] for call in sim.api_calls()] == [200, 401, 200]


def test_a_wrong_secret_names_the_keys_not_the_values(sim: SimulatorControl) -> None:
    client = ShoprenterClient(oauth_settings(sim, secret="wrong-secret-value"))
    with pytest.raises(CredentialsRejected) as caught:
        client.list()
    message = str(caught.value)
    assert "shoprenter:clientSecret" in message and "rejected the credentials" in message
    assert "wrong-secret-value" not in message and "demo-client" not in message
    assert sim.api_calls() == []


def test_basic_auth_works_and_a_wrong_password_is_reported(sim: SimulatorControl) -> None:
    basic = oauth_settings(
        sim,
        auth="basic",
        api_url=sim.url,
        token_url=None,
        client_id=DEFAULT_USERNAME,
        secret=DEFAULT_PASSWORD,
    )
    assert ShoprenterClient(basic).create(ERP).href.startswith(f"{sim.url}/webHooks/")
    wrong = ShoprenterClient(oauth_settings(sim, auth="basic", api_url=sim.url, secret="nope"))
    with pytest.raises(CredentialsRejected, match="shoprenter:password"):
        wrong.list()


def test_pacing_keeps_four_threads_under_the_shops_limit(sim: SimulatorControl) -> None:
    sim.settings(rateLimit=3)
    client = ShoprenterClient(oauth_settings(sim, requests_per_second=3))
    started = time.monotonic()
    threads = [threading.Thread(target=client.get, args=("none",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    statuses = Counter(call["status"] for call in sim.api_calls())
    assert statuses == {404: 8}  # not one 429
    assert elapsed >= 7 / 3 - 0.1  # eight starts, evenly spaced


def test_safe_calls_are_retried_on_429_and_5xx(
    client: ShoprenterClient, sim: SimulatorControl
) -> None:
    sim.settings(retryAfter=1)
    for status in (429, 503, 502):
        sim.fault("GET", "/webHooks", status=status)
    assert client.list() == []
    assert [call["status"] for call in sim.api_calls()] == [429, 503, 502, 200]


def test_a_lost_post_response_does_not_duplicate(
    client: ShoprenterClient, sim: SimulatorControl
) -> None:
    sim.fault("POST", "/webHooks", mode="drop-after")
    created = client.create(ERP)
    assert len(sim.webhooks()) == 1
    assert sim.webhooks()[0]["id"] == created.id
    assert len(sim.api_calls("POST")) == 1  # found, not posted again


def test_a_post_that_timed_out_but_landed_is_found_not_repeated(sim: SimulatorControl) -> None:
    client = ShoprenterClient(oauth_settings(sim, timeout_seconds=0.3))
    sim.fault("POST", "/webHooks", mode="delay", seconds=1.0)
    created = client.create(ERP)
    assert [hook["id"] for hook in sim.webhooks()] == [created.id]


def test_a_post_refused_by_a_5xx_is_retried_after_looking(
    client: ShoprenterClient, sim: SimulatorControl
) -> None:
    sim.fault("POST", "/webHooks", status=503, count=2)
    client.create(ERP)
    assert len(sim.webhooks()) == 1
    methods = [call["method"] for call in sim.api_calls()]
    assert methods == ["GET", "POST", "GET", "POST", "GET", "POST"]


def test_create_adopts_an_identical_webhook_instead_of_duplicating(
    client: ShoprenterClient, sim: SimulatorControl
) -> None:
    existing = sim.add_webhook(api_body(label="ERP sync", url=ERP.url))
    adopted = client.create(ERP)
    assert adopted.id == existing["id"]
    assert len(sim.webhooks()) == 1
    # The hand-made one had no fields or delay: taking it over made it match.
    assert adopted.state.same_webhook(ERP)
    assert sim.webhooks()[0]["webHookDelay"] == [{"delay": "2", "delayUnit": "hour"}]


def test_two_resources_never_share_one_webhook(
    client: ShoprenterClient, sim: SimulatorControl
) -> None:
    first = client.create(ERP)
    other = ERP.model_copy(update={"adopt_id": first.id, "label": "someone else's"})
    with pytest.raises(ShoprenterError, match="already managed by another resource"):
        client.create(other)
    assert sim.webhooks()[0]["label"] == "ERP sync"  # refused before it was touched


def test_adopt_id_takes_over_the_named_webhook(
    client: ShoprenterClient, sim: SimulatorControl
) -> None:
    existing = sim.add_webhook(api_body(label="hand made", url="https://old.example.com/x"))
    adopted = client.create(ERP.model_copy(update={"adopt_id": existing["id"]}))
    assert adopted.id == existing["id"]
    assert [hook["label"] for hook in sim.webhooks()] == ["ERP sync"]
    with pytest.raises(NotFound, match="adoptId 'missing' names no webhook"):
        client.create(ERP.model_copy(update={"adopt_id": "missing"}))


def test_many_creates_from_four_threads_cost_one_collection_read(
    client: ShoprenterClient, sim: SimulatorControl
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


def test_listing_follows_next_links_across_pages(
    client: ShoprenterClient, sim: SimulatorControl
) -> None:
    for number in range(205):
        sim.add_webhook(api_body(label=f"hook {number}"))
    listed = client.list()
    assert len(listed) == 205
    assert len(sim.api_calls("GET")) == 2


@pytest.mark.parametrize(
    "quirks",
    [
        {"wrapResponse": True},
        {"relatedShape": "list"},
        {"emptyDelay": "{}"},
        {"emptyDelay": "missing"},
    ],
)
def test_answer_quirks_read_the_same(
    client: ShoprenterClient, sim: SimulatorControl, quirks: dict[str, object]
) -> None:
    sim.settings(**quirks)
    plain = ERP.model_copy(update={"delay": None})
    created = client.create(plain)
    assert created.state.same_webhook(plain)
    assert [live.state for live in client.list()] == [created.state]


def test_errors_name_operation_webhook_status_and_message(
    client: ShoprenterClient, sim: SimulatorControl
) -> None:
    sim.fault("PUT", "/webHooks/abc", status=400)
    with pytest.raises(ShoprenterError) as caught:
        client.update("abc", ERP)
    assert str(caught.value) == "update webhook ERP sync failed (HTTP 400): injected fault"
    with pytest.raises(NotFound, match=r"update webhook ERP sync failed \(HTTP 404\).*refresh"):
        client.update("missing", ERP)


def test_links_outside_the_configured_api_are_not_followed(client: ShoprenterClient) -> None:
    with pytest.raises(ShoprenterError, match="outside"):
        client._same_api("https://elsewhere.example.com/api/webHooks?page=1")


def test_a_post_dropped_before_it_was_handled_is_sent_again(
    client: ShoprenterClient, sim: SimulatorControl
) -> None:
    sim.fault("POST", "/webHooks", mode="drop-before")
    client.create(ERP)
    assert len(sim.webhooks()) == 1
    assert [call["status"] for call in sim.api_calls("POST")] == [0, 201]


def test_a_webhook_taken_over_in_this_run_is_not_deleted_by_its_old_resource(
    sim: SimulatorControl,
) -> None:
    earlier_run = ShoprenterClient(oauth_settings(sim))
    old = earlier_run.create(ERP)
    this_run = ShoprenterClient(oauth_settings(sim))
    renamed = this_run.create(ERP)  # a resource renamed without an alias: created anew
    assert renamed.id == old.id
    this_run.delete(old.id, "ERP sync")  # ...then the old resource is deleted
    assert [hook["id"] for hook in sim.webhooks()] == [old.id]

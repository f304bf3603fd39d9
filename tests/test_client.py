"""The HTTP transport against the simulator over real HTTP on loopback."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from provider.core.errors import CredentialsRejected, ShoprenterError
from provider.shoprenter.client import ShoprenterClient
from sandbox.simulator.control import SimulatorControl
from sandbox.simulator.limits import LIMITERS
from sandbox.simulator.shop import DEFAULT_PASSWORD, DEFAULT_USERNAME
from tests.helpers import ERP, api_body, oauth_settings


@pytest.fixture
def client(sim: SimulatorControl) -> ShoprenterClient:
    return ShoprenterClient(oauth_settings(sim))


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


def test_the_request_repeated_after_a_401_waits_for_its_pacer_slot(
    sim: SimulatorControl,
) -> None:
    sim.settings(rateLimit=1)  # a bucket of one: a repeat sent at once would draw a 429
    client = ShoprenterClient(oauth_settings(sim, requests_per_second=0.8))
    client.list()
    sim.revoke_tokens()
    client.list()
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
    assert ShoprenterClient(basic).post(ERP).href.startswith(f"{sim.url}/webHooks/")
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
    assert client.list().webhooks == []
    assert [call["status"] for call in sim.api_calls()] == [429, 503, 502, 200]


def test_listing_follows_next_links_across_pages(
    client: ShoprenterClient, sim: SimulatorControl
) -> None:
    for number in range(205):
        sim.add_webhook(api_body(label=f"hook {number}"))
    listed = client.list().webhooks
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
    created = client.post(plain)
    assert created.state.same_webhook(plain)
    assert [live.state for live in client.list().webhooks] == [created.state]


def test_links_outside_the_configured_api_are_not_followed(client: ShoprenterClient) -> None:
    with pytest.raises(ShoprenterError, match="outside"):
        client._same_api("https://elsewhere.example.com/api/webHooks?page=1")


@pytest.mark.parametrize("limiter", LIMITERS)
def test_the_pace_draws_no_429_from_any_limiter_under_jitter(
    sim: SimulatorControl, limiter: str
) -> None:
    # Arrivals moved by ±10 ms: the rest of the pacer's ±35 ms margin is left to a busy machine.
    sim.settings(rateLimit=10, limiter=limiter, jitterMs=20)
    client = ShoprenterClient(oauth_settings(sim, requests_per_second=10))
    threads = [
        threading.Thread(target=lambda: [client.get("none") for _ in range(6)]) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(call["status"] for call in sim.api_calls()) == {404: 24}


def test_put_and_delete_are_retried_on_500(client: ShoprenterClient, sim: SimulatorControl) -> None:
    created = client.post(ERP)
    sim.fault("PUT", f"/webHooks/{created.id}", status=500, count=2)
    sim.fault("DELETE", f"/webHooks/{created.id}", status=500, count=2)
    client.put(created.id, ERP.model_copy(update={"enabled": False}))
    client.delete(created.id, "ERP sync")
    statuses = [(call["method"], call["status"]) for call in sim.api_calls()]
    assert statuses[1:] == [
        ("PUT", 500),
        ("PUT", 500),
        ("PUT", 200),
        ("DELETE", 500),
        ("DELETE", 500),
        ("DELETE", 204),
    ]
    assert sim.webhooks() == []

"""Shared fixtures: one simulator on loopback for the session, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from provider import client as client_module
from provider.settings import ConnectionSettings
from provider.simulator import Simulator
from provider.simulator.control import SimulatorControl
from provider.simulator.shop import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

# Fast enough that pacing does not slow the suite; pacing has tests of its own.
FAST = 1000.0


@pytest.fixture(autouse=True)
def fresh_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new provider process would: no client, token or cache."""
    monkeypatch.setattr(client_module, "_CLIENTS", {})


@pytest.fixture(scope="session")
def simulator() -> Iterator[Simulator]:
    with Simulator() as running:
        yield running


@pytest.fixture
def sim(simulator: Simulator) -> SimulatorControl:
    """The session's simulator, emptied, with no rate limit unless a test sets one."""
    control = SimulatorControl(simulator.url)
    control.reset(rateLimit=None)
    return control


def oauth_settings(sim: SimulatorControl, **overrides: Any) -> ConnectionSettings:
    values: dict[str, Any] = {
        "auth": "oauth",
        "api_url": sim.api_url,
        "token_url": sim.token_url,
        "client_id": DEFAULT_CLIENT_ID,
        "secret": DEFAULT_CLIENT_SECRET,
        "requests_per_second": FAST,
        **overrides,
    }
    return ConnectionSettings(**values)


def api_body(
    label: str = "ERP", url: str = "https://erp.example.com/hook", **extra: Any
) -> dict[str, Any]:
    """A webhook as Shoprenter's POST body, for out-of-band creation."""
    return {
        "event": "order_confirm",
        "status": "1",
        "label": label,
        "webHookParameters": [{"type": "json", "url": url}],
        **extra,
    }

"""Fixtures: one simulator on loopback for the session, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from provider.ledger import forget_ledgers
from sandbox.simulator import Simulator
from sandbox.simulator.control import SimulatorControl


@pytest.fixture(autouse=True)
def fresh_ledgers() -> None:
    """Each test starts as a new provider process would: no client, token or cache."""
    forget_ledgers()


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

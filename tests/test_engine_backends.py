"""Shared state for a team: the same stack on file://, postgres:// and s3:// backends, with real
servers on loopback (PostgreSQL, moto's S3), locking out a second concurrent ``pulumi up``."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import backends
from sandbox.local_engine import LocalStack
from sandbox.simulator.control import SimulatorControl
from tests.helpers import FAST, CallsSince, labels, shop_state, up_with

pytestmark = pytest.mark.engine

HOOKS = [
    {"name": f"hook-{n}", "event": "order_confirm", "url": f"https://hooks.example.com/{n}"}
    for n in range(4)
]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The server CI started (``python -m sandbox.backends``), or one of our own."""
    if os.environ.get("SANDBOX_POSTGRES_URL"):
        yield os.environ["SANDBOX_POSTGRES_URL"]
        return
    with backends.postgres() as url:
        yield url


@pytest.fixture(scope="session")
def s3_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("SANDBOX_S3_URL"):
        yield os.environ["SANDBOX_S3_URL"]
        return
    with backends.s3(tmp_path_factory.mktemp("s3")) as url:
        yield url


@pytest.fixture(params=["file", "postgres", "s3"])
def team_stack(
    request: pytest.FixtureRequest, tmp_path: Path, pulumi_path: Path, sim: SimulatorControl
) -> LocalStack:
    """A stack on each kind of backend, named per test so that shared servers keep them apart."""
    url = {"file": None, "postgres": "postgres_url", "s3": "s3_url"}[request.param]
    backend = request.getfixturevalue(url) if url else None
    stack = LocalStack(
        tmp_path,
        pulumi_path,
        stack=f"team-{request.param}-{time.monotonic_ns()}",
        backend=backend,
        extra_environment=backends.S3_ENVIRONMENT if request.param == "s3" else None,
    )
    stack.create(sim.connection(requestsPerSecond=str(FAST)))
    return stack


def test_a_team_stack_on_each_backend(team_stack: LocalStack, sim: SimulatorControl) -> None:
    up_with(team_stack, HOOKS[:2])
    assert sorted(shop_state(sim)) == ["hook-0", "hook-1"]
    calls = CallsSince(sim)
    team_stack.up("--expect-no-changes")
    assert calls.all() == []  # a no-op up makes no API call

    # Two runners start `pulumi up` of the same change at once.
    team_stack.declare(HOOKS)
    # The first holds the lock, its create answered only once the second has given up: on a
    # loaded machine the second CLI once took longer to start than a fixed 4 s hold.
    sim.fault("POST", "/webHooks", mode="delay", seconds=240)
    logs = [team_stack.workdir / "first.log", team_stack.workdir / "second.log"]
    before = CallsSince(sim)
    first = team_stack.start("up", "--yes", log=logs[0])
    deadline = time.monotonic() + 60
    while not before.writes() and time.monotonic() < deadline:  # the first is mid-update
        time.sleep(0.1)
    second = team_stack.start("up", "--yes", log=logs[1])
    second_code = second.wait(timeout=180)
    sim.end_delays()
    codes = [first.wait(timeout=300), second_code]
    outputs = [log.read_text(encoding="utf-8") for log in logs]
    assert codes[0] == 0, outputs[0]
    assert codes[1] != 0 and "the stack is currently locked" in outputs[1], outputs[1]
    assert labels(sim) == [hook["name"] for hook in HOOKS]  # exactly one of each

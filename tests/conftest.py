"""Fixtures: one simulator on loopback for the session, reset before each test, and a
scratch stack driven by the real ``pulumi`` CLI for the engine tests, with each plugin set."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from provider.shoprenter.ledger import forget_ledgers
from sandbox.local_engine import PLUGIN_SETS, ROOT, LocalStack, PluginsUnavailable, pulumi_binary
from sandbox.simulator import Simulator
from sandbox.simulator.control import SimulatorControl
from tests.helpers import FAST


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


@pytest.fixture(scope="session", params=PLUGIN_SETS)
def pulumi_path(request: pytest.FixtureRequest) -> Path:
    """The CLI ``scripts/pulumi-cli`` finds or builds (minutes, the first time), once with
    this project's stand-in Python plugins and once with Pulumi's official ones, which users
    run: every real-CLI test runs with both."""
    try:
        return pulumi_binary(request.param)
    except PluginsUnavailable as missing:
        reason = f"Pulumi's official Python plugins cannot be built here: {missing}"
        if os.environ.get("CI"):  # .ci/run has ../shared beside the clone: never skip there
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def stack(tmp_path: Path, pulumi_path: Path, sim: SimulatorControl) -> LocalStack:
    """A new stack of a scratch copy of the project, pointed at the simulator."""
    local = LocalStack(tmp_path, pulumi_path, stack="test")
    local.create(sim.connection(requestsPerSecond=str(FAST)))
    return local


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel and sdist of this checkout, built as a release is (``python -m build``),
    once per run: the test workers (pytest-xdist) share one build, the first builds it."""
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's temporary folder is in the run's own: that one is shared.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out = shared / "dist"
    with (shared / "dist.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (shared / "dist.built").exists():  # beside the folder: it holds only the build
            built = subprocess.run(
                [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            assert built.returncode == 0, built.stderr[-3000:]
            (shared / "dist.built").touch()
    return out

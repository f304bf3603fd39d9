"""Fixtures: one simulator on loopback for the session, reset before each test, and a
scratch stack driven by the real ``pulumi`` CLI for the engine tests, with each plugin set;
what a run builds once for every worker; and how the workers share the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, MutableMapping
from pathlib import Path

import pytest
from xdist.remote import Producer

from provider.shoprenter.ledger import forget_ledgers
from sandbox.local_engine import PLUGIN_SETS, ROOT, LocalStack, PluginsUnavailable, pulumi_binary
from sandbox.simulator import Simulator
from sandbox.simulator.control import SimulatorControl
from tests.helpers import FAST, built_once
from tests.pipelines import build_wheelhouse
from tests.scheduling import (
    ByGroupLongestFirst,
    DurationRecorder,
    longest_group_first,
    read_durations,
)


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
    once per run, for every worker."""
    return built_once(tmp_path_factory.getbasetemp(), "dist", build_release)


def build_release(out: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]


@pytest.fixture(scope="session")
def wheelhouse(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template's requirements as wheels, so that each pipeline job's ``pip install``
    runs offline; downloaded once per run, for every worker."""
    return built_once(
        tmp_path_factory.getbasetemp(), "wheelhouse", lambda folder: build_wheelhouse(dist, folder)
    )


# How the workers share the suite: tests/scheduling.py.
def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store-durations",
        action="store_true",
        help="write each test's seconds to tests/durations.json (the order of make test)",
    )


def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> ByGroupLongestFirst:
    return ByGroupLongestFirst(config, log)


@pytest.hookimpl(trylast=True)  # after pytest has ordered the items for its fixtures
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):  # alone, pytest keeps the files' order
        items[:] = longest_group_first(items, read_durations())


def pytest_configure(config: pytest.Config) -> None:
    spare_the_processor(os.environ)
    if config.getoption("store_durations") and not os.environ.get("PYTEST_XDIST_WORKER"):
        config.pluginmanager.register(DurationRecorder(), "store-durations")


def spare_the_processor(environment: MutableMapping[str, str]) -> None:
    """Set what every process the tests start inherits, to spend less of the processor, which
    bounds the suite (docs/benchmarks.md): none of it changes what a process does.

    - Python writes the bytecode of what it imports beside the code, where the next process
      finds it (some CI images say not to, and then each of the thousands of plugin and
      program processes compiled what it imported anew). Never into one folder of its own
      (``PYTHONPYCACHEPREFIX``): that folder mirrors each module's path, and every scratch
      project reaches the virtualenv and ``provider/`` through links of its own, so each
      project compiled them all again (0.7 CPU-s a stack) and wrote 2 GB a run.
    - pip does not compile all it installs (``PIP_NO_COMPILE`` is read as the value of pip's
      compile flag: ``0`` turns it off): the processes compile, once, what they import.
    - The Go programs (the CLI, the official language host, act) collect garbage a quarter
      as often: they live seconds.
    """
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    environment.pop("PYTHONPYCACHEPREFIX", None)
    environment.setdefault("PIP_NO_COMPILE", "0")
    environment.setdefault("GOGC", "400")

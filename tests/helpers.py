"""What several test modules share: the fast pace, the declared webhook, ways to reach the
simulator. Test modules import this, never ``conftest`` or each other."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from provider.core.model import DeclaredWebhook
from provider.core.ownership import split
from provider.shoprenter.settings import ConnectionSettings, stack_config
from sandbox.local_engine import ROOT, LocalStack
from sandbox.simulator.control import SimulatorControl
from sandbox.simulator.shop import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

# Fast enough that pacing does not slow the suite; pacing has tests of its own.
FAST = 1000.0

# The webhook most tests declare, as the property bag Pulumi stores.
DECLARED: dict[str, Any] = {
    "event": "order_confirm",
    "url": "https://erp.example.com/hooks/sr",
    "label": "ERP sync",
    "enabled": True,
    "format": "json",
    "fields": ["order_innerId", "order_email"],
    "delay": {"amount": 2, "unit": "hour"},
    "adoptId": None,
}
ERP = DeclaredWebhook.model_validate(DECLARED)


def built_once(base: Path, name: str, build: Callable[[Path], None]) -> Path:
    """The folder ``name`` of the run's temporary folder, built by ``build`` once per run:
    the test workers (pytest-xdist) share it, the first to ask builds it while the others
    wait on a lock. Its marker lies beside the folder, not in it: the folder holds only what
    was built (twine checks every file of the wheel's), and a build that failed halfway is
    started again, from nothing."""
    # Under xdist each worker's temporary folder is in the run's own: that one is shared.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder, marker = shared / name, shared / f"{name}.built"
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not marker.exists():
            shutil.rmtree(folder, ignore_errors=True)
            build(folder)
            marker.touch()
    return folder


def oauth_settings(sim: SimulatorControl, **overrides: Any) -> ConnectionSettings:
    """Settings that reach the simulator with OAuth, paced fast."""
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


def simulator_config(sim: SimulatorControl) -> dict[str, str]:
    """The stack config of a stack pointed at the simulator, paced fast for tests."""
    return stack_config(sim.connection(requestsPerSecond=str(FAST)))


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


def shop_state(sim: SimulatorControl) -> dict[str, dict[str, Any]]:
    """The shop's webhooks by label, without an owner's marker. Two webhooks with one label
    fail the test here: a duplicate never collapses into one entry."""
    by_label: dict[str, dict[str, Any]] = {}
    for hook in sim.webhooks():
        label = split(hook["label"])[0]
        assert label not in by_label, f"two webhooks labelled {label!r}: {by_label[label]}, {hook}"
        by_label[label] = hook
    return by_label


def labels(sim: SimulatorControl) -> list[str]:
    """The labels of the shop's webhooks without owners' markers, sorted, repeats kept."""
    return sorted(split(hook["label"])[0] for hook in sim.webhooks())


def summary(output: str) -> dict[str, int]:
    """The engine's closing count of resources, e.g. ``{"to update": 1, "unchanged": 3}``."""
    counts = output.rsplit("Resources:", 1)[-1].split("Duration:", maxsplit=1)[0]
    found = re.findall(r"^\s+[~+-]?\s*(\d+) ([a-z][a-z ]*?)\s*$", counts, re.MULTILINE)
    return {what: int(number) for number, what in found}


def up_with(stack: LocalStack, webhooks: list[dict[str, Any]]) -> None:
    stack.declare(webhooks)
    stack.up()


class CallsSince:
    """The API calls the simulator saw from now on."""

    def __init__(self, sim: SimulatorControl) -> None:
        self.sim = sim
        self.start = len(sim.requests())

    def all(self) -> list[dict[str, Any]]:
        return self.sim.requests()[self.start :]

    def writes(self) -> Counter[str]:
        return Counter(
            c["method"]
            for c in self.all()
            if c["method"] in ("POST", "PUT", "DELETE") and "/webHooks" in c["path"]
        )


def package_command(
    *args: str, cwd: Path = ROOT, env: Optional[dict[str, str]] = None
) -> subprocess.CompletedProcess[str]:
    """``python -m provider ARGS`` as a user runs it (this checkout importable), in ``cwd``
    with ``env`` (default: this process's)."""
    return subprocess.run(
        [sys.executable, "-m", "provider", *args],
        cwd=cwd,
        env={**(os.environ if env is None else env), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def serving(port: int, seconds: float = 120) -> bool:
    """Whether something listens on 127.0.0.1:``port`` within ``seconds`` (a server started
    in the background)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False

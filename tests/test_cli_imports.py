"""The command line loads a command's modules only when that command runs: ``listen``,
``trigger --url`` and ``export`` never load the Pulumi SDK, and ``--help`` loads none of
them (``import provider.cli`` used to load Pulumi, pydantic and requests for all)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.local_engine import shoprenter_variables
from sandbox.simulator.control import SimulatorControl

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pulumi", "grpc", "pydantic", "requests", "urllib3")

# Runs the command in a fresh interpreter, then prints which heavy packages it loaded.
PROBE = """
import json, sys
from provider.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted({{name.split('.')[0] for name in sys.modules}} & set({heavy!r}))))
"""
# listen serves until Ctrl-C: started, then stopped at once (its modules are loaded already).
SERVE_ONCE = (
    "from provider.deliveries import listen; listen.Listener.serve_forever = lambda _: None\n"
)


def loaded_by(*args: str, env: dict[str, str] | None = None, before: str = "") -> set[str]:
    """The heavy packages ``python -m provider ARGS`` loads (``before``: code run first)."""
    done = subprocess.run(
        [sys.executable, "-c", before + PROBE.format(heavy=HEAVY), *args],
        cwd=ROOT,
        env={**(env or os.environ), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("command", ["listen", "trigger", "replay", "export", "fleet"])
def test_help_loads_no_command_module(command: str) -> None:
    assert loaded_by(command, "--help") <= ({"pulumi", "grpc"} if command == "fleet" else set())


def test_listen_loads_no_pulumi_and_no_http_client() -> None:
    assert loaded_by("listen", "--port", "0", before=SERVE_ONCE) == {"pydantic"}


def test_trigger_url_loads_no_pulumi() -> None:
    closed = "http://127.0.0.1:9/hooks"  # refused at once: the command still runs through
    loaded = loaded_by("trigger", "order_confirm", "--url", closed, "--timeout", "1")
    assert loaded == {"pydantic", "urllib3"}  # the models, and the sender: not requests


def shop_variables(sim: SimulatorControl) -> dict[str, str]:
    """This environment, reaching the simulator through the ``SHOPRENTER_*`` variables."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("SHOPRENTER_")},
        **shoprenter_variables(sim.connection(requestsPerSecond="1000")),
    }


def test_export_loads_no_pulumi(sim: SimulatorControl) -> None:
    loaded = loaded_by("export", env=shop_variables(sim))
    assert "requests" in loaded and not loaded & {"pulumi", "grpc"}


def test_replay_url_loads_no_pulumi(sim: SimulatorControl) -> None:
    args = ("order_confirm", "--url", "http://127.0.0.1:9/in", "--since", "1h", "--dry-run")
    loaded = loaded_by("replay", *args, env=shop_variables(sim))
    assert {"requests", "urllib3"} <= loaded and not loaded & {"pulumi", "grpc"}

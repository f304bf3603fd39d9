"""Our two plugin processes end when the engine asks, and when the engine is gone."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "tools" / "pulumi" / "plugins"


def start(plugin: str, *args: str, sigint_ignored: bool = False) -> subprocess.Popen[str]:
    """Start a plugin as the engine does and wait until it serves (its port on stdout).

    ``sigint_ignored`` starts it the way a background job of a non-interactive shell starts:
    with SIGINT ignored, which ``exec`` passes on.
    """
    command = [str(PLUGINS / plugin), *args]
    if sigint_ignored:
        command = ["bash", "-c", 'trap "" INT; exec "$0" "$@"', *command]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "PULUMI_PYTHON_CMD": sys.executable},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert int(process.stdout.readline()) > 0
    return process


@pytest.fixture
def engine() -> Iterator[socket.socket]:
    """A listening socket standing in for the engine's gRPC address."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener


def address_of(engine: socket.socket) -> str:
    host, port = engine.getsockname()
    return f"{host}:{port}"


@pytest.mark.parametrize("plugin", ["pulumi-language-python", "pulumi-resource-pulumi-python"])
def test_sigint_stops_a_plugin_even_when_it_started_ignored(
    plugin: str, engine: socket.socket
) -> None:
    process = start(plugin, address_of(engine), sigint_ignored=True)
    process.send_signal(signal.SIGINT)
    # Ended by the SIGINT (its handler's clean exit, or the signal itself if it came before
    # the handler), not by the engine-gone exit (3): before this, only the engine's kill
    # ended it.
    assert process.wait(timeout=10) in (0, -signal.SIGINT)


@pytest.mark.parametrize("plugin", ["pulumi-language-python", "pulumi-resource-pulumi-python"])
def test_a_plugin_exits_when_the_engine_is_gone(plugin: str, engine: socket.socket) -> None:
    process = start(plugin, address_of(engine))
    try:
        process.wait(timeout=2.5)
        pytest.fail("the plugin exited while the engine was still there")
    except subprocess.TimeoutExpired:
        pass
    engine.close()
    assert process.wait(timeout=10) == 3

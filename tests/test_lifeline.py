"""The lifeline's own look: a thread about to call the shop sees that the engine is gone
without waiting for the watcher thread, which a loaded machine may not run for a second; an
engine that only dropped an idle connection is still there; and a program that ends before
its watcher tells the language host to stop."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from provider.core.errors import EngineGone
from provider.shoprenter import lifeline


@pytest.fixture
def held() -> Iterator[tuple[socket.socket, socket.socket]]:
    """An "engine" listening on loopback, and the connection a watcher would hold to it, put
    where the lifeline looks; no watcher thread runs. The module's state is put back after."""
    engine = socket.create_server(("127.0.0.1", 0))
    connection = socket.create_connection(engine.getsockname())
    lifeline._held.update(connection=connection, address=engine.getsockname())
    try:
        yield engine, connection
    finally:
        lifeline._held.clear()
        lifeline._ENGINE_GONE.clear()
        connection.close()
        engine.close()


def test_a_call_sees_the_engine_gone_though_no_watcher_ran(
    held: tuple[socket.socket, socket.socket],
) -> None:
    engine, _ = held
    lifeline.pause(0)  # the engine is there
    accepted, _ = engine.accept()
    accepted.close()  # the engine dies: its connection closes, its address refuses
    engine.close()
    with pytest.raises(EngineGone):
        lifeline.pause(0)
    assert lifeline._ENGINE_GONE.is_set()  # the next look needs no system call


def test_an_engine_that_dropped_an_idle_connection_is_still_there(
    held: tuple[socket.socket, socket.socket],
) -> None:
    engine, _ = held
    accepted, _ = engine.accept()
    accepted.close()  # the connection dropped, the engine still listening
    lifeline.pause(0)
    assert not lifeline._ENGINE_GONE.is_set()


@pytest.mark.parametrize("engine_alive", [True, False])
def test_a_program_ending_first_stops_its_host_only_when_the_engine_is_gone(
    engine_alive: bool,
) -> None:
    host = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    engine = socket.create_server(("127.0.0.1", 0))
    address = engine.getsockname()
    if not engine_alive:
        engine.close()
    try:
        lifeline._stop_host_if_engine_gone(address, host.pid)
        try:
            status = host.wait(timeout=2)
        except subprocess.TimeoutExpired:
            status = None
    finally:
        host.kill()
        host.wait()
        engine.close()
    assert status == (None if engine_alive else -signal.SIGINT)

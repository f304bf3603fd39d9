"""The lifeline's own look: a thread about to call the shop starts the call only while the
connection to the engine is open as it sees it itself, and waits for the watcher's word once
it closed (the watcher thread of a loaded machine may not run for a second or two); and a
program that ends before its watcher tells the language host to stop."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from provider.core.errors import EngineGone
from provider.shoprenter import lifeline


@pytest.fixture
def engine() -> Iterator[tuple[socket.socket, socket.socket]]:
    """An "engine" listening on loopback, and the connection a watcher would hold to it, put
    where the lifeline looks; no watcher thread runs. The module's state is put back after."""
    listening = socket.create_server(("127.0.0.1", 0))
    connection = socket.create_connection(listening.getsockname())
    lifeline._watched.update(watching=True, connection=connection)
    try:
        yield listening, connection
    finally:
        lifeline._watched.clear()
        lifeline._ENGINE_GONE.clear()
        connection.close()
        listening.close()


def paused_in_a_thread() -> tuple[threading.Thread, list[object]]:
    """``pause(0)`` in a thread of its own: what it gave (None, or the error) once it ends."""
    outcome: list[object] = []

    def call() -> None:
        try:
            lifeline.pause(0)
            outcome.append(None)
        except EngineGone as error:
            outcome.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    return thread, outcome


def the_watcher_says(connection: socket.socket | None, gone: bool = False) -> None:
    """What the watcher does once it looked again: the connection it holds now, or gone."""
    with lifeline._WATCHED:
        lifeline._watched["connection"] = connection
        if gone:
            lifeline._ENGINE_GONE.set()
        lifeline._WATCHED.notify_all()


def test_a_call_starts_at_once_while_the_connection_is_open(
    engine: tuple[socket.socket, socket.socket],
) -> None:
    lifeline.pause(0)


def test_a_closed_connection_holds_calls_until_the_watcher_finds_the_engine_gone(
    engine: tuple[socket.socket, socket.socket],
) -> None:
    listening, _ = engine
    accepted, _ = listening.accept()
    accepted.close()  # the engine's end closed; the (starved) watcher has not looked yet
    thread, outcome = paused_in_a_thread()
    thread.join(timeout=0.5)
    assert thread.is_alive() and outcome == []  # no call starts meanwhile
    the_watcher_says(connection=None, gone=True)
    thread.join(timeout=5)
    assert len(outcome) == 1 and isinstance(outcome[0], EngineGone)


def test_an_engine_that_dropped_an_idle_connection_lets_the_call_go_once_seen_again(
    engine: tuple[socket.socket, socket.socket],
) -> None:
    listening, _ = engine
    accepted, _ = listening.accept()
    accepted.close()  # the engine dropped the idle connection; it still listens
    thread, outcome = paused_in_a_thread()
    thread.join(timeout=0.3)
    assert thread.is_alive()
    again = socket.create_connection(listening.getsockname())
    try:
        the_watcher_says(connection=again)  # the watcher looked again: the engine is there
        thread.join(timeout=5)
        assert outcome == [None]
    finally:
        again.close()


def test_no_watcher_no_waiting() -> None:
    """A test, a program or a REPL: no lifeline runs, and nothing ever waits for one."""
    assert not lifeline._watched.get("watching")
    lifeline.pause(0)


@pytest.mark.parametrize("engine_alive", [True, False])
def test_a_program_ending_first_stops_its_host_only_when_the_engine_is_gone(
    engine_alive: bool,
) -> None:
    # A host that is up and handles SIGINT as the real ones do (the official host's own
    # handler, the stand-in's default_int_handler), not as it inherits it: a run started in
    # the background of a shell without job control (`.ci/run &`) ignores SIGINT, and a
    # Python child keeps ignoring it (two whole runs failed so before this was seen).
    waiting = (
        "import signal, time; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "print('up', flush=True); time.sleep(30)"
    )
    host = subprocess.Popen([sys.executable, "-c", waiting], stdout=subprocess.PIPE, text=True)
    assert host.stdout is not None and host.stdout.readline() == "up\n"
    # A gone engine's address: a port held but not listening refuses, and no other test's
    # server can take it meanwhile.
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    if engine_alive:
        listening.listen()
    try:
        lifeline._stop_host_if_engine_gone(listening.getsockname(), host.pid)
        try:
            status = host.wait(timeout=2 if engine_alive else 30)
        except subprocess.TimeoutExpired:
            status = None
    finally:
        host.kill()
        host.communicate()
        listening.close()
    assert status == (None if engine_alive else -signal.SIGINT)

"""How our two plugin processes end: with the engine, and promptly when asked to.

The engine stops a plugin with SIGINT and kills it five seconds later. Two things went wrong
with the SDK's servers, which only stop on ``KeyboardInterrupt``:

* a job started in the background by a non-interactive shell (``pulumi up &``, as some CI
  runners do) inherits SIGINT *ignored*; Python then never raises ``KeyboardInterrupt``, and
  every run waited five seconds for the kill;
* when the engine itself dies (a CI runner lost, ``kill -9``), nobody sends SIGINT, and the
  plugins lived on.

:func:`end_with_engine` turns SIGINT and SIGTERM into ``KeyboardInterrupt`` whatever the
parent left, and ends the process at once when the engine is gone: its gRPC address refuses
connections or this process has been orphaned (the official Go plugins watch the engine's
address the same way). Nobody is left to answer then, and a call still waiting on the shop
would only hold the process: the exit does not wait for it. What that call may have made is
found, not duplicated, by the next run.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
import time
from typing import Optional

POLL_SECONDS = 1.0
# Consecutive failed looks before the engine counts as gone (a busy engine still accepts).
MISSES_BEFORE_EXIT = 2
EXIT_ENGINE_GONE = 3
ADDRESS = re.compile(r"^(?P<host>[\w.\-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d+)$")


def engine_address(argv: list[str]) -> Optional[tuple[str, int]]:
    """The engine's ``host:port``: the engine passes it as the last argument of a plugin."""
    match = ADDRESS.match(argv[-1]) if argv else None
    if match is None:
        return None
    return match["host"].strip("[]"), int(match["port"])


def end_with_engine(argv: list[str]) -> None:
    """Interrupt the main thread on SIGINT and SIGTERM; exit once the engine is gone."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    watcher = threading.Thread(
        target=_watch, args=(engine_address(argv), os.getppid()), daemon=True
    )
    watcher.start()


def _watch(address: Optional[tuple[str, int]], parent: int) -> None:
    misses = 0
    while misses < MISSES_BEFORE_EXIT:
        time.sleep(POLL_SECONDS)
        alive = os.getppid() == parent and (address is None or _answers(address))
        misses = 0 if alive else misses + 1
    os._exit(EXIT_ENGINE_GONE)


def _answers(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=POLL_SECONDS):
            return True
    except OSError:
        return False

"""The provider process and the engine that started it: end together, speak plainly.

The engine starts the dynamic-provider plugin (``python -m pulumi.dynamic``, which Pulumi's
official ``pulumi-resource-pulumi-python`` runs) with the engine's own address as its last
argument, and the SDK's server does nothing with it. Two things follow that this module mends,
from inside the provider, so that they hold with whatever plugin host started it:

* **The engine dies, the provider lives on.** After a ``kill -9`` of the CLI (a lost CI
  runner, an OOM kill) nobody stops the provider process, and calls waiting for their pacer
  slot went on creating webhooks that no engine would ever record. :func:`hold_on` keeps one
  idle connection to the engine's address on a daemon thread; the kernel closes it the moment
  the engine dies. :func:`pause`, which every pacer wait, retry backoff and request goes
  through, lets a call start only while that connection is open as the calling thread sees it
  (a starved watcher thread cannot let calls through), and raises
  :class:`~provider.core.errors.EngineGone` once the watcher found the engine gone; a call
  already on the wire has :data:`GRACE_SECONDS` to finish, and then the process exits.
* **A provider has no voice.** The SDK gives a dynamic provider no way to warn; :func:`warn`
  sends a warning through the engine's own service at that same address.
* **A provider error is a three-frame traceback.** The SDK's server reports every exception
  with ``traceback.format_exc()``. Where the process's ``__main__`` is that server, its
  ``traceback`` name is given a ``format_exc`` that reports an error marked
  ``report_plainly`` (this package's own: they say what failed, where and why) as its
  message alone, and every other error as before.

Both start with the first provider method (``configure``), never at import, and only in a
process whose ``__main__`` is the SDK's dynamic-provider server: a test, a program or a REPL
that imports this package is left alone. Once running, the cost per API call is one check of
an event.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
import traceback
import types
from pathlib import Path
from typing import Any, Optional

from ..core.errors import EngineGone

SERVER_MODULE = "pulumi.dynamic.__main__"
LANGUAGE_HOST_EXEC = "pulumi-language-python-exec"
# How long a call already on the wire may take to finish once the engine is gone.
GRACE_SECONDS = 1.0
EXIT_ENGINE_GONE = 3
# A look at the engine that neither connects nor is refused (a full backlog, say) is retried;
# this many in a row count as the engine gone.
UNANSWERED_LOOKS = 3
LOOK_TIMEOUT_SECONDS = 2.0
ADDRESS = re.compile(r"^(?P<host>[\w.\-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d+)$")

_ENGINE_GONE = threading.Event()
_STARTED = threading.Lock()
_started = False
# Whether a watcher runs, and the connection it holds while it is open: any thread may look
# (under the condition, which the watcher notifies at every change).
_WATCHED = threading.Condition()
_watched: dict[str, Any] = {}
# How often a call waiting for the watcher's word looks again, should a word be missed.
LOOK_AGAIN_SECONDS = 0.1


def pause(seconds: float) -> None:
    """Sleep ``seconds`` (none: just look), then let the caller start a call only while the
    engine is known to be there; once it is gone, raise EngineGone.

    Known to be there means the connection the watcher holds is open *now*, as the calling
    thread sees it itself. Once it closed, nobody knows until the watcher has looked again
    (the engine died, or only dropped an idle connection), and a call waits for that word:
    on a loaded machine the watcher thread may not run for a second or two after the engine
    died, and no call may start in that time.
    """
    if _ENGINE_GONE.wait(seconds if seconds > 0 else 0) or not _engine_there():
        raise EngineGone("the engine that started this process is gone; nothing more is sent")


def _engine_there() -> bool:
    """Whether a call may start now (see :func:`pause`): no watcher runs in this process, or
    its connection is open; while it looks again, wait for its word."""
    with _WATCHED:
        while not _ENGINE_GONE.is_set():
            if not _watched.get("watching"):
                return True  # a test, a program: no engine to hold on to
            held = _watched.get("connection")
            if held is not None and _open(held):
                return True
            _WATCHED.wait(timeout=LOOK_AGAIN_SECONDS)  # the watcher tells when it knows
        return False


def _open(connection: socket.socket) -> bool:
    """Whether the other end has neither closed nor reset ``connection`` (a look that does
    not wait and takes nothing from it)."""
    try:
        return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True  # open, nothing said
    except OSError:
        return False  # reset


def _refused(address: tuple[str, int]) -> bool:
    """Whether a connection to ``address`` is refused now (a look that times out is not)."""
    try:
        socket.create_connection(address, timeout=LOOK_TIMEOUT_SECONDS).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return False


def warn(message: str) -> None:
    """Show ``message`` as a warning of this run: through the engine that started this
    process, else on the ``provider`` logger (a test, a program of one's own)."""
    address = engine_address(sys.argv) if _provider_server() is not None else None
    if address is None:
        logging.getLogger("provider").warning(message)
        return
    from pulumi.runtime.proto import engine_pb2  # noqa: PLC0415 (only where there is an engine)

    request = engine_pb2.LogRequest(severity=engine_pb2.WARNING, message=message, urn="")
    _engine(f"{address[0]}:{address[1]}").Log(request)


@functools.cache
def _engine(address: str) -> Any:
    """One client of the engine's own service per process (it takes the provider's logs)."""
    import grpc  # noqa: PLC0415
    from pulumi.runtime.proto import engine_pb2_grpc  # noqa: PLC0415

    return engine_pb2_grpc.EngineStub(grpc.insecure_channel(address))


def engine_address(argv: list[str]) -> Optional[tuple[str, int]]:
    """The engine's ``host:port``, which the engine passes as a plugin's last argument."""
    match = ADDRESS.match(argv[-1]) if len(argv) > 1 else None
    if match is None:
        return None
    return match["host"].strip("[]"), int(match["port"])


def hold_on() -> None:
    """Start this process's lifeline, once, where there is an engine to hold on to.

    In the SDK's provider server: errors as their message, and no call after the engine is
    gone. In a program that Pulumi's official language host started: its host is told to
    stop when the engine is gone (that host looks only every five minutes). Anywhere else
    (a test, a REPL, a host that runs the program itself): nothing.
    """
    global _started  # noqa: PLW0603 (one process, one lifeline)
    with _STARTED:
        if _started:
            return
        _started = True
    server = _provider_server()
    if server is not None:
        server.traceback = _PlainTraceback()  # type: ignore[attr-defined]
        address, host = engine_address(sys.argv), None
    else:
        address, host = _program_engine_address(), os.getppid()
    if address is None:
        return
    if host is not None:  # the program may end first (its engine calls fail): tell the host then
        atexit.register(_stop_host_if_engine_gone, address, host)
    with _WATCHED:
        _watched["watching"] = True  # from now on a call waits until the engine is seen
    threading.Thread(target=_watch, args=(address, host), name="lifeline", daemon=True).start()


def _provider_server() -> Optional[types.ModuleType]:
    """The SDK's dynamic-provider server, when it is what this process runs."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return main if spec is not None and spec.name == SERVER_MODULE else None


def _program_engine_address() -> Optional[tuple[str, int]]:
    """The engine's address, in a program the official language host started.

    That host runs ``pulumi-language-python-exec --monitor ADDRESS --engine ADDRESS ...``,
    which swaps ``sys.argv`` for the program's; ``sys.orig_argv`` still has the original.
    """
    argv = sys.orig_argv
    started_by_host = len(argv) > 1 and Path(argv[1]).name == LANGUAGE_HOST_EXEC
    if not started_by_host or "--engine" not in argv[:-1]:
        return None
    return engine_address(["", argv[argv.index("--engine") + 1]])


def _watch(address: tuple[str, int], host: Optional[int]) -> None:
    """Hold a connection to the engine until it is refused: then stop sending, and exit.

    ``host``: the language host that started this program, told to stop (SIGINT, its own
    graceful stop) once the engine is gone.
    """
    unanswered = 0
    while unanswered < UNANSWERED_LOOKS:
        try:
            connection = socket.create_connection(address, timeout=LOOK_TIMEOUT_SECONDS)
        except ConnectionRefusedError:
            break  # nobody listens there any more
        except OSError:
            unanswered += 1
            time.sleep(LOOK_TIMEOUT_SECONDS)
            continue
        unanswered = 0
        with _WATCHED:
            _watched["connection"] = connection
            _WATCHED.notify_all()
        _until_closed(connection)  # the engine died, or dropped an idle connection: look again
    with _WATCHED:
        _ENGINE_GONE.set()
        _WATCHED.notify_all()
    if host is not None:
        os.kill(host, signal.SIGINT)
    time.sleep(GRACE_SECONDS)
    os._exit(EXIT_ENGINE_GONE)


def _until_closed(connection: socket.socket) -> None:
    connection.settimeout(None)
    try:
        while connection.recv(4096):
            pass  # what the engine's server says to a silent client is of no interest
    except OSError:
        pass
    with _WATCHED:  # no thread looks at it once closed (its number may be another socket's)
        _watched.pop("connection", None)
        connection.close()


def _stop_host_if_engine_gone(address: tuple[str, int], host: int) -> None:
    """At the program's exit: when the engine is gone, tell the language host to stop (it
    would otherwise notice only at its next look, minutes later)."""
    if _ENGINE_GONE.is_set() or _refused(address):
        with contextlib.suppress(ProcessLookupError):
            os.kill(host, signal.SIGINT)


class _PlainTraceback:
    """The ``traceback`` the SDK's server sees: this package's errors as their message."""

    def __getattr__(self, name: str) -> object:
        return getattr(traceback, name)

    @staticmethod
    def format_exc(limit: Optional[int] = None, chain: bool = True) -> str:
        error = sys.exc_info()[1]
        if error is not None and getattr(error, "report_plainly", False):
            return str(error)
        return traceback.format_exc(limit, chain)

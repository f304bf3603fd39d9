"""Loopback only: serving an HTTP server from a thread, and telling which hosts are this machine.

The simulator and the receiver both run here, and neither ever sends to or listens on anything
but this machine's own addresses.
"""

from __future__ import annotations

import ipaddress
import threading
from http.server import HTTPServer
from typing import Self


class BackgroundServer:
    """Runs ``server`` on a daemon thread; use it as a context manager to stop it cleanly."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.host = str(server.server_address[0])
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def is_loopback(host: str) -> bool:
    """Tell whether ``host`` (a name or an address) is this machine's loopback."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

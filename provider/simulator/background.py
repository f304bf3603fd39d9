"""Serving an HTTP server from a thread, for the simulator and the receiver alike."""

from __future__ import annotations

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

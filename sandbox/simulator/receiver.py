"""A webhook receiver on loopback, like webhook.site in Shoprenter's own guide.

It keeps every request as it came (path, headers, body, and the payload that
:func:`provider.receive.payload_of` finds in it) for tests to inspect, and answers ``200``, or
the status a path ``/answer/<status>/...`` asks for (a ``3xx`` with a ``Location``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from provider.deliveries.receive import DeliveryError, payload_of

from ..loopback import BackgroundServer


@dataclass(frozen=True)
class Delivery:
    """One request the receiver got."""

    path: str
    user_agent: str
    content_type: str
    data: str
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    server: ReceiverServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: deliveries are reported through ``on_delivery``."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        content_type = self.headers.get("Content-Type", "")
        try:
            data = payload_of(body, content_type).decode("utf-8", errors="replace")
        except DeliveryError as error:
            data = f"(not a delivery: {error})"
        user_agent = self.headers.get("User-Agent", "")
        headers = dict(self.headers.items())
        self.server.record(Delivery(self.path, user_agent, content_type, data, headers, body))
        status = _status_asked(self.path)
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "http://127.0.0.1:9/elsewhere?key=moved-secret")
        self.send_header("Content-Length", "0")
        self.end_headers()


def _status_asked(path: str) -> int:
    """The status a test asks for with a path ``/answer/<status>/...``; else 200."""
    parts = path.split("/")
    return int(parts[2]) if len(parts) > 2 and parts[1] == "answer" and parts[2].isdigit() else 200


class ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, on_delivery: Callable[[Delivery], None]) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._on_delivery = on_delivery

    def record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)
        self._on_delivery(delivery)


class Receiver(BackgroundServer):
    """A running receiver: ``with Receiver() as receiver: receiver.url``."""

    def __init__(
        self, port: int = 0, on_delivery: Callable[[Delivery], None] = lambda _d: None
    ) -> None:
        self.receiver = ReceiverServer(port, on_delivery)
        super().__init__(self.receiver)

    @property
    def deliveries(self) -> list[Delivery]:
        return list(self.receiver.deliveries)

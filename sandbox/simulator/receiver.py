"""A webhook receiver on loopback, like webhook.site in Shoprenter's own guide.

It accepts what Shoprenter sends (a POST whose ``multipart/form-data`` body carries the
payload in the form field ``data``; a raw JSON or XML body is accepted too, since the
documentation does not rule it out) and keeps every delivery for inspection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from ..loopback import BackgroundServer


@dataclass(frozen=True)
class Delivery:
    """One request the receiver got."""

    path: str
    user_agent: str
    content_type: str
    data: str


def form_field(content_type: str, body: bytes, name: str) -> Optional[str]:
    """The text of one ``multipart/form-data`` field, or ``None`` when it is absent."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    for part in message.iter_parts() if message.is_multipart() else []:
        if (
            isinstance(part, Message)
            and part.get_param("name", header="content-disposition") == name
        ):
            payload = part.get_payload(decode=True)
            return payload.decode("utf-8") if isinstance(payload, bytes) else None
    return None


class _Handler(BaseHTTPRequestHandler):
    server: ReceiverServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: deliveries are reported through ``on_delivery``."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            data = form_field(content_type, body, "data") or ""
        else:
            data = body.decode("utf-8", errors="replace")
        delivery = Delivery(self.path, self.headers.get("User-Agent", ""), content_type, data)
        self.server.record(delivery)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


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

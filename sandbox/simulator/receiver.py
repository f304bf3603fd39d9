"""A webhook receiver on loopback, like webhook.site in Shoprenter's own guide.

It keeps every request as it came (path, headers, body, and the payload that
:func:`provider.receive.payload_of` finds in it) for tests to inspect, and answers ``200``, or
the status a path ``/answer/<status>/...`` asks for (a ``3xx`` with a ``Location``), or the
status its ``on_delivery`` returns (:class:`HandledOnce`: a receiver that drops duplicates).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import urlsplit

from provider.deliveries.dedupe import DeliveryStore
from provider.deliveries.receive import DeliveryError, parse, payload_of

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
        answered = self.server.record(
            Delivery(self.path, user_agent, content_type, data, headers, body)
        )
        status = answered or _status_asked(self.path)
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

    def __init__(self, port: int, on_delivery: Callable[[Delivery], Optional[int]]) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._on_delivery = on_delivery

    def record(self, delivery: Delivery) -> Optional[int]:
        """Keep ``delivery``; the status ``on_delivery`` answers with (``None``: the path's)."""
        with self._lock:
            self.deliveries.append(delivery)
        return self._on_delivery(delivery)


class Receiver(BackgroundServer):
    """A running receiver: ``with Receiver() as receiver: receiver.url``."""

    def __init__(
        self, port: int = 0, on_delivery: Callable[[Delivery], Optional[int]] = lambda _d: None
    ) -> None:
        self.receiver = ReceiverServer(port, on_delivery)
        super().__init__(self.receiver)

    @property
    def deliveries(self) -> list[Delivery]:
        return list(self.receiver.deliveries)


class HandledOnce:
    """What a receiver that handles each delivery once does, as the README's example app does
    it: parse, key each record (the event is the target path's last part, ``/order_confirm``),
    claim the key in ``store``, hand it on only when the claim is fresh.

    ``handled`` lists each key handed on, in order: a duplicate there is a delivery handled
    twice. Answers ``200`` (handled, or a copy of one handled), ``409`` (being handled
    elsewhere right now) or ``400`` (not a delivery).
    """

    def __init__(self, store: DeliveryStore) -> None:
        self.store = store
        self.handled: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, delivery: Delivery) -> int:
        event = urlsplit(delivery.path).path.rstrip("/").rpartition("/")[2]
        try:
            keys = parse(delivery.body, delivery.content_type).keys(event)
        except DeliveryError:
            return 400
        for key in keys:
            with self.store.once(key) as claim:
                if claim.outcome == "busy":
                    return 409
                if claim.fresh:
                    with self._lock:
                        self.handled.append(key)
        return 200

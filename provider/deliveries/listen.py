"""``shoprenter-webhooks listen``: a receiver on this machine that prints each delivery parsed.

The seed guide's webhook.site step, kept local: point a target (or ``trigger --url``) at
``http://127.0.0.1:PORT/...`` and watch what a receiver built on :mod:`provider.receive` would
get. It answers ``200`` to a delivery and ``400``, with the reason, to anything else. It
listens on loopback addresses only.
"""

from __future__ import annotations

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from ..core.rules import is_loopback_host
from .builder import TEST_HEADER, mask
from .receive import Delivery, DeliveryError, parse

MAX_BODY_BYTES = 10_000_000


def describe(delivery: Delivery) -> str:
    """One line that says what arrived."""
    if delivery.orders is not None:
        ids = ", ".join(order.inner_id or "?" for order in delivery.orders)
        return f"{len(delivery.orders)} order(s): {ids}"
    subscribers = delivery.subscribers or []
    return f"{len(subscribers)} subscriber(s): " + ", ".join(s.email or "?" for s in subscribers)


class Printing(BaseHTTPRequestHandler):
    """Parses each POST and prints it to the server's ``out``."""

    server: Listener

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: each delivery is printed whole instead."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, MAX_BODY_BYTES))
        test = " (test delivery)" if self.headers.get(TEST_HEADER) else ""
        out = self.server.out
        try:
            delivery = parse(body, self.headers.get("Content-Type", ""))
        except DeliveryError as error:
            print(f"POST {mask(self.path)}: refused: {error}", file=out, flush=True)
            self._answer(400, f"not a Shoprenter delivery: {error}\n")
            return
        print(f"POST {mask(self.path)}{test}: {describe(delivery)}", file=out)
        print(delivery.model_dump_json(indent=2, exclude_none=True), file=out, flush=True)
        self._answer(200, "ok\n")

    def _answer(self, status: int, text: str) -> None:
        payload = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class Listener(ThreadingHTTPServer):
    """The local receiver; ``out`` is where deliveries are printed."""

    daemon_threads = True

    def __init__(self, host: str, port: int, out: TextIO = sys.stdout) -> None:
        if not is_loopback_host(host):
            raise ValueError(f"--host {host}: listen serves loopback addresses only")
        super().__init__((host, port), Printing)
        self.out = out

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

"""The simulator's HTTP face: Shoprenter's token endpoint and API on loopback.

API routes (under ``/api`` for OAuth bases, or at the root for legacy Basic bases):
``POST /{shop}/app/token``, ``GET|POST /webHooks``, ``GET|PUT|DELETE /webHooks/{id}``, and
the order resources a rebuild of a delivery reads (``GET`` only, see
:mod:`sandbox.simulator.orders`): ``/orderExtend``, ``/orderHistories``,
``/orderStatusDescriptions``, each a collection with its documented filters or one item by id.
Answers are XML unless the request accepts ``application/json``, as Shoprenter's are; every
API route shares the one rate limit.

Control routes for tests, demos and benchmarks (never rate-limited or logged):
``POST /_sim/reset``, ``GET|POST /_sim/settings``, ``POST /_sim/faults``,
``POST /_sim/faults/release`` (answers delayed by a fault go out now),
``POST /_sim/tokens/revoke``, ``GET /_sim/requests``, ``GET|POST /_sim/webhooks``,
``PATCH|DELETE /_sim/webhooks/{id}`` (out-of-band edits, as in the admin),
``GET|POST /_sim/orders`` (place an order: deliver ``order_confirm`` or ``abandoned_cart``),
``POST /_sim/orders/{number}/status`` (deliver ``order_status_change``),
``POST /_sim/outages`` and ``/_sim/outages/end`` (a target down, then up again),
``GET /_sim/deliveries``.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from provider.deliveries.builder import xml_text

from ..loopback import BackgroundServer
from .delivery import change_status, place_order
from .orders import Filtered, order_items, order_summary
from .shop import DEFAULT_PAGE_LIMIT, ApiError, Fault, Settings, Shop, paged

TOKEN_PATH = re.compile(r"^/(?P<shop>[^/]+)/app/token$")
API_PATH = re.compile(
    r"^(?P<base>/api)?/(?P<resource>webHooks|orderExtend|orderHistories|orderStatusDescriptions)"
    r"(?:/(?P<id>[^/]+))?$"
)
CONTROL_WEBHOOK_PATH = re.compile(r"^/_sim/webhooks/(?P<id>[^/]+)$")
CONTROL_STATUS_PATH = re.compile(r"^/_sim/orders/(?P<number>[0-9]+)/status$")
MAX_BODY_BYTES = 1_000_000


class Handler(BaseHTTPRequestHandler):
    """One request; the shop is shared through the server."""

    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm the body would wait
    # for the client's delayed ACK (40 ms on Linux), a latency no real shop adds.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log at ``/_sim/requests`` is the record."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- routing -------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        arrived = time.time()
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        raw = self._read_body()
        if path.startswith("/_sim/"):
            self._answer_control(method, path, raw)
            return
        shop = self.server.shop
        fault = shop.take_fault(method, path)
        if fault and fault.mode in ("status", "page"):
            status, answer = fault.status, ApiError(fault.status, None, "injected fault").body()
        elif fault and fault.mode == "drop-before":
            status, answer = 0, None
        else:
            try:
                status, answer = self._api(method, path, query, raw)
            except ApiError as error:
                status, answer = error.status, error.body()
        # Logged when handled, so a delayed answer never lands in a later test's log.
        shop.record(method, path, 0 if fault and fault.mode.startswith("drop") else status, arrived)
        if fault and fault.mode.startswith("drop"):
            self.close_connection = True
            return
        if fault and fault.mode == "delay":
            shop.delays_ended.wait(fault.seconds)
        if fault and fault.mode in SPOILED:
            spoil, kind = SPOILED[fault.mode]
            self._send(status, spoil(status, answer), kind, {})
            return
        self._send_api(status, answer)

    def _api(
        self, method: str, path: str, query: dict[str, list[str]], raw: bytes
    ) -> tuple[int, Any]:
        shop = self.server.shop
        latency = shop.settings.latencyMs
        if latency:
            time.sleep(latency / 1000.0)
        if TOKEN_PATH.match(path) and method == "POST":
            return 200, shop.issue_token(_json_body(raw, self.headers.get("Content-Type")))
        match = API_PATH.match(path)
        if not match:
            raise ApiError(404, 40401, f"no resource at {path}")
        jitter = shop.settings.jitterMs
        if jitter:  # the network delivers requests a little early or late, at random
            time.sleep(random.uniform(0.0, jitter) / 1000.0)
        shop.admit()
        shop.authenticate(self.headers.get("Authorization", ""))
        base = f"http://{self.headers.get('Host')}{match['base'] or ''}"
        item_id = unquote(match["id"]) if match["id"] else None
        if match["resource"] != "webHooks":
            if method != "GET":
                raise ApiError(405, None, f"{method} is not allowed on {path}")
            return 200, self._order_resource(base, match["resource"], item_id, query)
        return self._webhooks(method, path, base, item_id, query=query, raw=raw)

    def _webhooks(
        self,
        method: str,
        path: str,
        base: str,
        item_id: Optional[str],
        *,
        query: dict[str, list[str]],
        raw: bytes,
    ) -> tuple[int, Any]:
        shop = self.server.shop
        if item_id is None:
            if method == "GET":
                return 200, self._webhook_collection(base, query)
            if method == "POST":
                created = shop.create(_json_body(raw, self.headers.get("Content-Type")))
                return 201, _present(created, base, shop.settings)
        else:
            if method == "GET":
                return 200, _present(shop.get(item_id), base, shop.settings)
            if method == "PUT":
                body = _json_body(raw, self.headers.get("Content-Type"))
                return 200, _present(shop.replace(item_id, body), base, shop.settings)
            if method == "DELETE":
                shop.delete(item_id)
                return 204, None
        raise ApiError(405, None, f"{method} is not allowed on {path}")

    def _webhook_collection(self, base: str, query: dict[str, list[str]]) -> dict[str, Any]:
        shop = self.server.shop
        page, limit, full = _paging(query, frozenset())
        records, page_count = shop.page(page, limit)
        items = [
            _present(record, base, shop.settings)
            if full
            else {"href": f"{base}/webHooks/{record['id']}"}
            for record in records
        ]
        # As the /webHooks fixture: page and limit as strings (pageCount too, as a string).
        envelope = _envelope(
            f"{base}/webHooks", query, page=page, limit=limit, page_count=page_count, items=items
        )
        return {**envelope, "page": str(page), "limit": str(limit), "pageCount": str(page_count)}

    def _order_resource(
        self, base: str, resource: str, item_id: Optional[str], query: dict[str, list[str]]
    ) -> dict[str, Any]:
        """``/orderExtend``, ``/orderHistories`` and ``/orderStatusDescriptions``: a page
        with the documented filters, or one item by id."""
        shop = self.server.shop
        filters = ORDER_FILTERS[resource]
        if item_id is not None:
            items = order_items(shop.order_list(), base, resource, {})
            found = [item for item in items if item["id"] == item_id]
            if not found:
                raise ApiError(404, 40401, f"{resource} {item_id} not found")
            return found[0]
        page, limit, full = _paging(query, filters)
        chosen = {key: values[0] for key, values in query.items() if key in filters}
        try:
            items = order_items(shop.order_list(), base, resource, chosen)
        except ValueError as error:
            raise ApiError(400, 40005, str(error)) from None
        records, page_count = paged(items, page, limit)
        shown = records if full else [{"href": item["href"]} for item in records]
        envelope = _envelope(
            f"{base}/{resource}", query, page=page, limit=limit, page_count=page_count, items=shown
        )
        if shop.settings.orderPaging == "strings":  # as the /orders fixture
            del envelope["pageCount"]
            return {**envelope, "page": str(page), "limit": str(limit)}
        return envelope

    def _answer_control(self, method: str, path: str, raw: bytes) -> None:
        shop = self.server.shop
        try:
            status, answer = self._control(shop, method, path, raw)
        except ApiError as error:
            status, answer = error.status, error.body()
        except (TypeError, ValueError) as error:  # a malformed control request
            status, answer = 400, {"message": str(error)}
        self._send_json(status, answer)

    def _control(self, shop: Shop, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        body = json.loads(raw) if raw else {}
        routes: dict[tuple[str, str], Callable[[], Any]] = {
            ("POST", "/_sim/reset"): shop.reset,
            ("GET", "/_sim/settings"): lambda: dict(shop.settings.__dict__),
            ("POST", "/_sim/settings"): lambda: shop.configure(body),
            ("POST", "/_sim/faults"): lambda: shop.add_fault(Fault(**body)),
            ("POST", "/_sim/faults/release"): shop.end_delays,
            ("POST", "/_sim/tokens/revoke"): shop.revoke_tokens,
            ("GET", "/_sim/requests"): lambda: list(shop.log),
            ("GET", "/_sim/webhooks"): shop.all,
            ("POST", "/_sim/webhooks"): lambda: shop.create(body),
            ("POST", "/_sim/orders"): lambda: place_order(shop, body),
            ("GET", "/_sim/orders"): lambda: [order_summary(o) for o in shop.order_list()],
            ("GET", "/_sim/deliveries"): lambda: list(shop.deliveries),
            ("POST", "/_sim/outages"): lambda: shop.take_down(body["url"], body.get("seconds")),
            ("POST", "/_sim/outages/end"): lambda: shop.bring_up(body["url"]),
        }
        route = routes.get((method, path))
        if route is not None:
            return 200, route()
        status_match = CONTROL_STATUS_PATH.match(path)
        if status_match and method == "POST":
            return 200, change_status(shop, int(status_match["number"]), body)
        match = CONTROL_WEBHOOK_PATH.match(path)
        if match and method == "PATCH":
            return 200, shop.edit(unquote(match["id"]), body)
        if match and method == "DELETE":
            shop.delete(unquote(match["id"]))
            return 200, None
        raise ApiError(404, None, f"no control route {method} {path}")

    # -- I/O -----------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, MAX_BODY_BYTES + 1)) if length else b""

    def _send_api(self, status: int, answer: Any) -> None:
        shop = self.server.shop
        headers = {}
        if status == 429 and shop.settings.retryAfter is not None:
            headers["Retry-After"] = str(math.ceil(shop.settings.retryAfter))
        is_api = API_PATH.match(urlsplit(self.path).path) is not None
        if answer is not None and shop.settings.wrapResponse and is_api:
            answer = {"response": answer}
        # The OAuth server always speaks JSON; the API only when asked to.
        if not is_api or "application/json" in (self.headers.get("Accept") or ""):
            self._send_json(status, answer, headers)
        else:
            document = xml_text("response", answer).encode()
            self._send(status, document, "application/xml; charset=utf-8", headers)

    def _send_json(
        self, status: int, answer: Any, headers: Optional[dict[str, str]] = None
    ) -> None:
        payload = b"" if status == 204 else json.dumps(answer).encode()
        self._send(status, payload, "application/json", headers or {})

    def _send(self, status: int, payload: bytes, kind: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def _gateway_page(status: int, _answer: Any) -> bytes:
    return (
        f"<html><head><title>{status} Gateway</title></head><body><h1>{status}</h1>"
        "<p>The upstream server did not answer in time.</p></body></html>"
    ).encode()


def _empty(_status: int, _answer: Any) -> bytes:
    return b""


def _cut_off(_status: int, answer: Any) -> bytes:
    whole = json.dumps(answer).encode()
    return whole[: len(whole) // 2]


# The answers no API should give (see Fault): the body each sends, and its type.
SPOILED: dict[str, tuple[Callable[[int, Any], bytes], str]] = {
    "page": (_gateway_page, "text/html; charset=utf-8"),
    "empty-after": (_empty, "application/json; charset=utf-8"),
    "cut-after": (_cut_off, "application/json; charset=utf-8"),
}


class SimulatorServer(ThreadingHTTPServer):
    """A threading HTTP server that carries the shop it simulates."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], shop: Shop) -> None:
        super().__init__(address, Handler)
        self.shop = shop


class Simulator(BackgroundServer):
    """A running simulator on loopback, for tests and the demo: ``with Simulator() as sim``."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.shop = Shop()
        super().__init__(SimulatorServer((host, port), self.shop))

    @property
    def api_url(self) -> str:
        """The base ``/webHooks`` is appended to, for OAuth clients."""
        return f"{self.url}/api"

    def token_url(self, shop: str = "demo") -> str:
        return f"{self.url}/{shop}/app/token"


# The filters each order collection takes (the docs' resource pages).
ORDER_FILTERS: dict[str, frozenset[str]] = {
    "orderExtend": Filtered.KNOWN,
    "orderHistories": frozenset({"orderId"}),
    "orderStatusDescriptions": frozenset({"orderStatusId", "languageId"}),
}


def _paging(query: dict[str, list[str]], filters: frozenset[str]) -> tuple[int, int, bool]:
    """``page``, ``limit`` and ``full`` of a collection request; any other parameter must be
    one of the collection's ``filters`` (an unknown one is a 400, not silently ignored)."""
    unknown = sorted(set(query) - {"page", "limit", "full"} - filters)
    if unknown:
        raise ApiError(400, 40005, f"unknown filter {unknown[0]}")
    try:
        page = int(query.get("page", ["0"])[0])
        limit = int(query.get("limit", [str(DEFAULT_PAGE_LIMIT)])[0])
    except ValueError:
        raise ApiError(400, 40005, "page and limit must be numbers") from None
    return page, limit, query.get("full", ["0"])[0] == "1"


def _envelope(
    collection: str,
    query: dict[str, list[str]],
    *,
    page: int,
    limit: int,
    page_count: int,
    items: list[dict[str, Any]],
) -> dict[str, Any]:
    """A collection page as the fixtures show it: numbers, links that keep the request's
    filters, ``previous`` null on the first page and ``next`` null on the last."""
    kept = {key: values[0] for key, values in query.items() if key not in ("page", "limit")}

    def link(number: int) -> dict[str, str]:
        return {"href": f"{collection}?{urlencode({**kept, 'page': number, 'limit': limit})}"}

    return {
        "href": link(page)["href"],
        "page": page,
        "limit": limit,
        "pageCount": page_count,
        "first": link(0),
        "previous": link(page - 1) if page > 0 else None,
        "next": link(page + 1) if page + 1 < page_count else None,
        "last": link(page_count - 1),
        "items": items,
    }


def _json_body(raw: bytes, content_type: Optional[str]) -> Any:
    if not raw:
        raise ApiError(400, 40014, "request body is empty")
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(400, 40013, "request body is too large")
    if "application/json" not in (content_type or ""):
        raise ApiError(400, 40001, "Content-Type: application/json is required")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, 40016, "request body is not UTF-8") from None
    except ValueError:
        raise ApiError(400, 40001, "request body is not valid JSON") from None


def _present(record: dict[str, Any], base: str, settings: Settings) -> dict[str, Any]:
    """A stored webhook as Shoprenter answers it, quirks included."""
    href = f"{base}/webHooks/{record['id']}"
    back_link = {"href": href}

    def related(items: list[dict[str, Any]]) -> Any:
        linked = [{**item, "webHook": back_link} for item in items]
        if settings.relatedShape == "auto" and len(linked) == 1:
            return linked[0]
        return linked

    answer: dict[str, Any] = {
        "href": href,
        "id": record["id"],
        "event": record["event"],
        "status": record["status"],
        "label": record["label"],
        "webHookParameters": related(record["webHookParameters"]),
    }
    if record["webHookDelay"]:
        answer["webHookDelay"] = related(record["webHookDelay"])
    elif settings.emptyDelay != "missing":
        answer["webHookDelay"] = {} if settings.emptyDelay == "{}" else []
    return answer

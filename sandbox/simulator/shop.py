"""The simulated shop: its webhooks, tokens, rate limit, request log and injected faults.

Pure state and rules, no HTTP: :mod:`sandbox.simulator.server` turns requests into calls
here. Every method is safe to call from the server's many threads.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from .limits import LIMITERS, Limiter, make_limiter
from .orders import ABANDONED, STATUS_NAMES, HistoryEntry, PlacedOrder, new_order

# The simulator's own reading of Shoprenter's documentation, kept apart from the provider's so
# that a wrong list in the product is caught by the shop instead of confirmed by it: each event
# the API accepts, and what its delivered payload is about.
EVENT_SUBJECTS: dict[str, str] = {
    "order_confirm": "order",
    "order_status_change": "order",
    "newsletter_subscribe": "subscriber",
    "newsletter_unsubscribe": "subscriber",
    "newsletter_update_subscriber": "subscriber",
    "abandoned_cart": "cart",
}

DEFAULT_CLIENT_ID = "demo-client"
DEFAULT_CLIENT_SECRET = "demo-secret"
DEFAULT_USERNAME = "demo"
DEFAULT_PASSWORD = "demo-password"
DEFAULT_PAGE_LIMIT = 25
MAX_PAGE_LIMIT = 200


class ApiError(Exception):
    """An answer other than success: HTTP status, Shoprenter's inner code, a message."""

    def __init__(self, status: int, code: Optional[int], message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"message": self.message}
        if self.code is not None:
            answer["code"] = self.code
        return answer


@dataclass
class Settings:
    """What the tests and the benchmarks tune; ``POST /_sim/settings`` sets these by name."""

    rateLimit: Optional[float] = 3.0  # requests per second per app; None: no limit
    limiter: str = "token-bucket"  # how the limit is counted: see limits.LIMITERS
    jitterMs: float = 0.0  # each API request arrives 0..jitterMs later at random (±half)
    latencyMs: float = 0.0  # added to every API answer
    tokenTtl: int = 3600  # seconds an access token lives
    relatedShape: str = "auto"  # "auto": an object when there is one, else a list; or "list"
    emptyDelay: str = "[]"  # how an absent delay reads back: "[]", "{}" or "missing"
    wrapResponse: bool = False  # wrap every JSON answer in {"response": …}
    retryAfter: Optional[float] = None  # send Retry-After (whole seconds) with 429 answers
    orderPaging: str = "numbers"  # order collections' page/limit: "numbers" or "strings"
    credentials: dict[str, str] = field(
        default_factory=lambda: {
            "clientId": DEFAULT_CLIENT_ID,
            "clientSecret": DEFAULT_CLIENT_SECRET,
            "username": DEFAULT_USERNAME,
            "password": DEFAULT_PASSWORD,
        }
    )


@dataclass
class Fault:
    """A canned misbehaviour for the next ``count`` requests matching method and path.

    ``path`` matches the end of a request's path; ``/webHooks/*`` matches every single webhook.

    ``mode``: ``status`` answers ``status`` without acting; ``drop-before`` closes the
    connection without acting; ``drop-after`` acts, then closes without answering (a lost
    response); ``delay`` acts, then waits ``seconds`` before answering, or less if the test
    ends the delays first (``POST /_sim/faults/release``). Answers no API should
    give: ``page`` is a gateway's HTML page with ``status``, without acting; ``empty-after``
    acts, then answers its own status with an empty body; ``cut-after`` acts, then answers
    its own status with the JSON cut off halfway.
    """

    method: str
    path: str
    mode: str = "status"
    status: int = 503
    count: int = 1
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        if self.count <= 0 or self.method != method:
            return False
        if self.path.endswith("/*"):
            return path.rpartition("/")[0].endswith(self.path[:-2])
        return path.endswith(self.path)


def encode_id(number: int) -> str:
    """Shoprenter's opaque id: base64 of ``webHook-notification_id=<n>``."""
    return base64.b64encode(f"webHook-notification_id={number}".encode()).decode()


class Shop:
    """One simulated shop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # What the answers held by a ``delay`` fault wait on, besides their time.
        self.delays_ended = threading.Event()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.end_delays()  # an answer the last test left delayed goes out now
            self.settings = Settings()
            self.webhooks: dict[str, dict[str, Any]] = {}
            self.log: list[dict[str, Any]] = []
            self.faults: list[Fault] = []
            self.deliveries: list[dict[str, Any]] = []
            self._tokens: dict[str, tuple[str, float]] = {}
            self._limiter: Optional[Limiter] = None
            self._next_number = 1
            self.orders: dict[int, PlacedOrder] = {}
            self._next_history = 1
            # Targets taken down by a test: URL prefix -> until when (monotonic; None: until up).
            self.outages: dict[str, Optional[float]] = {}

    # -- control -------------------------------------------------------------------------

    def configure(self, changes: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            for key, value in changes.items():
                if not hasattr(self.settings, key):
                    raise ApiError(400, None, f"unknown simulator setting {key!r}")
                if key == "limiter" and value not in LIMITERS:
                    raise ApiError(400, None, f"limiter must be one of {', '.join(LIMITERS)}")
                setattr(self.settings, key, value)
            self._limiter = None
            return dict(self.settings.__dict__)

    def end_delays(self) -> None:
        """Send now every answer a ``delay`` fault holds; later ones wait their time again."""
        self.delays_ended.set()
        self.delays_ended = threading.Event()

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def take_fault(self, method: str, path: str) -> Optional[Fault]:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    return fault
        return None

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def record(self, method: str, path: str, status: int, arrived: float) -> None:
        """Log a request: when it ``arrived`` (its request line read) and when it was handled
        (``at``), both as seconds since the epoch."""
        with self._lock:
            self.log.append(
                {
                    "method": method,
                    "path": path,
                    "status": status,
                    "arrived": arrived,
                    "at": time.time(),
                }
            )

    def take_down(self, url: str, seconds: Optional[float]) -> None:
        """Deliveries to URLs starting with ``url`` fail, for ``seconds`` (``None``: until
        :meth:`bring_up`), as if the receiver there were down."""
        with self._lock:
            self.outages[url] = None if seconds is None else time.monotonic() + seconds

    def bring_up(self, url: str) -> None:
        with self._lock:
            self.outages.pop(url, None)

    def is_down(self, url: str) -> bool:
        now = time.monotonic()
        with self._lock:
            return any(
                url.startswith(prefix) and (until is None or now < until)
                for prefix, until in self.outages.items()
            )

    # -- orders --------------------------------------------------------------------------

    def place(self, number: int, at: datetime, status: int) -> PlacedOrder:
        """Keep a new order (status 0: an abandoned cart) placed at ``at``."""
        if status not in STATUS_NAMES:
            raise ApiError(400, None, f"no order status {status}")
        with self._lock:
            if number in self.orders:
                raise ApiError(400, None, f"order {number} exists already")
            order = new_order(number, at, status, self._next_history)
            self._next_history += 1
            self.orders[number] = order
            return order

    def change_status(
        self, number: int, status: int, at: datetime, comment: str = ""
    ) -> tuple[PlacedOrder, HistoryEntry]:
        """Move an order to ``status`` at ``at``: a new history entry, the order updated."""
        if status not in STATUS_NAMES or status == ABANDONED:
            raise ApiError(400, None, f"an order cannot move to status {status}")
        with self._lock:
            order = self.orders.get(number)
            if order is None:
                raise ApiError(404, None, f"no order {number}")
            entry = HistoryEntry(self._next_history, status, at, comment)
            self._next_history += 1
            order.history.append(entry)
            order.status, order.updated = status, max(order.updated, at)
            return order, entry

    def order_list(self) -> list[PlacedOrder]:
        with self._lock:
            return sorted(self.orders.values(), key=lambda order: order.number)

    # -- auth ----------------------------------------------------------------------------

    def issue_token(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("grant_type") != "client_credentials":
            raise ApiError(400, None, "invalid_request: grant_type must be client_credentials")
        with self._lock:
            creds = self.settings.credentials
            if (body.get("client_id"), body.get("client_secret")) != (
                creds["clientId"],
                creds["clientSecret"],
            ):
                raise ApiError(401, None, "invalid_client: Client authentication failed")
            token = _fake_jwt(str(body["client_id"]))
            ttl = self.settings.tokenTtl
            self._tokens[token] = (str(body["client_id"]), time.monotonic() + ttl)
        return {"token_type": "Bearer", "expires_in": ttl, "access_token": token}

    def authenticate(self, authorization: str) -> str:
        """The application behind a request's Authorization header, or a 401."""
        scheme, _, value = authorization.partition(" ")
        with self._lock:
            if scheme == "Bearer":
                client, expires = self._tokens.get(value, ("", 0.0))
                if client and time.monotonic() < expires:
                    return client
            elif scheme == "Basic":
                creds = self.settings.credentials
                try:
                    user, _, password = base64.b64decode(value).decode().partition(":")
                except ValueError:
                    user, password = "", ""
                if (user, password) == (creds["username"], creds["password"]):
                    return user
        raise ApiError(401, 40101, "Unauthorized: invalid or expired credentials")

    def admit(self) -> None:
        """Count an API request against the limit, or refuse it with 429.

        Strict where the documentation is vague: every request counts, a refused one (401)
        included, and all of them share one limit (Shoprenter's is per application per shop;
        this simulator serves one application at a time).
        """
        with self._lock:
            rate = self.settings.rateLimit
            if not rate:
                return
            now = time.monotonic()
            if self._limiter is None:
                self._limiter = make_limiter(self.settings.limiter, rate, now)
            if not self._limiter.admit(now):
                raise ApiError(429, None, "Too Many Requests")

    # -- the webHooks resource -----------------------------------------------------------

    def create(self, body: Any) -> dict[str, Any]:
        record = _validated(body)
        with self._lock:
            record["id"] = encode_id(self._next_number)
            self._next_number += 1
            self.webhooks[record["id"]] = record
            return dict(record)

    def replace(self, webhook_id: str, body: Any) -> dict[str, Any]:
        record = _validated(body)
        with self._lock:
            if webhook_id not in self.webhooks:
                raise _not_found(webhook_id)
            record["id"] = webhook_id
            self.webhooks[webhook_id] = record
            return dict(record)

    def edit(self, webhook_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """An out-of-band edit, as someone in the admin would make it."""
        with self._lock:
            if webhook_id not in self.webhooks:
                raise _not_found(webhook_id)
            record = {**self.webhooks[webhook_id], **changes}
            self.webhooks[webhook_id] = record
            return dict(record)

    def get(self, webhook_id: str) -> dict[str, Any]:
        with self._lock:
            if webhook_id not in self.webhooks:
                raise _not_found(webhook_id)
            return dict(self.webhooks[webhook_id])

    def delete(self, webhook_id: str) -> None:
        with self._lock:
            if self.webhooks.pop(webhook_id, None) is None:
                raise _not_found(webhook_id)

    def page(self, page: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        """One page of webhooks and the page count; a page past the end is a 400."""
        return paged(self.all(), page, limit)

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(record) for record in self.webhooks.values()]


def paged(records: list[Any], page: int, limit: int) -> tuple[list[Any], int]:
    """One page of ``records`` and the page count, as strictly as a shop could check it:
    ``limit`` 1 to 200, ``page`` from 0 to the last (an empty collection has page 0)."""
    if limit < 1 or limit > MAX_PAGE_LIMIT:
        raise ApiError(400, 40005, f"limit must be between 1 and {MAX_PAGE_LIMIT}")
    page_count = max(1, -(-len(records) // limit))
    if page < 0 or page >= page_count:
        raise ApiError(400, 40008, f"page {page} is out of range (0..{page_count - 1})")
    return records[page * limit : (page + 1) * limit], page_count


def _fake_jwt(client_id: str) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    header = part({"alg": "HS256", "typ": "JWT"})
    payload = part({"sub": client_id, "iat": int(time.time()), "jti": secrets.token_hex(8)})
    return f"{header}.{payload}.{secrets.token_urlsafe(24)}"


def _not_found(webhook_id: str) -> ApiError:
    return ApiError(404, 40401, f"webHook {webhook_id} not found")


def _as_list(value: Any, name: str) -> list[Any]:
    if value in (None, {}, []):
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return value
    raise ApiError(400, 40005, f"{name} must be a list of objects")


def _invalid(name: str, value: Any) -> ApiError:
    return ApiError(400, 40005, f"{name}: invalid value {value!r}")


def _validated(body: Any) -> dict[str, Any]:
    """Check a POST/PUT body as Shoprenter does and keep it in the simulator's record form."""
    if not isinstance(body, dict) or not body:
        raise ApiError(400, 40014, "request body is empty")
    for name in ("event", "status", "label", "webHookParameters"):
        if body.get(name) in (None, "", [], {}):
            raise ApiError(400, 40003, f"{name} field is required")
    if body["event"] not in EVENT_SUBJECTS:
        raise _invalid("event", body["event"])
    if str(body["status"]) not in ("0", "1"):
        raise _invalid("status", body["status"])
    return {
        "event": body["event"],
        "status": str(body["status"]),
        "label": str(body["label"]),
        "webHookParameters": [
            _validated_parameter(parameter)
            for parameter in _as_list(body["webHookParameters"], "webHookParameters")
        ],
        "webHookDelay": [
            _validated_delay(delay) for delay in _as_list(body.get("webHookDelay"), "webHookDelay")
        ],
    }


def _validated_parameter(parameter: dict[str, Any]) -> dict[str, Any]:
    if parameter.get("type") not in ("json", "xml"):
        raise _invalid("webHookParameters.type", parameter.get("type"))
    if not isinstance(parameter.get("url"), str) or not parameter["url"]:
        raise ApiError(400, 40003, "webHookParameters.url field is required")
    names = parameter.get("fields") or []
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise _invalid("webHookParameters.fields", names)
    entry: dict[str, Any] = {"type": parameter["type"], "url": parameter["url"]}
    if names:
        entry["fields"] = list(names)
    return entry


def _validated_delay(delay: dict[str, Any]) -> dict[str, str]:
    amount = str(delay.get("delay", ""))
    if not amount.isdigit() or int(amount) < 1:
        raise _invalid("webHookDelay.delay", delay.get("delay"))
    if delay.get("delayUnit") not in ("hour", "day"):
        raise _invalid("webHookDelay.delayUnit", delay.get("delayUnit"))
    return {"delay": amount, "delayUnit": delay["delayUnit"]}

"""Replay: send again, from the shop's orders, every delivery a receiver may have missed.

Shoprenter sends each delivery once and keeps no log of it; a delivery made while a receiver
was down, redeploying or misconfigured is gone. A replay rebuilds every delivery the shop
would have made in a window (:mod:`provider.deliveries.rebuild`, from what
:mod:`provider.shoprenter.orders` reads) and sends each to each enabled, declared target of its
event, oldest first, in the target's format and ``fields``. A receiver that remembers keys
(:mod:`provider.deliveries.dedupe`) drops the copies it already has, so a replay's overlap with
what arrived live is harmless: each order reaches its system exactly once.

Each replayed request says it is one: ``webhook-id`` (the delivery's key, as the receiver
computes it from the body), ``webhook-timestamp``, ``X-Shoprenter-Webhooks-Replay`` (the run's
id) and ``X-Shoprenter-Webhooks-Read-At`` (the body is the order as the shop had it then, not
as it was when the live delivery went out).

* A webhook with a delay is replayed only for deliveries already due, never early.
* Newsletter events cannot be rebuilt (subscribers have no changed-since filter): refused.
* A send that fails is retried with backoff, then reported; the run's outcome is whether every
  due delivery was acknowledged (a ``2xx``).
* What targets acknowledged is kept in a checkpoint, so that a killed replay rerun with the
  same arguments does not send it again.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Optional

from .core.declarations import Declaration
from .core.errors import SettingsError
from .core.memo import Memo, key_of
from .core.model import Target
from .deliveries.builder import DEFAULT_TIMEOUT_SECONDS, document, mask, render
from .deliveries.rebuild import (
    Happening,
    abandonment,
    confirmation,
    linked_number,
    status_changes,
    status_names,
)
from .deliveries.trigger import Outcome, deliver
from .shoprenter.orders import OrderReader

REPLAY_HEADER = "X-Shoprenter-Webhooks-Replay"
READ_AT_HEADER = "X-Shoprenter-Webhooks-Read-At"
REPLAYABLE = ("order_confirm", "order_status_change", "abandoned_cart")
UNITS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
ABANDONED = "0"


@dataclass(frozen=True)
class Route:
    """One declared target of one enabled webhook: where its event's deliveries go."""

    webhook: str
    event: str
    target: Target
    delay: timedelta = timedelta(0)

    @property
    def wants_history(self) -> bool:
        """Whether its deliveries carry ``orderHistory`` (all fields, or some of it)."""
        fields = self.target.fields
        return not fields or any(name.startswith("orderHistory_") for name in fields)


@dataclass(frozen=True)
class Window:
    """From ``since`` (included) to ``until`` (excluded), in the shop's local time."""

    since: datetime
    until: datetime


@dataclass(frozen=True)
class Due:
    """One delivery to send: what happened, where it goes, when it was due."""

    happening: Happening
    route: Route
    due: datetime

    @property
    def checkpoint_entry(self) -> str:
        """How the checkpoint names it: the target's digest (never its URL) and the key."""
        digest = hashlib.sha256(self.route.target.url.encode()).hexdigest()[:16]
        return f"{digest} {self.happening.key}"


@dataclass(frozen=True)
class Sent:
    """How one due delivery went: its outcome, after how many attempts, or that a target
    had acknowledged it in an earlier run (``resumed``)."""

    due: Due
    answer: str
    delivered: bool
    attempts: int = 0
    resumed: bool = False


@dataclass
class Plan:
    """What a replay found: the deliveries due now, those whose delay has not run out yet."""

    due: list[Due] = field(default_factory=list)
    not_yet_due: list[Due] = field(default_factory=list)


def moment(text: str, now: datetime) -> datetime:
    """A time as ``--since`` and ``--until`` take it: ``2026-12-06T22:00:00`` (the shop's
    local time), or a span back from ``now`` (``25h``, ``90m``, ``2d``)."""
    spans = {"m": "minutes", "h": "hours", "d": "days"}
    text = text.strip()
    if text[:-1].isdigit() and text[-1:] in spans:
        return now - timedelta(**{spans[text[-1]]: int(text[:-1])})
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        raise SettingsError(
            f"{text!r} is not a time: give 2026-12-06T22:00:00 (the shop's local time) or a "
            "span back from now such as 25h, 90m or 2d"
        ) from None


def window_of(
    since: str, until: Optional[str], now: datetime, retention: timedelta, force: bool
) -> Window:
    """The window ``--since``/``--until`` give, refused when empty, in the future, or older
    than the receivers' ``retention`` (their stores would take old copies as new) unless
    ``force``."""
    window = Window(moment(since, now), moment(until, now) if until else now)
    if window.since >= window.until:
        raise SettingsError(f"--since {since} is not before --until {until or 'now'}")
    if window.since < now - retention and not force:
        raise SettingsError(
            f"--since {since} is more than {retention.days} days ago: receivers forget keys "
            "after their retention and would handle older copies again. Give --retention DAYS "
            "as your receivers keep them, or --force"
        )
    return window


def routes_of(declarations: Iterable[Declaration]) -> list[Route]:
    """Each target of each enabled declaration; an event that cannot be rebuilt is refused
    with the reason."""
    routes = []
    for declaration in declarations:
        webhook = declaration.webhook
        if not webhook.enabled:
            continue
        if webhook.event not in REPLAYABLE:
            raise SettingsError(
                f"{declaration.name}: {webhook.event} cannot be replayed, because the API has no "
                "filter for subscribers changed since a time, so what was delivered cannot be "
                "rebuilt (leave it out with --webhook)"
            )
        delay = UNITS[webhook.delay.unit] * webhook.delay.amount if webhook.delay else timedelta()
        routes += [Route(declaration.name, webhook.event, t, delay) for t in webhook.targets]
    return routes


def find(reader: OrderReader, routes: list[Route], window: Window) -> list[Happening]:
    """Every delivery the shop made in ``window`` for the routes' events, oldest first."""
    events = {route.event for route in routes}
    histories: dict[str, list[dict[str, Any]]] = {}

    def history(item: dict[str, Any]) -> list[dict[str, Any]]:
        if item["id"] not in histories:
            histories[item["id"]] = reader.history(item["id"])
        return histories[item["id"]]

    wants_names = any(r.wants_history for r in routes) or "abandoned_cart" in events
    names = status_names(reader.status_descriptions()) if wants_names else {}
    created = (window.since, window.until)
    found: list[Happening] = []
    if "order_confirm" in events:
        with_history = any(r.wants_history for r in routes if r.event == "order_confirm")
        for item in reader.orders(created=created):
            found.append(confirmation(item, history(item) if with_history else [], names))
    if "order_status_change" in events:
        for item in reader.orders(updated_since=window.since):
            found += status_changes(item, history(item), names)
    if "abandoned_cart" in events:
        for item in reader.orders(created=created, carts=True):
            if linked_number(item.get("orderStatus")) == ABANDONED:
                found.append(abandonment(item, names))
    inside = [h for h in found if window.since <= h.at < window.until]
    return sorted(inside, key=lambda h: (h.at, h.key))


def plan(happenings: list[Happening], routes: list[Route], now: datetime) -> Plan:
    """Each happening to each route of its event: due now, or not yet (a delay)."""
    planned = Plan()
    for happening in happenings:
        for route in routes:
            if route.event == happening.event:
                due = Due(happening, route, happening.at + route.delay)
                (planned.due if due.due <= now else planned.not_yet_due).append(due)
    return planned


class Checkpoint:
    """What targets acknowledged in earlier runs with the same arguments (a memo slot): each
    entry with the time its delivery happened, forgotten once that is before the window."""

    def __init__(self, memo: Memo, identity: str, since: datetime) -> None:
        self.memo, self.identity = memo, identity
        recalled = memo.recall(identity)
        kept = recalled if isinstance(recalled, dict) else {}
        cutoff = since.isoformat()
        self.acknowledged = {entry: at for entry, at in kept.items() if str(at) >= cutoff}

    @classmethod
    def for_run(cls, arguments: Any, since: datetime, path: Optional[Path] = None) -> Checkpoint:
        """The checkpoint of replays run with ``arguments`` as given (a relative ``--since``
        stays the same text from run to run); ``path``: a file of one's own."""
        identity = key_of(arguments)
        return cls(Memo(path) if path else Memo.slot("replay", identity), identity, since)

    def has(self, due: Due) -> bool:
        return due.checkpoint_entry in self.acknowledged

    def add(self, due: Due) -> None:
        self.acknowledged[due.checkpoint_entry] = due.happening.at.isoformat()
        self.memo.keep(self.identity, self.acknowledged)


@dataclass(frozen=True)
class Sender:
    """How deliveries go out: ``attempts`` per delivery, waiting ``backoff`` seconds before
    the second and twice as long before each next (at most ``max_backoff``)."""

    run_id: str = field(default_factory=lambda: secrets.token_hex(6))
    attempts: int = 4
    backoff: float = 1.0
    max_backoff: float = 30.0
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    read_at: datetime = field(default_factory=datetime.now)
    sleep: Callable[[float], None] = time.sleep

    def headers(self, due: Due) -> dict[str, str]:
        return {
            "webhook-id": due.happening.key,
            "webhook-timestamp": str(int(time.time())),
            REPLAY_HEADER: self.run_id,
            READ_AT_HEADER: self.read_at.isoformat(timespec="seconds"),
        }

    def send(self, due: Due) -> Sent:
        """Deliver ``due``, retrying until a ``2xx`` or the last attempt."""
        target = due.route.target
        body = render(document(due.route.event, due.happening.record, target.fields), target.format)
        outcome: Optional[Outcome] = None
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                self.sleep(min(self.max_backoff, self.backoff * 2 ** (attempt - 2)))
            outcome = deliver(
                target.url, body, target.format, self.headers(due), timeout=self.timeout
            )
            if outcome.delivered:
                return Sent(due, outcome.answer, True, attempt)
        assert outcome is not None  # attempts >= 1
        return Sent(due, outcome.answer, False, self.attempts)


def send_all(dues: list[Due], sender: Sender, checkpoint: Checkpoint) -> Iterator[Sent]:
    """Send each due delivery in order, skipping what the checkpoint says was acknowledged,
    and keep each new acknowledgement there at once."""
    for due in dues:
        if checkpoint.has(due):
            sent = Sent(due, "acknowledged in an earlier run", True, resumed=True)
        else:
            sent = sender.send(due)
            if sent.delivered:
                checkpoint.add(due)
        yield sent


def report(sent: Sent) -> dict[str, Any]:
    """One delivery as ``--json`` writes it (the target masked)."""
    due = sent.due
    return {
        "webhook": due.route.webhook,
        "event": due.happening.event,
        "target": mask(due.route.target.url),
        "format": due.route.target.format,
        "order": due.happening.order,
        "key": due.happening.key,
        "happened": due.happening.at.isoformat(sep=" "),
        "due": due.due.isoformat(sep=" "),
        "answer": sent.answer,
        "acknowledged": sent.delivered,
        "attempts": sent.attempts,
        "resumed": sent.resumed,
    }


def replay(
    declarations: Iterable[Declaration],
    reader: OrderReader,
    window: Window,
    *,
    now: datetime,
    sender: Optional[Sender] = None,
    checkpoint: Optional[Checkpoint] = None,
    on_sent: Callable[[int, int], None] = lambda _done, _total: None,
) -> tuple[Plan, list[Sent]]:
    """The whole replay as a function: what is due in ``window`` for ``declarations`` (read
    through ``reader``), sent with ``sender`` past ``checkpoint`` (none: a dry run, nothing
    sent); ``on_sent(done, total)`` after each. ``shoprenter-webhooks replay`` is this, with
    its arguments and a report."""
    routes = routes_of(declarations)
    planned = plan(find(reader, routes, window), routes, now)
    if sender is None or checkpoint is None:
        return planned, []
    results = []
    for sent in send_all(planned.due, sender, checkpoint):
        results.append(sent)
        on_sent(len(results), len(planned.due))
    return planned, results

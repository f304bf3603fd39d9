"""The shop's webhooks as this process knows them, and the rules that keep them single.

A :class:`WebhookLedger` wraps a :class:`~provider.client.ShoprenterClient` and decides what
the provider's calls mean on the shop:

* ``create`` never makes a webhook identical (event, url, label) to one the shop already
  has: it takes that one over. The shop is listed once per process, however many threads
  create at once, and kept current by this process's own writes.
* after an unclear outcome (timeout, dropped connection, 5xx) it lists the shop again before
  it posts again, so a POST that landed is found, not repeated;
* a webhook is *claimed* before it is touched, so two resources never share one;
* a webhook taken over in this process is never deleted by it (a resource renamed without an
  alias is created anew, adopting its twin, before the old resource is deleted).

One ledger per shop and process (:func:`ledger_for`), shared by the engine's worker threads.
"""

from __future__ import annotations

import contextlib
import random
import threading
from typing import Optional

from .client import ShoprenterClient
from .errors import AmbiguousOutcome, NotFound, RateLimited, ShoprenterError
from .lifeline import pause
from .model import LiveWebhook, WebhookState
from .settings import ConnectionSettings

# POSTs whose outcome was unclear before giving up, and refusals (429) before giving up.
CREATE_ATTEMPTS = 4
RATE_LIMITED_POSTS = 10


class WebhookLedger:
    """Create, read, update and delete webhooks without ever duplicating or stealing one."""

    def __init__(self, client: ShoprenterClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._listing = threading.Lock()
        # Webhooks seen on the shop, read once and kept current by our own writes.
        self._known: Optional[dict[str, LiveWebhook]] = None
        # Ids handed to a resource by this process.
        self._claimed: set[str] = set()
        # Ids of existing webhooks taken over in this process.
        self._taken_over: set[str] = set()

    def read(self, webhook_id: str) -> Optional[LiveWebhook]:
        """The webhook as the shop has it now, or ``None`` when it is gone."""
        return self.client.get(webhook_id)

    def create(self, state: WebhookState) -> LiveWebhook:
        """Make the shop have this webhook, adopting an identical one instead of duplicating it."""
        if state.adopt_id:
            return self._adopt(state.adopt_id, state)
        twin = self._find_twin(state, fresh=False)
        if twin is not None:
            return self._take_over(twin, state)
        return self._post_until_clear(state)

    def _post_until_clear(self, state: WebhookState) -> LiveWebhook:
        """POST until the shop answers clearly, looking for what an unclear POST made.

        A 429 is a clear refusal (nothing was made): the client's pacer has slowed down and
        honours the shop's ``Retry-After``, so it is tried again at once and does not count
        against the attempts, which are for unclear outcomes.
        """
        unclear = refused = 0
        while True:
            try:
                return self._claim(self._remember(self.client.post(state)))
            except RateLimited:
                refused += 1
                if refused > RATE_LIMITED_POSTS:
                    raise
            except AmbiguousOutcome:
                unclear += 1
                twin = self._find_twin(state, fresh=True)
                if twin is not None:
                    return self._take_over(twin, state)
                if unclear >= CREATE_ATTEMPTS:
                    raise
                pause(_backoff(unclear))

    def update(self, webhook_id: str, state: WebhookState) -> LiveWebhook:
        """Overwrite the webhook with ``state``; say how to recover when it is gone."""
        try:
            return self._remember(self.client.put(webhook_id, state))
        except NotFound as error:
            raise NotFound(
                "update webhook",
                f"{webhook_id} is no longer on the shop; run `pulumi refresh` to forget it "
                "and `pulumi up` to create it again",
                subject=state.label,
                status=error.status,
            ) from None

    def delete(self, webhook_id: str, label: str) -> None:
        """Remove the webhook; one already gone, or taken over in this run, counts as done."""
        with self._lock:
            if webhook_id in self._taken_over:
                return
        with contextlib.suppress(NotFound):
            self.client.delete(webhook_id, label)
        with self._lock:
            if self._known is not None:
                self._known.pop(webhook_id, None)
            self._claimed.discard(webhook_id)

    def prune(self, webhook_id: str, label: str) -> bool:
        """Delete a webhook no resource manages; refuse one claimed in this run (``False``)."""
        with self._lock:
            if webhook_id in self._claimed:
                return False
        self.delete(webhook_id, label)
        return True

    def _adopt(self, webhook_id: str, state: WebhookState) -> LiveWebhook:
        live = self.client.get(webhook_id)
        if live is None:
            raise NotFound(
                "adopt webhook",
                f"adoptId {webhook_id!r} names no webhook on the shop",
                subject=state.label,
                status=404,
            )
        return self._take_over(live, state)

    def _take_over(self, live: LiveWebhook, state: WebhookState) -> LiveWebhook:
        """Claim an existing webhook (before touching it), then make it match ``state``."""
        self._claim(live)
        try:
            if not live.state.same_webhook(state):
                live = self.update(live.id, state)
        except ShoprenterError:
            with self._lock:
                self._claimed.discard(live.id)
            raise
        with self._lock:
            self._taken_over.add(live.id)
        return live

    def _claim(self, live: LiveWebhook) -> LiveWebhook:
        with self._lock:
            if live.id in self._claimed:
                raise ShoprenterError(
                    "create webhook",
                    f"webhook {live.id} is already managed by another resource of this stack; "
                    "two resources declare the same event, url and label",
                    subject=live.state.label,
                )
            self._claimed.add(live.id)
        return live

    def _find_twin(self, state: WebhookState, *, fresh: bool) -> Optional[LiveWebhook]:
        """An unclaimed webhook with the same identity, from a listing read at most once."""
        with self._listing:  # the engine's threads create at once: list only once
            with self._lock:
                stale = fresh or self._known is None
            if stale:
                listed = self.client.list().webhooks
                with self._lock:
                    self._known = {live.id: live for live in listed}
        with self._lock:
            for live in (self._known or {}).values():
                if live.state.identity() == state.identity() and live.id not in self._claimed:
                    return live
        return None

    def _remember(self, live: LiveWebhook) -> LiveWebhook:
        with self._lock:
            if self._known is not None:
                self._known[live.id] = live
        return live


_LEDGERS: dict[ConnectionSettings, WebhookLedger] = {}
_LEDGERS_LOCK = threading.Lock()


def ledger_for(settings: ConnectionSettings) -> WebhookLedger:
    """The process's one ledger (and client) for these settings: threads share its token,
    its pacer and what it knows of the shop."""
    with _LEDGERS_LOCK:
        ledger = _LEDGERS.get(settings)
        if ledger is None:
            ledger = _LEDGERS[settings] = WebhookLedger(ShoprenterClient(settings))
        return ledger


def open_ledgers() -> int:
    """How many ledgers this process holds (none until a provider method needs the shop)."""
    with _LEDGERS_LOCK:
        return len(_LEDGERS)


def forget_ledgers() -> None:
    """Drop every ledger, as a new provider process would start: no token, cache or claim."""
    with _LEDGERS_LOCK:
        _LEDGERS.clear()


def _backoff(attempt: int) -> float:
    return float(min(20.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0))

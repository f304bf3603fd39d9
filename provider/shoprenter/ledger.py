"""The rules that keep each webhook single: claims, take-overs, owners.

A :class:`WebhookLedger` wraps a :class:`~provider.shoprenter.client.ShoprenterClient` and
decides what the provider's calls mean on the shop:

* ``create`` never makes a webhook identical (event, url, label) to one the shop already
  has: it takes that one over. What the shop has is the process's one listing
  (:class:`~provider.shoprenter.listing.ShopListing`, the ledger's ``shop``), kept current by
  this process's own writes.
* after an unclear outcome (timeout, dropped connection, 5xx, a success whose body cannot be
  read) it lists the shop again before it posts again, so a POST that landed is found, not
  repeated; an unclear PUT is read back;
* a webhook is *claimed* before it is touched, so two resources never share one;
* a webhook taken over in this process is never deleted by it (a resource renamed without an
  alias is created anew, adopting its twin, before the old resource is deleted);
* another owner's webhook (its label's marker, :mod:`provider.core.ownership`) is never taken over
  unless the stack names that owner in ``takeOverFrom``, and never deleted: a delete first
  looks at the marker in the process's one listing, and lets go of a webhook marked by
  someone else since.

One ledger per shop and process (:func:`ledger_for`), shared by the engine's worker threads.
"""

from __future__ import annotations

import contextlib
import random
import threading
from typing import Optional

from ..core.errors import AmbiguousOutcome, NotFound, OwnedElsewhere, RateLimited, ShoprenterError
from ..core.model import LiveWebhook, WebhookState
from ..core.ownership import describe_owner, is_foreign
from .client import ShoprenterClient
from .lifeline import pause, warn
from .listing import ShopListing
from .settings import ConnectionSettings

# POSTs whose outcome was unclear before giving up, and refusals (429) before giving up.
CREATE_ATTEMPTS = 4
RATE_LIMITED_POSTS = 10


class WebhookLedger:
    """Create, read, update and delete webhooks without ever duplicating or stealing one."""

    def __init__(self, client: ShoprenterClient) -> None:
        self.client = client
        self.shop = ShopListing(client)  # what this process knows of the shop's webhooks
        self._lock = threading.Lock()
        # Ids handed to a resource by this process.
        self._claimed: set[str] = set()
        # Ids of existing webhooks taken over in this process.
        self._taken_over: set[str] = set()
        # Whether a resource was created (made or adopted) or updated in this process.
        self.resources_changed = False

    def create(
        self, state: WebhookState, take_over_from: frozenset[str] = frozenset()
    ) -> LiveWebhook:
        """Make the shop have this webhook, adopting an identical one instead of duplicating it.

        A webhook another owner marks is never adopted (:class:`OwnedElsewhere`, before any
        write) unless that owner is in ``take_over_from``.
        """
        self.resources_changed = True
        if state.adopt_id:
            return self._adopt(state.adopt_id, state, take_over_from)
        twin = self._find_twin(state, fresh=False)
        if twin is not None:
            return self._take_over(twin, state, take_over_from)
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
                return self._claim(self.shop.remember(self.client.post(state)))
            except RateLimited:
                refused += 1
                if refused > RATE_LIMITED_POSTS:
                    raise
            except AmbiguousOutcome:
                unclear += 1
                twin = self._find_twin(state, fresh=True)
                if twin is not None:
                    return self._take_over(twin, state, frozenset())
                if unclear >= CREATE_ATTEMPTS:
                    raise
                pause(_backoff(unclear))

    def update(
        self, webhook_id: str, state: WebhookState, take_over_from: frozenset[str] = frozenset()
    ) -> LiveWebhook:
        """Overwrite the webhook with ``state``; say how to recover when it is gone.

        A webhook marked as another owner's (not in ``take_over_from``) since the stack last
        read it is refused before the PUT: the marker is read from the process's one listing.
        After an unclear outcome the webhook is read back: a PUT that landed is done.
        """
        self.resources_changed = True
        listed = self.shop.listed().get(webhook_id)
        if listed is not None:
            theirs = listed.state.owner
            if is_foreign(theirs, state.owner) and theirs not in take_over_from:
                raise OwnedElsewhere(
                    webhook_id, listed.state.label, theirs, state.owner, in_state=True
                )
        try:
            return self.shop.remember(self.client.put(webhook_id, state))
        except AmbiguousOutcome as unclear:
            try:
                live = self.client.get(webhook_id)
            except ShoprenterError:
                raise unclear from None
            if live is None or not live.state.same_webhook(state):
                raise
            return self.shop.remember(live)
        except NotFound as error:
            raise NotFound(
                "update webhook",
                f"{webhook_id} is no longer on the shop; run `pulumi refresh` to forget it "
                "and `pulumi up` to create it again",
                subject=state.label,
                status=error.status,
            ) from None

    def delete(self, webhook_id: str, label: str, owner: Optional[str]) -> None:
        """Remove the webhook unless its marker names an owner other than ``owner`` (this
        stack's, or ``None`` for a state from before markers); one gone, taken over in this
        run, or marked by someone else since (released, with a warning) counts as done. A
        webhook whose label lost its marker is still this stack's, and is deleted."""
        with self._lock:
            if webhook_id in self._taken_over:
                return
        live = self.shop.listed().get(webhook_id)
        if live is None:
            return  # gone already
        if is_foreign(live.state.owner, owner):
            warn(
                f"webhook {webhook_id} ({label!r}) was not deleted: its marker says "
                f"{describe_owner(live.state.owner, owner)} now, so this stack lets it go"
            )
        else:
            with contextlib.suppress(NotFound):
                self.client.delete(webhook_id, label)
        self.shop.forget(webhook_id)
        with self._lock:
            self._claimed.discard(webhook_id)

    def prune(self, webhook_id: str, label: str, owner: Optional[str]) -> bool:
        """Delete a webhook no resource manages, if it is still ``owner``'s (``None``:
        unowned) on the shop; refuse one claimed in this run (``False``)."""
        with self._lock:
            if webhook_id in self._claimed:
                return False
        self.delete(webhook_id, label, owner)
        return True

    def _adopt(
        self, webhook_id: str, state: WebhookState, take_over_from: frozenset[str]
    ) -> LiveWebhook:
        live = self.client.get(webhook_id)
        if live is None:
            raise NotFound(
                "adopt webhook",
                f"adoptId {webhook_id!r} names no webhook on the shop",
                subject=state.label,
                status=404,
            )
        return self._take_over(live, state, take_over_from)

    def _take_over(
        self, live: LiveWebhook, state: WebhookState, take_over_from: frozenset[str]
    ) -> LiveWebhook:
        """Claim an existing webhook (before touching it), then make it match ``state``: its
        marker too, which is one PUT of the label for an unmarked one."""
        theirs = live.state.owner
        if is_foreign(theirs, state.owner) and theirs not in take_over_from:
            raise OwnedElsewhere(live.id, live.state.label, theirs, state.owner)
        self._claim(live)
        try:
            if not live.state.same_webhook(state):
                live = self.update(live.id, state, take_over_from)
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
        """An unclaimed webhook with the same identity, from a listing read at most once
        (again when ``fresh``): one this owner marks first, then an unmarked one, then
        another owner's (which ``_take_over`` refuses)."""
        known = self.shop.listed(fresh=fresh)
        with self._lock:
            twins = [
                live
                for live in known.values()
                if live.state.identity() == state.identity() and live.id not in self._claimed
            ]
        preference = {state.owner: 0, None: 1}
        twins.sort(key=lambda live: preference.get(live.state.owner, 2))
        return twins[0] if twins else None


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

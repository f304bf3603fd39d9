"""The shop's webhooks as this process knows them, and the rules that keep them single.

A :class:`WebhookLedger` wraps a :class:`~provider.client.ShoprenterClient` and decides what
the provider's calls mean on the shop:

* ``create`` never makes a webhook identical (event, url, label) to one the shop already
  has: it takes that one over. The shop is listed once per process, however many threads
  create at once, and kept current by this process's own writes.
* after an unclear outcome (timeout, dropped connection, 5xx, a success whose body cannot be
  read) it lists the shop again before it posts again, so a POST that landed is found, not
  repeated; an unclear PUT is read back;
* a refresh reads each webhook from that same one listing of the shop (its pages and a token,
  not one call per webhook); a webhook the listing lacks is confirmed gone by its own GET (a
  404 is certain, an absent entry is not), and where no listing can be had, each webhook is
  read on its own: a live webhook is never reported gone;
* a webhook is *claimed* before it is touched, so two resources never share one;
* a webhook taken over in this process is never deleted by it (a resource renamed without an
  alias is created anew, adopting its twin, before the old resource is deleted);
* another owner's webhook (its label's marker, :mod:`provider.ownership`) is never taken over
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

from .client import Listing, ShoprenterClient
from .errors import AmbiguousOutcome, NotFound, OwnedElsewhere, RateLimited, ShoprenterError
from .lifeline import pause, warn
from .model import LiveWebhook, Unmanageable, WebhookState
from .ownership import describe_owner, is_foreign
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
        # Webhooks seen on the shop, read once and kept current by our own writes; and those
        # the listing found that no declaration can describe.
        self._known: Optional[dict[str, LiveWebhook]] = None
        self._unmanageable: list[Unmanageable] = []
        # Whether a refresh has listed the shop in this process (its reads share that listing),
        # and whether that failed (its reads then go item by item).
        self._refreshing = threading.Lock()
        self._refreshed = False
        self._reads_by_item = False
        # Ids handed to a resource by this process.
        self._claimed: set[str] = set()
        # Ids of existing webhooks taken over in this process.
        self._taken_over: set[str] = set()
        # Whether a resource was created (made or adopted) or updated in this process.
        self.resources_changed = False

    def read(self, webhook_id: str) -> Optional[LiveWebhook]:
        """The webhook as the shop has it now, or ``None`` when it is gone.

        Answered from the process's one listing; absent there, or with no listing to be had,
        by the webhook's own GET, whose 404 alone says it is gone.
        """
        listed = self._listed_for_reads()
        found = listed.get(webhook_id) if listed is not None else None
        return found if found is not None else self.client.get(webhook_id)

    def listing(self) -> Listing:
        """The shop's whole webhook set for a refresh: the listing its reads share, kept
        current by this process's writes."""
        self._refresh_listing()
        listed = self.last_listing()
        assert listed is not None  # listed just now
        return listed

    def last_listing(self) -> Optional[Listing]:
        """What this process last listed of the shop, kept current by its own writes, or
        ``None`` when it has listed nothing: never a call."""
        with self._lock:
            if self._known is None:
                return None
            return Listing(list(self._known.values()), list(self._unmanageable))

    def _refresh_listing(self) -> dict[str, LiveWebhook]:
        """The listing a refresh reads from: listed anew at the process's first refresh read
        (never older than the refresh; a create may have listed before), then shared."""
        with self._refreshing:
            known = self._listed(fresh=not self._refreshed)
            self._refreshed = True
        return known

    def _listed_for_reads(self) -> Optional[dict[str, LiveWebhook]]:
        """The one listing, or ``None`` once it could not be had (a page with no clear answer
        after the transport's retries): a refresh then reads webhook by webhook."""
        with self._lock:
            if self._reads_by_item:
                return None
        try:
            return self._refresh_listing()
        except (AmbiguousOutcome, RateLimited) as error:
            with self._lock:
                self._reads_by_item = True
            warn(f"listing the shop failed ({error}); reading each webhook on its own instead")
            return None

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
                return self._claim(self._remember(self.client.post(state)))
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
        listed = self._listed().get(webhook_id)
        if listed is not None:
            theirs = listed.state.owner
            if is_foreign(theirs, state.owner) and theirs not in take_over_from:
                raise OwnedElsewhere(
                    webhook_id, listed.state.label, theirs, state.owner, in_state=True
                )
        try:
            return self._remember(self.client.put(webhook_id, state))
        except AmbiguousOutcome as unclear:
            try:
                live = self.client.get(webhook_id)
            except ShoprenterError:
                raise unclear from None
            if live is None or not live.state.same_webhook(state):
                raise
            return self._remember(live)
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
        live = self._listed().get(webhook_id)
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
        with self._lock:
            if self._known is not None:
                self._known.pop(webhook_id, None)
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
        known = self._listed(fresh=fresh)
        with self._lock:
            twins = [
                live
                for live in known.values()
                if live.state.identity() == state.identity() and live.id not in self._claimed
            ]
        preference = {state.owner: 0, None: 1}
        twins.sort(key=lambda live: preference.get(live.state.owner, 2))
        return twins[0] if twins else None

    def _listed(self, *, fresh: bool = False) -> dict[str, LiveWebhook]:
        """The shop's webhooks by id: listed once per process (again when ``fresh``), then
        kept current by this process's own writes."""
        with self._listing:  # the engine's threads call at once: list only once
            with self._lock:
                stale = fresh or self._known is None
            if stale:
                listing = self.client.list()
                with self._lock:
                    self._known = {live.id: live for live in listing.webhooks}
                    self._unmanageable = listing.unmanageable
        with self._lock:
            return dict(self._known or {})

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

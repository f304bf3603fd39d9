"""The shop's webhooks as this process knows them: listed once, shared, kept current.

A :class:`ShopListing` is the state half of the ledger (:mod:`provider.shoprenter.ledger`
keeps the claims):

* the shop is listed once per process (every page), however many of the engine's threads ask
  at once, and kept current by this process's own writes (:meth:`ShopListing.remember`,
  :meth:`ShopListing.forget`);
* a refresh reads each webhook from one listing made at the process's first refresh read (its
  pages and a token, not one call per webhook); a webhook the listing lacks is confirmed gone
  by its own GET (a 404 is certain, an absent entry is not), and where no listing can be had,
  each webhook is read on its own: a live webhook is never reported gone.
"""

from __future__ import annotations

import threading
from typing import Optional

from ..core.errors import AmbiguousOutcome, RateLimited
from ..core.model import LiveWebhook, Unmanageable
from .client import Listing, ShoprenterClient
from .lifeline import warn


class ShopListing:
    """The shop's webhook set, listed once per process and kept current by its writes."""

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
            known = self.listed(fresh=not self._refreshed)
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

    def listed(self, *, fresh: bool = False) -> dict[str, LiveWebhook]:
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

    def remember(self, live: LiveWebhook) -> LiveWebhook:
        with self._lock:
            if self._known is not None:
                self._known[live.id] = live
        return live

    def forget(self, webhook_id: str) -> None:
        """A webhook this process deleted, or found deleted."""
        with self._lock:
            if self._known is not None:
                self._known.pop(webhook_id, None)

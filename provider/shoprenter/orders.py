"""Reading a shop's orders for a rebuild of its deliveries: the order resources, paged.

What ``replay`` reads (see :mod:`provider.deliveries.rebuild` for what it makes of it), each
through the one client (its pacer, retries and errors), so a replay shares the shop's 3
requests a second with any ``pulumi up`` and a 429 only slows it down:

* ``/orderExtend`` pages of up to 200 orders, filtered by creation or update time;
* ``/orderHistories?orderId=`` for each order whose status history a delivery carries;
* ``/orderStatusDescriptions`` once, for the status names.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Optional

from .client import ShoprenterClient

# The filters' time format (the docs: 2013-01-01T10:30:00).
FILTER_TIME = "%Y-%m-%dT%H:%M:%S"
Item = dict[str, Any]


class OrderReader:
    """The order resources of one shop, read through ``client``."""

    def __init__(self, client: ShoprenterClient) -> None:
        self.client = client
        self._descriptions: Optional[list[Item]] = None

    def orders(
        self,
        *,
        created: tuple[datetime, datetime] | None = None,
        updated_since: Optional[datetime] = None,
        carts: bool = False,
    ) -> Iterator[Item]:
        """Orders created within ``created`` (both ends included, as the API filters) or
        updated since ``updated_since``; abandoned carts only with ``carts``."""
        filters: dict[str, Any] = {} if carts else {"excludeAbandonedCart": 1}
        if created:
            filters["createdAtMin"] = created[0].strftime(FILTER_TIME)
            filters["createdAtMax"] = created[1].strftime(FILTER_TIME)
        if updated_since:
            filters["updatedAtMin"] = updated_since.strftime(FILTER_TIME)
        for page in self.client.pages("orderExtend", filters, "read orders"):
            yield from page

    def history(self, order_id: str) -> list[Item]:
        """The status history of the order with this id (``/orderExtend``'s ``id``)."""
        pages = self.client.pages("orderHistories", {"orderId": order_id}, "read order history")
        return [entry for page in pages for entry in page]

    def status_descriptions(self) -> list[Item]:
        """Every status's name in every language, read once."""
        if self._descriptions is None:
            pages = self.client.pages("orderStatusDescriptions", {}, "read status names")
            self._descriptions = [item for page in pages for item in page]
        return self._descriptions

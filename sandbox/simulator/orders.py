"""The simulated shop's orders, as the API's order resources show them.

The simulator's own reading of the docs' order fixtures, kept apart from the product's
(:mod:`provider.deliveries.rebuild`) so that a wrong mapping in ``replay`` is caught by the
shop instead of confirmed by it. An order is kept once, in plain values; it is shown two ways:

* as a delivery's record (:meth:`PlacedOrder.record`), the keys of the docs' webhook payload,
  with one history entry as its ``orderHistory``;
* as the API's resources (:meth:`PlacedOrder.extended`, :meth:`PlacedOrder.histories`): an
  ``/orderExtend`` item embeds the products, totals, country, language and currency, links the
  status, and leaves the history to ``/orderHistories``.

Times are the shop's local time without a zone, as the API writes them. Status ``0`` is an
abandoned cart (``excludeAbandonedCart=1`` hides it).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Optional
from zoneinfo import ZoneInfo

from provider.deliveries.builder import sample_order

SHOP_ZONE = ZoneInfo("Europe/Budapest")
API_TIME = "%Y-%m-%dT%H:%M:%S"  # dateCreated, dateUpdated and the filters
HISTORY_TIME = "%Y-%m-%d %H:%M:%S"  # a history entry's dateAdded
ABANDONED = 0
# The shop's statuses (orderStatusDescriptions, Hungarian).
STATUS_NAMES: dict[int, str] = {
    0: "Elhagyott kosár",
    1: "Függőben lévő",
    2: "Feldolgozás alatt",
    3: "Kiszállítva",
    4: "Teljesítve",
    5: "Törölve",
}
TAX_RATE = Decimal(27)
SHIPPING_NET = Decimal(990)
CENTS = Decimal("0.0001")


def shop_now() -> datetime:
    """The shop's clock: local time, whole seconds, no zone."""
    return datetime.now(SHOP_ZONE).replace(tzinfo=None, microsecond=0)


def parse_time(text: str) -> datetime:
    """A time as the API and the controls write it (``T`` or a space between date and time)."""
    return datetime.fromisoformat(text.replace(" ", "T"))


def resource_id(kind: str, key: str, number: int) -> str:
    """Shoprenter's opaque id of a resource: base64 of ``<kind>-<key>=<number>``."""
    return base64.b64encode(f"{kind}-{key}={number}".encode()).decode()


def status_id(status: int) -> str:
    return resource_id("orderStatus", "order_status_id", status)


def _amount(value: Decimal) -> str:
    return str(value.quantize(CENTS))


@dataclass
class HistoryEntry:
    number: int
    status: int
    at: datetime
    comment: str = ""


@dataclass
class Line:
    """One ordered product: its number in the shop, the product's, and what was bought."""

    number: int
    product: int
    name: str
    sku: str
    price: Decimal  # net, one piece
    quantity: int

    @property
    def gross(self) -> Decimal:
        return self.price * (1 + TAX_RATE / 100)


@dataclass
class PlacedOrder:
    number: int
    created: datetime
    updated: datetime
    status: int
    email: str
    lines: list[Line]
    history: list[HistoryEntry] = field(default_factory=list)

    @property
    def id(self) -> str:
        return resource_id("order", "order_id", self.number)

    @property
    def net(self) -> Decimal:
        return sum((line.price * line.quantity for line in self.lines), Decimal(0))

    @property
    def tax(self) -> Decimal:
        return ((self.net + SHIPPING_NET) * TAX_RATE / 100).quantize(CENTS)

    @property
    def gross(self) -> Decimal:
        return self.net + SHIPPING_NET + self.tax

    # -- as a delivery carries it --------------------------------------------------------

    def record(self, entry: HistoryEntry) -> dict[str, Any]:
        """The order as a delivery's record, every payload key set, at history ``entry``."""
        record = sample_order(self.number)
        record.update(
            storeName="simulated-shop",
            email=self.email,
            email_hash=hashlib.sha256(self.email.encode()).hexdigest(),
            comment=f"simulated order {self.number}",
            total=_amount(self.net + SHIPPING_NET),
            taxPrice=_amount(self.tax),
            totalGross=_amount(self.gross),
            shippingNetPrice=_amount(SHIPPING_NET),
            orderHistory={
                "status": str(entry.status),
                "statusText": STATUS_NAMES[entry.status],
                "comment": entry.comment,
                "dateAdded": entry.at.strftime(HISTORY_TIME),
            },
            orderProducts={"orderProduct": [self._product_record(line) for line in self.lines]},
        )
        return record

    def _product_record(self, line: Line) -> dict[str, Any]:
        return {
            "innerId": str(line.number),
            "innerResourceId": "orderProducts/"
            + resource_id("orderProduct", "order_product_id", line.number),
            "productId": str(line.product),
            "name": line.name,
            "sku": line.sku,
            "model": f"{line.sku}-M",
            "gtin": f"5990000{line.product:06d}",
            "durableMediaDevice": "0",
            "price": _amount(line.price),
            "grossPrice": _amount(line.gross),
            "currency": "HUF",
            "taxRate": _amount(TAX_RATE),
            "quantity": str(line.quantity),
        }

    # -- as the API shows it -------------------------------------------------------------

    def extended(self, base: str) -> dict[str, Any]:
        """The ``/orderExtend`` item, in the fixture's shape."""
        sample = sample_order(self.number)
        own = f"{base}/orders/{self.id}"
        country = {
            "href": f"{base}/countries/{resource_id('country', 'country_id', 97)}",
            "id": resource_id("country", "country_id", 97),
            "name": "Magyarország",
            "isoCode2": "HU",
            "isoCode3": "HUN",
            "status": "1",
        }
        item: dict[str, Any] = {
            "href": f"{base}/orderExtend/{self.id}",
            "id": self.id,
            "innerId": str(self.number),
            "firstname": sample["firstname"],
            "lastname": sample["lastname"],
            "phone": sample["phone"],
            "fax": sample["fax"],
            "email": self.email,
            **{
                f"{side}{key}": sample[f"{side}{key}"]
                for side in ("shipping", "payment")
                for key in (
                    "Firstname",
                    "Lastname",
                    "Company",
                    "Address1",
                    "Address2",
                    "City",
                    "Postcode",
                    "ZoneName",
                    "CountryName",
                )
            },
            "shippingMethodName": sample["shippingMethodName"],
            "paymentMethodName": sample["paymentMethodName"],
            "paymentMethodCode": sample["paymentMethodCode"],
            "taxNumber": sample["paymentTaxnumber"],
            "comment": f"simulated order {self.number}",
            "total": _amount(self.gross),
            "dateCreated": self.created.strftime(API_TIME),
            "dateUpdated": self.updated.strftime(API_TIME),
            "customer": {"href": f"{base}/customers/{resource_id('customer', 'customer_id', 42)}"},
            "shippingCountry": country,
            "paymentCountry": country,
            "orderStatus": {"href": f"{base}/orderStatuses/{status_id(self.status)}"},
            "language": {
                "id": resource_id("language", "language_id", 1),
                "innerId": "1",
                "code": "hu",
            },
            "currency": {"id": resource_id("currency", "currency_id", 4), "code": "HUF"},
            "shippingMode": {
                "href": f"{base}/shippingModes/{resource_id('shippingMode', 'id', 18)}"
            },
            "coupon": None,
            "orderTotals": [
                self._total(base, own, 1, "SUB_TOTAL", self.net),
                self._total(base, own, 2, "SHIPPING", SHIPPING_NET),
                self._total(base, own, 3, "TAX", self.tax),
                self._total(base, own, 4, "TOTAL", self.gross),
            ],
            "orderProducts": [self._product_item(base, own, line) for line in self.lines],
        }
        return item

    def _total(self, base: str, own: str, sort: int, kind: str, value: Decimal) -> dict[str, Any]:
        number = self.number * 10 + sort
        return {
            "href": f"{base}/orderTotals/{resource_id('orderTotal', 'order_total_id', number)}",
            "id": resource_id("orderTotal", "order_total_id", number),
            "value": _amount(value),
            "sortOrder": str(sort),
            "type": kind,
            "order": {"href": own},
        }

    def _product_item(self, base: str, own: str, line: Line) -> dict[str, Any]:
        line_id = resource_id("orderProduct", "order_product_id", line.number)
        product_id = resource_id("product", "product_id", line.product)
        return {
            "href": f"{base}/orderProducts/{line_id}",
            "id": line_id,
            "name": line.name,
            "sku": line.sku,
            "modelNumber": f"{line.sku}-M",
            "originalPrice": "0.0000",
            "price": _amount(line.price),
            "grossPrice": _amount(line.gross),
            "total": _amount(line.price * line.quantity),
            "taxRate": _amount(TAX_RATE),
            "gtin": f"5990000{line.product:06d}",
            "durableMediaDevice": "0",
            "stock1": "1",
            "subtractStock": "1",
            "order": {"href": own},
            "product": {"href": f"{base}/products/{product_id}"},
        }

    def history_item(self, base: str, entry: HistoryEntry) -> dict[str, Any]:
        """An ``/orderHistories`` item, in the fixture's shape."""
        entry_id = resource_id("orderHistory", "order_history_id", entry.number)
        return {
            "href": f"{base}/orderHistories/{entry_id}",
            "id": entry_id,
            "innerId": str(entry.number),
            "comment": entry.comment,
            "dateAdded": entry.at.strftime(HISTORY_TIME),
            "order": {"href": f"{base}/orders/{self.id}"},
            "orderStatus": {"href": f"{base}/orderStatuses/{status_id(entry.status)}"},
        }


def status_description(base: str, status: int) -> dict[str, Any]:
    """An ``/orderStatusDescriptions`` item (Hungarian)."""
    description_id = resource_id("orderStatusDescription", "order_status_id", status)
    return {
        "href": f"{base}/orderStatusDescriptions/{description_id}",
        "id": description_id,
        "name": STATUS_NAMES[status],
        "orderStatus": {"href": f"{base}/orderStatuses/{status_id(status)}"},
        "language": {"href": f"{base}/languages/{resource_id('language', 'language_id', 1)}"},
    }


def new_order(number: int, at: datetime, status: int, history_number: int) -> PlacedOrder:
    """An order numbered ``number``, its products and amounts following from the number."""
    lines = [
        Line(
            number=number * 10 + k,
            product=100 + k,
            name=f"Termék {k}",
            sku=f"SKU-{k}",
            price=Decimal(1000 * k + (number % 7) * 10),
            quantity=1 + (number + k) % 3,
        )
        for k in range(1, 2 + number % 3)
    ]
    order = PlacedOrder(number, at, at, status, f"customer{number}@example.com", lines)
    order.history.append(HistoryEntry(history_number, status, at))
    return order


class Filtered:
    """The ``/orderExtend`` filters a request gives, checked as strictly as a shop could."""

    TIMES = ("createdAtMin", "createdAtMax", "updatedAtMin", "updatedAtMax")
    KNOWN = frozenset({*TIMES, "innerId", "innerIdMin", "email", "excludeAbandonedCart"})

    def __init__(self, query: dict[str, str]) -> None:
        unknown = sorted(set(query) - self.KNOWN)
        if unknown:
            raise ValueError(f"unknown filter {unknown[0]}")
        if not query.get("innerIdMin", "0").isdigit():
            raise ValueError(f"innerIdMin must be a number, not {query['innerIdMin']!r}")
        self.query = query
        self.times: dict[str, datetime] = {}
        for key in self.TIMES:
            if key in query:
                try:
                    self.times[key] = datetime.strptime(query[key], API_TIME)
                except ValueError:
                    raise ValueError(
                        f"{key} must be written as 2013-01-01T10:30:00, not {query[key]!r}"
                    ) from None

    def keeps(self, order: PlacedOrder) -> bool:
        times, query = self.times, self.query
        checks: list[Optional[bool]] = [
            order.created >= times["createdAtMin"] if "createdAtMin" in times else None,
            order.created <= times["createdAtMax"] if "createdAtMax" in times else None,
            order.updated >= times["updatedAtMin"] if "updatedAtMin" in times else None,
            order.updated <= times["updatedAtMax"] if "updatedAtMax" in times else None,
            str(order.number) == query["innerId"] if "innerId" in query else None,
            order.number >= int(query["innerIdMin"]) if "innerIdMin" in query else None,
            order.email == query["email"] if "email" in query else None,
            order.status != ABANDONED if query.get("excludeAbandonedCart") == "1" else None,
        ]
        return all(check is not False for check in checks)


def order_items(
    orders: list[PlacedOrder], base: str, resource: str, filters: dict[str, str]
) -> list[dict[str, Any]]:
    """Every item of an order collection that ``filters`` keep, oldest first.

    :raises ValueError: a filter the docs do not give, or one written wrongly.
    """
    if resource == "orderExtend":
        kept = Filtered(filters)
        return [order.extended(base) for order in orders if kept.keeps(order)]
    if resource == "orderHistories":
        chosen = [o for o in orders if "orderId" not in filters or o.id == filters["orderId"]]
        return [order.history_item(base, entry) for order in chosen for entry in order.history]
    wanted = filters.get("orderStatusId")
    return [
        status_description(base, status)
        for status in STATUS_NAMES
        if wanted is None or status_id(status) == wanted
    ]


def order_summary(order: PlacedOrder) -> dict[str, Any]:
    """An order in a few words, for tests (``GET /_sim/orders``)."""
    return {
        "number": order.number,
        "status": order.status,
        "created": order.created.strftime(API_TIME),
        "updated": order.updated.strftime(API_TIME),
        "history": [
            {"status": entry.status, "at": entry.at.strftime(API_TIME)} for entry in order.history
        ],
    }

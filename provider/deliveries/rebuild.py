"""What the shop delivered, rebuilt from its order resources: the records ``replay`` sends.

Shoprenter keeps no delivery log, so a delivery a receiver missed is rebuilt from what the API
still has: an ``/orderExtend`` item (the order, its products, totals, countries, language and
currency), its ``/orderHistories`` entries (the status changes) and the status names
(``/orderStatusDescriptions``). This module maps those answers to a delivery's record (the
payload keys of the docs' field table); :mod:`provider.shoprenter.orders` reads them and
:mod:`provider.replay` sends what comes out. No HTTP here.

What each event's deliveries are, as the API lets them be found (assumed where the docs are
silent, and said so in the README):

* ``order_confirm``: an order, not an abandoned cart, created in the window, with its first
  history entry (the status it was confirmed with);
* ``order_status_change``: each history entry after the first, added in the window;
* ``abandoned_cart``: an order with status 0 created in the window (when the shop deems a cart
  abandoned is not documented), its current status and no history entry.

The record is the order as the shop has it when read, not as it was when the live delivery
went out. Keys no order resource gives back are left out (:data:`LEFT_OUT`); a product's
``quantity`` is its ``total`` over its ``price``; the order's ``total`` is the gross ``TOTAL``
less the ``TAX`` totals.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from .receive import Order, delivery_key

Item = dict[str, Any]
Record = dict[str, Any]

# Order keys copied as they are from an /orderExtend item.
SAME_NAME = (
    "innerId",
    "firstname",
    "lastname",
    "phone",
    "fax",
    "email",
    "comment",
    "shippingMethodName",
    "paymentMethodName",
    "paymentMethodCode",
    *(
        f"{side}{key}"
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
    ),
)
# Product keys copied as they are from an embedded orderProducts item.
PRODUCT_SAME_NAME = ("name", "sku", "gtin", "price", "grossPrice", "taxRate", "durableMediaDevice")

#: Payload fields of the docs' table that no order resource gives back: a replayed delivery
#: leaves them out, whatever the target's ``fields``.
LEFT_OUT = (
    "order_storeName",
    "order_outerResourceId",
    "order_email_hash",
    "order_cart_token",
    "order_shippingMethodCode",
    "order_shippingGrossPrice",
    "order_shippingAdditionalCostNet",
    "order_shippingAdditionalCostGross",
    "order_shippingInnerResourceId",
    "order_expectedDeliveryDate",
    "order_paymentNetPrice",
    "order_paymentGrossPrice",
    "order_couponGrossPrice",
    "order_cartAmountDiscount",
    "order_loyaltyPoints",
    "order_loyaltyPointsUsed",
    "order_reloadLink",
    "order_newsletterChecked",
    "orderProduct_outerResourceId",
    "orderProduct_image",
    "orderProduct_category",
    "orderProduct_volume",
    "orderProduct_weight",
)


@dataclass(frozen=True)
class Happening:
    """One delivery the shop made (or would have): its event, when, about which order, the
    record it carried, and its key (:func:`provider.deliveries.receive.delivery_key`)."""

    event: str
    at: datetime
    order: str
    record: Record
    key: str


def number_in(resource_id: Optional[str]) -> str:
    """The number inside a Shoprenter id (base64 of ``<kind>-<key>=<number>``), or ``""``."""
    if not resource_id:
        return ""
    try:
        decoded = base64.b64decode(resource_id, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    number = decoded.rpartition("=")[2]
    return number if number.isdigit() else ""


def linked_number(link: Any) -> str:
    """The number of the resource a link (``{"href": ".../kind/ID"}``) points to."""
    href = link.get("href") if isinstance(link, dict) else None
    return number_in(str(href).rstrip("/").rpartition("/")[2]) if href else ""


def status_names(descriptions: Iterable[Item]) -> dict[str, str]:
    """Each status's number and name (in the first language given) from
    ``/orderStatusDescriptions`` items."""
    names: dict[str, str] = {}
    for item in descriptions:
        names.setdefault(linked_number(item.get("orderStatus")), str(item.get("name", "")))
    return names


def api_time(text: str) -> datetime:
    """A time as the API writes it (``2026-12-01T10:30:00`` or with a space)."""
    return datetime.fromisoformat(text.strip().replace(" ", "T"))


def confirmation(item: Item, history: list[Item], names: dict[str, str]) -> Happening:
    """The ``order_confirm`` delivery of an order; ``history`` may be empty when no target
    wants ``orderHistory`` fields (the record then has none)."""
    first = min(history, key=_added) if history else None
    return _happening("order_confirm", api_time(item["dateCreated"]), item, first, names)


def status_changes(item: Item, history: list[Item], names: dict[str, str]) -> list[Happening]:
    """The ``order_status_change`` deliveries of an order: every history entry but the first."""
    later = sorted(history, key=_added)[1:]
    return [
        _happening("order_status_change", api_time(entry["dateAdded"]), item, entry, names)
        for entry in later
    ]


def abandonment(item: Item, names: dict[str, str]) -> Happening:
    """The ``abandoned_cart`` delivery of a cart: its current status, no history entry."""
    status = linked_number(item.get("orderStatus"))
    happening = _happening("abandoned_cart", api_time(item["dateCreated"]), item, None, names)
    happening.record["orderHistory"] = {"status": status, "statusText": names.get(status, "")}
    return happening


def _added(entry: Item) -> datetime:
    return api_time(entry["dateAdded"])


def _happening(
    event: str, at: datetime, item: Item, entry: Optional[Item], names: dict[str, str]
) -> Happening:
    record = order_record(item, entry, names)
    key = delivery_key(event, Order.model_validate(record))
    return Happening(event, at, record["innerId"], record, key)


def order_record(item: Item, entry: Optional[Item], names: dict[str, str]) -> Record:
    """A delivery's record of an ``/orderExtend`` item, at history ``entry`` (if any)."""
    record: Record = {key: item[key] for key in SAME_NAME if key in item}
    record["innerResourceId"] = f"orders/{item['id']}"
    record["customerId"] = linked_number(item.get("customer"))
    record["shippingId"] = linked_number(item.get("shippingMode"))
    record["paymentTaxnumber"] = item.get("taxNumber", "")
    for side in ("shipping", "payment"):
        country = item.get(f"{side}Country") or {}
        record[f"{side}CountryId"] = number_in(country.get("id"))
        record[f"{side}CountryIsoCode2"] = country.get("isoCode2", "")
        record[f"{side}CountryIsoCode3"] = country.get("isoCode3", "")
    language, currency = item.get("language") or {}, item.get("currency") or {}
    record["languageId"] = language.get("innerId", "")
    record["languageCode"] = language.get("code", "")
    record["currency"] = currency.get("code", "")
    record["couponCode"] = (item.get("coupon") or {}).get("code", "")
    record.update(_totals(item.get("orderTotals") or []))
    if entry is not None:
        status = linked_number(entry.get("orderStatus"))
        record["orderHistory"] = {
            "status": status,
            "statusText": names.get(status, ""),
            "comment": entry.get("comment", ""),
            "dateAdded": api_time(entry["dateAdded"]).strftime("%Y-%m-%d %H:%M:%S"),
        }
    products = [_product(product, record["currency"]) for product in _listed(item, "orderProducts")]
    record["orderProducts"] = {"orderProduct": products}
    return record


def _listed(item: Item, key: str) -> list[Item]:
    """An embedded list, which the API may give as one object when it holds one."""
    value = item.get(key) or []
    return [value] if isinstance(value, dict) else list(value)


def _totals(totals: Iterable[Item]) -> Record:
    """``totalGross`` (the ``TOTAL``), ``taxPrice`` (the ``TAX`` totals), ``total`` (the
    difference) and ``shippingNetPrice`` (the ``SHIPPING`` total), where the order has them."""
    by_type: dict[str, Decimal] = {}
    for total in totals:
        value = _decimal(total.get("value"))
        if value is not None:
            kind = str(total.get("type", ""))
            by_type[kind] = by_type.get(kind, Decimal(0)) + value
    found: Record = {}
    if "TOTAL" in by_type:
        tax = by_type.get("TAX", Decimal(0))
        found.update(
            totalGross=str(by_type["TOTAL"]), taxPrice=str(tax), total=str(by_type["TOTAL"] - tax)
        )
    if "SHIPPING" in by_type:
        found["shippingNetPrice"] = str(by_type["SHIPPING"])
    return found


def _product(item: Item, currency: str) -> Record:
    product: Record = {key: item[key] for key in PRODUCT_SAME_NAME if key in item}
    product["innerId"] = number_in(item.get("id"))
    product["innerResourceId"] = f"orderProducts/{item.get('id', '')}"
    product["productId"] = linked_number(item.get("product"))
    product["model"] = item.get("modelNumber", "")
    product["currency"] = currency
    price, total = _decimal(item.get("price")), _decimal(item.get("total"))
    if price and total is not None:
        product["quantity"] = f"{(total / price).normalize():f}"
    return product


def _decimal(value: Any) -> Optional[Decimal]:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None

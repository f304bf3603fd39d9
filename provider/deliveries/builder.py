"""What Shoprenter delivers to a webhook's target: the payload and its wire format.

One builder serves every delivery this project makes: ``trigger``'s test deliveries, the
go-live check of ``verifyTargets``, and the simulator's deliveries when an order is placed.
:mod:`provider.receive` parses what it makes, and is also tested against payloads written by
hand after Shoprenter's own samples, so that the two cannot agree on a mistake.

The wire format, as the docs' one capture shows it: ``POST``, ``multipart/form-data`` with one
field ``data`` holding the payload as a string, ``User-Agent: ShopRenter``. The payload:

* order events: ``{"orders": {"order": [ORDER]}}``, the products of an order under
  ``orderProducts.orderProduct``, its state under ``orderHistory``;
* newsletter events: ``{"newsletter": {"subscriber": [SUBSCRIBER]}}``;
* JSON written as PHP's ``json_encode`` writes it (``\\/`` for ``/``, ``\\uXXXX`` beyond
  ASCII), most values strings, some numbers or ``null``, as in the docs' sample;
* XML with the same element names, a list as repeated elements.

A target's ``fields`` select payload keys by their prefix: ``order_email`` the order's
``email``, ``orderProduct_sku`` each product's ``sku``, ``orderHistory_status`` the status's
``status``, ``subscriber_email`` the subscriber's ``email``. Without ``fields`` a delivery holds
every key the docs' field table marks for its event.

Assumed where the docs are silent: ``abandoned_cart`` has the order shape (its field table is
the order table's); the parts the docs' sample never shows (``orderProductOption_``,
``orderProductAddon_``, ``orderCreditCard_``, ``orderProductExtra``) are left out of samples.

Sample values are realistic (the docs' types), deterministic, and visibly a test: the store is
``test-delivery``, the comment says it is not a real order.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from xml.etree import ElementTree

from ..core.payload import documented_fields

USER_AGENT = "ShopRenter"
FIELD_NAME = "data"
# The header that marks a delivery this project made as a test (never set by Shoprenter).
TEST_HEADER = "X-Shoprenter-Webhooks-Test"
TEST_STORE = "test-delivery"
HIDDEN = "***"
# How long a target may take to answer a test delivery.
DEFAULT_TIMEOUT_SECONDS = 10.0
Format = Literal["json", "xml"]
Document = dict[str, Any]

# Which part of a record a field name's prefix selects from.
ORDER_PART, PRODUCT_PART, HISTORY_PART, SUBSCRIBER_PART = (
    "order",
    "orderProduct",
    "orderHistory",
    "subscriber",
)


def is_newsletter(event: str) -> bool:
    return event.startswith("newsletter_")


def _resource_id(kind: str, key: str, number: int) -> str:
    return base64.b64encode(f"{kind}-{key}={number}".encode()).decode()


def sample_product(number: int, name: str, sku: str, price: str, tax_rate: str) -> Document:
    """One ordered product, every documented key set."""
    return {
        "innerId": str(600 + number),
        "innerResourceId": "orderProducts/"
        + _resource_id("orderProduct", "order_product_id", number),
        "outerResourceId": "",
        "productId": str(100 + number),
        "name": name,
        "sku": sku,
        "model": f"{sku}-M",
        "gtin": f"599000000{number:04d}",
        "price": price,
        "grossPrice": f"{float(price) * (1 + float(tax_rate) / 100):.2f}",
        "currency": "HUF",
        "taxRate": tax_rate,
        "quantity": "1",
        "image": "https://test-delivery.example.com/image/no_image.jpg",
        "category": "Teszt kategória",
        "durableMediaDevice": "0",
        "volume": {
            "height": "10.00",
            "width": "8.00",
            "length": "8.00",
            "volumeUnit": [{"unit": "cm", "language": "hu"}, {"unit": "cm", "language": "en"}],
        },
        "weight": {
            "weight": "0.40",
            "weightUnit": [{"unit": "kg", "language": "hu"}, {"unit": "kg", "language": "en"}],
        },
    }


def sample_order(number: int = 1) -> Document:
    """An order with every key of the docs' order field table, visibly a test."""
    email = "test-delivery@example.com"
    address = {"Firstname": "Teszt", "Lastname": "Kézbesítés", "Company": "Próba Kft."}
    place = {
        "Address1": "Próba utca 1.",
        "Address2": "",
        "City": "Budapest",
        "CountryName": "Magyarország",
        "CountryId": "97",
        "CountryIsoCode2": "HU",
        "CountryIsoCode3": "HUN",
        "ZoneName": "Budapest",
        "Postcode": "1011",
    }
    return {
        "storeName": TEST_STORE,
        "innerId": str(number),
        "innerResourceId": "orders/" + _resource_id("order", "order_id", number),
        "outerResourceId": "",
        "customerId": "42",
        "firstname": "Teszt",
        "lastname": "Kézbesítés",
        "phone": "+36301234567",
        "fax": "",
        "email": email,
        "email_hash": hashlib.sha256(email.encode()).hexdigest(),
        "cart_token": f"test-cart-{number}",
        **{f"shipping{key}": value for key, value in {**address, **place}.items()},
        "shippingId": "18",
        "shippingMethodName": "Házhozszállítás (teszt)",
        "shippingMethodCode": "TEST_COURIER",
        "shippingNetPrice": 970.0714,
        "shippingGrossPrice": "1232",
        "shippingAdditionalCostNet": "0",
        "shippingAdditionalCostGross": "0",
        "shippingInnerResourceId": "shippingModeExtend/" + _resource_id("shippingMode", "id", 18),
        "expectedDeliveryDate": "2026-01-20",
        **{f"payment{key}": value for key, value in {**address, **place}.items()},
        "paymentTaxnumber": "12345678-1-42",
        "paymentMethodName": "Utánvét",
        "paymentMethodCode": "COD",
        "paymentNetPrice": 0,
        "paymentGrossPrice": 0,
        "couponCode": "",
        "couponGrossPrice": None,
        "cartAmountDiscount": "0",
        "loyaltyPoints": "0",
        "loyaltyPointsUsed": "0",
        "newsletterChecked": "0",
        "reloadLink": f"https://test-delivery.example.com/cart/reload/{number}",
        "languageId": "1",
        "languageCode": "hu",
        "comment": "shoprenter-webhooks test delivery: not a real order",
        "total": "9945",
        "totalGross": "12630",
        "taxPrice": "2685",
        "currency": "HUF",
        "orderHistory": {
            "status": "1",
            "statusText": "Függőben lévő",
            "comment": "",
            "dateAdded": "2026-01-15 10:30:00",
        },
        "orderProducts": {
            "orderProduct": [
                sample_product(1, "Bögre (teszt)", "TEST-MUG", "945", "27.0000"),
                sample_product(2, "Teszt könyv", "TEST-BOOK", "9000", "5.0000"),
            ]
        },
    }


def sample_subscriber(number: int = 1) -> Document:
    """A newsletter subscriber with every documented key, visibly a test."""
    email = "test-delivery@example.com"
    return {
        "id": str(number),
        "firstname": "Teszt",
        "lastname": "Kézbesítés",
        "email": email,
        "phone": "+36301234567",
        "status": "1",
        "language": "hu",
        "hash": hashlib.sha256(f"{email}/{number}".encode()).hexdigest()[:32],
        "subscribe_date": "2026-01-15 10:30:00",
    }


def payload(event: str, fields: Iterable[str] = (), number: int = 1) -> Document:
    """The payload of a test delivery of ``event``: a sample record (see :func:`document`)."""
    record = sample_subscriber(number) if is_newsletter(event) else sample_order(number)
    return document(event, record, fields)


def document(event: str, record: Document, fields: Iterable[str] = ()) -> Document:
    """The payload Shoprenter delivers for ``event`` about ``record`` (an order or a
    subscriber, every key set), limited to ``fields`` (none: every documented field of the
    event). The simulator's live deliveries and ``replay``'s rebuilt ones come through here."""
    names = set(fields) or set(documented_fields().get(event, ()))
    if is_newsletter(event):
        return {"newsletter": {"subscriber": [_select(record, names)]}}
    return {"orders": {"order": [_select(record, names)]}}


def _select(record: Document, names: set[str]) -> Document:
    """The record's keys that ``names`` select, by prefix, in the record's own order."""
    wanted: dict[str, set[str]] = {}
    for name in names:
        part, _, key = name.partition("_")
        wanted.setdefault(part, set()).add(key)
    top = wanted.get(SUBSCRIBER_PART, set()) | wanted.get(ORDER_PART, set())
    kept = {key: value for key, value in record.items() if key in top}
    history = _keys(record.get("orderHistory"), wanted.get(HISTORY_PART))
    if history:
        kept["orderHistory"] = history
    products = [
        _keys(product, wanted.get(PRODUCT_PART))
        for product in record.get("orderProducts", {}).get("orderProduct", [])
    ]
    if any(products):
        kept["orderProducts"] = {"orderProduct": products}
    return kept


def _keys(part: Any, keys: set[str] | None) -> Document:
    return {k: v for k, v in part.items() if k in keys} if isinstance(part, dict) and keys else {}


def render(document: Document, format: Format) -> str:
    """The payload as the ``data`` field carries it."""
    if format == "xml":
        [(tag, content)] = document.items()
        return xml_text(tag, content)
    # PHP's json_encode: ASCII only, "/" escaped, no spaces.
    return json.dumps(document, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/")


def xml_text(tag: str, content: Any) -> str:
    """``content`` as an XML document whose root element is ``tag`` (see :func:`_fill`), as
    Shoprenter writes XML: deliveries here, and the API's answers in the simulator."""
    root = ElementTree.Element(tag)
    _fill(root, content)
    body = ElementTree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}'


def _fill(element: ElementTree.Element, content: Any) -> None:
    """Write ``content`` into ``element``: a mapping as child elements, a list as repeated
    elements of the same name, ``None`` as an empty element, anything else as text."""
    if isinstance(content, dict):
        for tag, value in content.items():
            for item in value if isinstance(value, list) else [value]:
                _fill(ElementTree.SubElement(element, tag), item)
    elif content is not None:
        element.text = str(content)


def mask(url: str) -> str:
    """``url`` with every query value and any credentials hidden."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{HIDDEN}@{host}" if parts.username or parts.password else host
    if parts.port:
        netloc += f":{parts.port}"
    query = urlencode([(key, HIDDEN) for key, _ in parse_qsl(parts.query, True)], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))

"""The receiving side: one call turns what Shoprenter sends into typed models, or refuses it.

A receiver is a web app, not a Pulumi program: this module imports neither the Pulumi SDK nor
the provider's HTTP stack, only pydantic, defusedxml, python-multipart and the standard
library, so a
receiver-only service installs it without them (see the README).

* :func:`parse` takes a request's body and its ``Content-Type``: what Shoprenter sends (a
  ``multipart/form-data`` field ``data``) and what proxies make of it (an urlencoded ``data=``,
  a raw JSON or XML body). It returns a :class:`Delivery` whose ``orders`` (order events) or
  ``subscribers`` (newsletter events) are typed; anything else raises :class:`DeliveryError`,
  one error with a message saying what is wrong. XML with a DTD or entities is refused, never
  expanded.
* :func:`verify_token`: Shoprenter signs nothing, so a target's URL carries a secret; compare
  it in constant time with the tokens accepted now (two while one is being rotated).

Models: attributes are the payload keys in snake_case (``innerId`` is ``inner_id``), an
order's ``orderProducts.orderProduct`` is ``products``, prices and totals are ``Decimal``, dates
are parsed. Every key of the docs' field tables is typed, and ``None`` when a target's
``fields`` left it out; a key that is there but empty (``""``, ``null``, an empty XML element)
is ``""`` for text and ``None`` for numbers and dates. Keys the tables do not know are kept:
``model_dump(by_alias=True)`` gives them back as they came. XML cannot tell a list of one from
one element; the models decide, so the JSON and the XML of one delivery parse equal.

Bounds no real delivery reaches, so that whatever a stranger sends, a handler meets only
:class:`DeliveryError` or values it can compute with: nesting is at most :data:`MAX_NESTING`
levels (a delivery has ten), and a price, total or quantity is below :data:`MAX_MAGNITUDE` with
at most :data:`MAX_PLACES` decimals (Shoprenter sends a few digits and four decimals), so that
arithmetic and ``quantize`` never raise. The body's size is the web framework's to limit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Optional, Union
from urllib.parse import parse_qs, urlsplit
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

__all__ = [
    "MAX_MAGNITUDE",
    "MAX_NESTING",
    "MAX_PLACES",
    "Delivery",
    "DeliveryError",
    "Order",
    "OrderHistory",
    "OrderProduct",
    "Subscriber",
    "delivery_key",
    "parse",
    "payload_of",
    "verify_token",
]

# The form field a delivery's payload is in.
FIELD_NAME = b"data"
# Payload keys written in snake_case already: their attribute is their own name.
SNAKE_KEYS = frozenset({"cart_token", "email_hash", "subscribe_date"})

#: Levels of objects and lists a payload may have. A delivery has ten (orders, order, the list,
#: an order, orderProducts, orderProduct, the list, a product, volume, volumeUnit's list).
MAX_NESTING = 32
#: A number of a price, total or quantity field is below this, in magnitude.
MAX_MAGNITUDE = Decimal(10) ** 15
#: ... and has at most this many decimals (Shoprenter sends four; a float printed in full, 17).
MAX_PLACES = 20
# The longest integer a JSON payload may spell (a 64-bit id has 20 digits).
MAX_INTEGER_DIGITS = 40
# How much of a refused value an error message repeats.
SHOWN_CHARACTERS = 40


class DeliveryError(ValueError):
    """What was received is not a Shoprenter delivery; the message says why."""


def _alias(name: str) -> str:
    return name if name in SNAKE_KEYS else to_camel(name)


def _empty_is_none(value: Any) -> Any:
    return None if value in ("", None) else value


def _plausible(value: Optional[Decimal]) -> Optional[Decimal]:
    """A number a handler can add and quantise: within :data:`MAX_MAGNITUDE` and
    :data:`MAX_PLACES` (``1e999999999`` would overflow the first sum)."""
    if value is None:
        return None
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # pydantic refuses NaN and the infinities first
    # adjusted() is the power of ten of the leading digit: no arithmetic, so no overflow.
    if value.adjusted() >= MAX_MAGNITUDE.adjusted() or -exponent > MAX_PLACES:
        raise PydanticCustomError(
            "number_out_of_range",
            "a number out of range for this field (below {magnitude} with at most {places} "
            "decimals)",
            {"magnitude": "10^15", "places": MAX_PLACES},
        )
    return value


def _text(value: Any) -> Any:
    """``null`` (JSON) and an empty element (XML) are both the empty text."""
    return "" if value is None else str(value) if isinstance(value, (int, float)) else value


def _as_list(value: Any) -> Any:
    """A list, one element (XML cannot tell it from a list of one), or nothing."""
    if value in ("", None):
        return []
    return value if isinstance(value, list) else [value]


Text = Annotated[Optional[str], BeforeValidator(_text)]
Money = Annotated[Optional[Decimal], BeforeValidator(_empty_is_none), AfterValidator(_plausible)]
Day = Annotated[Optional[date], BeforeValidator(_empty_is_none)]
Moment = Annotated[Optional[datetime], BeforeValidator(_empty_is_none)]


class PayloadModel(BaseModel):
    """Payload keys in snake_case; unknown keys kept; frozen, compared by value."""

    model_config = ConfigDict(
        alias_generator=_alias, populate_by_name=True, extra="allow", frozen=True
    )


class Unit(PayloadModel):
    unit: Text = None
    language: Text = None


class Volume(PayloadModel):
    height: Money = None
    width: Money = None
    length: Money = None
    volume_unit: Annotated[list[Unit], BeforeValidator(_as_list)] = Field(default_factory=list)


class Weight(PayloadModel):
    weight: Money = None
    weight_unit: Annotated[list[Unit], BeforeValidator(_as_list)] = Field(default_factory=list)


class OrderProduct(PayloadModel):
    """One ordered product (the docs' ``orderProduct_`` fields)."""

    inner_id: Text = None
    inner_resource_id: Text = None
    outer_resource_id: Text = None
    product_id: Text = None
    name: Text = None
    sku: Text = None
    model: Text = None
    gtin: Text = None
    price: Money = None
    gross_price: Money = None
    currency: Text = None
    tax_rate: Money = None
    quantity: Money = None
    image: Text = None
    category: Text = None
    durable_media_device: Text = None
    volume: Annotated[Optional[Volume], BeforeValidator(_empty_is_none)] = None
    weight: Annotated[Optional[Weight], BeforeValidator(_empty_is_none)] = None


class OrderHistory(PayloadModel):
    """The order's state (the docs' ``orderHistory_`` fields)."""

    status: Text = None
    status_text: Text = None
    comment: Text = None
    date_added: Moment = None


def _products(value: Any) -> Any:
    """``orderProducts`` is ``{"orderProduct": [...]}``: its list (or its one element)."""
    if isinstance(value, dict) and set(value) <= {"orderProduct"}:
        return _as_list(value.get("orderProduct"))
    return _as_list(value)


class Order(PayloadModel):
    """One order of an order event (the docs' ``order_`` fields)."""

    store_name: Text = None
    inner_id: Text = None
    inner_resource_id: Text = None
    outer_resource_id: Text = None
    customer_id: Text = None
    firstname: Text = None
    lastname: Text = None
    phone: Text = None
    fax: Text = None
    email: Text = None
    email_hash: Text = None
    cart_token: Text = None
    shipping_firstname: Text = None
    shipping_lastname: Text = None
    shipping_company: Text = None
    shipping_address_1: Text = None
    shipping_address_2: Text = None
    shipping_city: Text = None
    shipping_country_id: Text = None
    shipping_country_name: Text = None
    shipping_country_iso_code_2: Text = None
    shipping_country_iso_code_3: Text = None
    shipping_zone_name: Text = None
    shipping_postcode: Text = None
    shipping_id: Text = None
    shipping_method_name: Text = None
    shipping_method_code: Text = None
    shipping_inner_resource_id: Text = None
    shipping_net_price: Money = None
    shipping_gross_price: Money = None
    shipping_additional_cost_net: Money = None
    shipping_additional_cost_gross: Money = None
    expected_delivery_date: Day = None
    payment_firstname: Text = None
    payment_lastname: Text = None
    payment_company: Text = None
    payment_address_1: Text = None
    payment_address_2: Text = None
    payment_city: Text = None
    payment_country_id: Text = None
    payment_country_name: Text = None
    payment_country_iso_code_2: Text = None
    payment_country_iso_code_3: Text = None
    payment_zone_name: Text = None
    payment_postcode: Text = None
    payment_taxnumber: Text = None
    payment_method_name: Text = None
    payment_method_code: Text = None
    payment_net_price: Money = None
    payment_gross_price: Money = None
    coupon_code: Text = None
    coupon_gross_price: Money = None
    cart_amount_discount: Money = None
    loyalty_points: Money = None
    loyalty_points_used: Money = None
    newsletter_checked: Text = None
    reload_link: Text = None
    language_id: Text = None
    language_code: Text = None
    comment: Text = None
    total: Money = None
    total_gross: Money = None
    tax_price: Money = None
    currency: Text = None
    order_history: Annotated[Optional[OrderHistory], BeforeValidator(_empty_is_none)] = None
    products: Annotated[Optional[list[OrderProduct]], BeforeValidator(_products)] = Field(
        default=None, alias="orderProducts"
    )


class Subscriber(PayloadModel):
    """One subscriber of a newsletter event (the docs' ``subscriber_`` fields)."""

    id: Text = None
    firstname: Text = None
    lastname: Text = None
    email: Text = None
    phone: Text = None
    status: Text = None
    language: Text = None
    hash: Text = None
    subscribe_date: Moment = None


class Delivery(BaseModel):
    """One delivery: the orders of an order event, or the subscribers of a newsletter event
    (the payload names no event: which order event it was, the target's URL must tell)."""

    model_config = ConfigDict(frozen=True)

    orders: Optional[list[Order]] = None
    subscribers: Optional[list[Subscriber]] = None

    def keys(self, event: str) -> list[str]:
        """The key of each record of this delivery of ``event`` (see :func:`delivery_key`)."""
        records: list[Union[Order, Subscriber]] = [*(self.orders or []), *(self.subscribers or [])]
        return [delivery_key(event, record) for record in records]


def delivery_key(event: str, record: Union[Order, Subscriber]) -> str:
    """The key of one delivery, the same for the live delivery and every replayed copy,
    whatever the target's format and ``fields``: what a receiver remembers (see
    :mod:`provider.deliveries.dedupe`) and ``replay`` sends as ``webhook-id``.

    Shoprenter's deliveries carry no id, so the key is made of what they are about: the event
    and the order (``order_confirm:12``), and for a status change the change, its status and
    time (``order_status_change:12:3:2026-12-01T12:30:00``). A newsletter delivery's key is its
    content (nothing else tells two apart; newsletter events are never replayed).

    :raises DeliveryError: the target's ``fields`` left out what the key is made of (the
        message names the fields to add).
    """
    if isinstance(record, Subscriber):
        content = json.dumps(record.model_dump(mode="json", by_alias=True), sort_keys=True)
        return f"{event}:{hashlib.sha256(content.encode()).hexdigest()[:32]}"
    order = _order_number(record)
    if event != "order_status_change":
        return f"{event}:{order}"
    history = record.order_history
    if history is None or not history.status or history.date_added is None:
        raise DeliveryError(
            "a status change is told apart by its status and time: add orderHistory_status "
            "and orderHistory_dateAdded to the target's fields"
        )
    return f"{event}:{order}:{history.status}:{history.date_added.isoformat()}"


def _order_number(order: Order) -> str:
    """The order's number: ``innerId``, else the number in ``innerResourceId``."""
    if order.inner_id:
        return order.inner_id
    resource = (order.inner_resource_id or "").rpartition("/")[2]
    try:
        decoded = base64.b64decode(resource, validate=True).decode()
    except ValueError:
        decoded = ""
    number = decoded.rpartition("=")[2]
    if not (resource and number.isdigit()):
        raise DeliveryError(
            "the delivery does not say which order it is about: add order_innerId to the "
            "target's fields"
        )
    return number


def parse(body: bytes, content_type: str) -> Delivery:
    """The delivery in a request's ``body``, sent with ``content_type``.

    :raises DeliveryError: the request holds no Shoprenter delivery (empty, another type,
        malformed, no ``data`` field, another shape, XML with a DTD or entities, nesting
        deeper than :data:`MAX_NESTING`, a number out of range).
    """
    return _delivery(_document(payload_of(body, content_type)))


def payload_of(body: bytes, content_type: str) -> bytes:
    """The payload a request carries: the ``data`` field of a form, or the body itself.

    :raises DeliveryError: no body, another type, a form without ``data``.
    """
    if not body.strip():
        raise DeliveryError("the request has no body")
    kind = content_type.partition(";")[0].strip().lower()
    if kind == "multipart/form-data":
        return _form_field(body, content_type)
    if kind == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get("data")
        if not values:
            raise DeliveryError("the form has no field data")
        return values[0].encode("latin-1")
    if kind in ("", "application/json", "text/json", "application/xml", "text/xml", "text/plain"):
        return body
    raise DeliveryError(f"a delivery is a form, JSON or XML, not {kind}")


def _form_field(body: bytes, content_type: str) -> bytes:
    """The ``data`` field of a ``multipart/form-data`` body (python-multipart's parser: a
    twentieth of what the standard library's email parser costs per delivery)."""
    boundary = parse_options_header(content_type)[1].get(b"boundary")
    form = _Form()
    try:
        if not boundary:
            raise MultipartParseError("no boundary")
        parser = MultipartParser(boundary, form.callbacks())
        parser.write(body)
        parser.finalize()
    except MultipartParseError:
        raise DeliveryError("the multipart form cannot be read (no boundary, or cut off)") from None
    if form.data is None:
        raise DeliveryError("the form has no field data")
    return form.data


class _Form:
    """What a form's parts hold, as python-multipart's callbacks tell it: the first ``data``."""

    def __init__(self) -> None:
        self.data: Optional[bytes] = None
        self._header = [b"", b""]
        self._name: Optional[bytes] = None
        self._chunks: list[bytes] = []

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda data, start, end: self._add(0, data[start:end]),
            "on_header_value": lambda data, start, end: self._add(1, data[start:end]),
            "on_header_end": self._header_end,
            "on_part_data": lambda data, start, end: self._chunks.append(data[start:end]),
            "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self._name, self._chunks, self._header = None, [], [b"", b""]

    def _add(self, which: int, text: bytes) -> None:
        self._header[which] += text

    def _header_end(self) -> None:
        field, value = self._header
        if field.lower() == b"content-disposition":
            self._name = parse_options_header(value)[1].get(b"name")
        self._header = [b"", b""]

    def _end(self) -> None:
        if self._name == FIELD_NAME and self.data is None:
            self.data = b"".join(self._chunks)


def _document(data: bytes) -> Any:
    """The payload as plain data: JSON as it is, XML as nested mappings (a repeated element
    as a list), no deeper than :data:`MAX_NESTING`."""
    text = data.strip()
    if text.startswith(b"<"):
        try:
            root = fromstring(text, forbid_dtd=True)
        except DefusedXmlException:
            raise DeliveryError("XML with a DTD or entities is refused") from None
        except ParseError as error:
            raise DeliveryError(f"the XML payload is malformed ({error})") from None
        return {root.tag: _element(root, MAX_NESTING - 1)}
    try:
        document = json.loads(text, parse_int=_integer)
    except RecursionError:  # the decoder's own guard, long before the stack is at risk
        raise _too_deep() from None
    except DeliveryError:  # an integer too long, refused by _integer
        raise
    except (ValueError, UnicodeDecodeError) as error:
        raise DeliveryError(f"the payload is neither JSON nor XML ({error})") from None
    _check_nesting(document, MAX_NESTING)
    return document


def _too_deep() -> DeliveryError:
    return DeliveryError(
        f"the payload nests deeper than a delivery ever does (more than {MAX_NESTING} levels)"
    )


def _integer(digits: str) -> int:
    """A JSON integer, refused when longer than any delivery's (before ``int`` spends time on
    it, or refuses it with advice meant for the receiver's programmer)."""
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise DeliveryError(
            f"a number out of range for a delivery ({len(digits)} digits, "
            f"at most {MAX_INTEGER_DIGITS})"
        )
    return int(digits)


def _check_nesting(value: Any, levels: int) -> None:
    """Refuse JSON data nested more than ``levels`` deep (the walk stops there)."""
    if isinstance(value, (dict, list)):
        if levels == 0:
            raise _too_deep()
        for item in value.values() if isinstance(value, dict) else value:
            _check_nesting(item, levels - 1)


def _element(element: Element, levels: int) -> Any:
    """An XML element as plain data, refused when nested more than ``levels`` deeper."""
    children = list(element)
    if not children:
        return element.text or ""
    if levels == 0:
        raise _too_deep()
    content: dict[str, Any] = {}
    for child in children:
        value = _element(child, levels - 1)
        if child.tag in content:
            earlier = content[child.tag]
            content[child.tag] = (
                [*earlier, value] if isinstance(earlier, list) else [earlier, value]
            )
        else:
            content[child.tag] = value
    return content


def _delivery(document: Any) -> Delivery:
    """The typed delivery of a payload of either documented shape."""
    if not isinstance(document, dict) or len(document) != 1:
        raise DeliveryError("the payload is not an orders or a newsletter document")
    [(kind, content)] = document.items()
    inner = {"orders": "order", "newsletter": "subscriber"}.get(kind)
    if inner is None or not isinstance(content, dict) or inner not in content:
        raise DeliveryError(
            f"the payload is not an orders or a newsletter document (it holds {kind!r})"
        )
    # An empty element (XML's <order/>) is a record whose keys were all left out.
    listed = content[inner] if isinstance(content[inner], list) else [content[inner]]
    records = [{} if record == "" else record for record in listed]
    if not all(isinstance(record, dict) for record in records):
        raise DeliveryError(f"every {inner} must be an object")
    model = Order if kind == "orders" else Subscriber
    typed = [
        _typed(model, record, f"{kind}.{inner}[{index}]") for index, record in enumerate(records)
    ]
    return Delivery(orders=typed) if kind == "orders" else Delivery(subscribers=typed)


def _typed(model: type[PayloadModel], record: dict[str, Any], where: str) -> Any:
    """One record as its model, or a :class:`DeliveryError` naming the key at fault."""
    try:
        return model.model_validate(record)
    except ValidationError as error:
        problem = error.errors()[0]
        key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem["loc"])
        raise DeliveryError(
            f"{where}{key}: {problem['msg']}, got {_shown(problem.get('input'))}"
        ) from None


def _shown(value: Any) -> str:
    """A refused value as an error message repeats it: cut short, its length said."""
    shown = repr(value)
    if len(shown) <= SHOWN_CHARACTERS:
        return shown
    return f"{shown[:SHOWN_CHARACTERS]}... ({len(shown)} characters)"


def verify_token(url: str, accepted: Union[str, Iterable[str]], param: str = "key") -> bool:
    """Whether the request ``url``'s query parameter ``param`` is one of the ``accepted``
    tokens, compared in constant time (every accepted token is compared, so the time says
    nothing of which matched). Rotate a token with two accepted at once."""
    tokens = [accepted] if isinstance(accepted, str) else list(accepted)
    given = parse_qs(urlsplit(url).query, keep_blank_values=True).get(param, [])
    if len(given) != 1:
        return False
    found = False
    for token in tokens:
        if token:
            found |= hmac.compare_digest(given[0].encode(), token.encode())
    return found

"""The receiving side: what Shoprenter sends parses to typed models; nothing else does.

``tests/payloads/`` holds deliveries written by hand after the docs' sample (its shape, its
types, PHP's escaping), so that the builder (:mod:`provider.deliveries.builder`) and the
parser cannot agree on a mistake.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provider.core.payload import EVENTS, documented_fields
from provider.deliveries.builder import Format, payload, render
from provider.deliveries.receive import MAX_NESTING, Delivery, DeliveryError, parse, verify_token

PAYLOADS = Path(__file__).parent / "payloads"
BOUNDARY = "------------------------d74496d66958873e"


def multipart(data: str, name: str = "data") -> tuple[bytes, str]:
    """A form as Shoprenter (PHP's curl) sends it."""
    body = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{name}"\r\n\r\n'
        f"{data}\r\n"
        f"--{BOUNDARY}--\r\n"
    ).encode()
    return body, f"multipart/form-data; boundary={BOUNDARY}"


def hand_written(name: str) -> str:
    return (PAYLOADS / name).read_text(encoding="utf-8")


def test_the_docs_shaped_order_parses_typed() -> None:
    delivery = parse(*multipart(hand_written("order-confirm.json")))
    assert delivery.subscribers is None and delivery.orders is not None
    [order] = delivery.orders
    assert order.inner_id == "2031" and order.lastname == "Kovács"
    assert order.shipping_net_price == Decimal("1181.1024")  # a JSON number, exactly
    assert order.total_gross == Decimal("19000") and order.payment_net_price == Decimal(0)
    assert order.coupon_gross_price is None and order.coupon_code == ""
    assert (
        order.order_history is not None and order.order_history.status_text == "Feldolgozás alatt"
    )
    assert order.products is not None
    assert [p.sku for p in order.products] == ["TEA-20", "HONEY-500"]
    assert order.products[0].quantity == Decimal(3)
    assert order.products[0].image == "https://kisbolt.example.hu/image/tea.jpg"  # \/ read
    assert order.products[0].volume is not None
    assert [u.language for u in order.products[0].volume.volume_unit] == ["hu", "en"]
    assert order.expected_delivery_date is None  # not in this delivery


def test_the_json_and_the_xml_of_one_delivery_parse_equal() -> None:
    for name in ("order-confirm", "newsletter-subscribe"):
        as_json = parse(hand_written(f"{name}.json").encode(), "application/json")
        as_xml = parse(hand_written(f"{name}.xml").encode(), "application/xml")
        assert as_json == as_xml, name


def test_a_subscriber_parses_typed() -> None:
    delivery = parse(*multipart(hand_written("newsletter-subscribe.json")))
    assert delivery.orders is None and delivery.subscribers is not None
    [subscriber] = delivery.subscribers
    assert subscriber.email == "bela.szabo@example.hu" and subscriber.firstname == "Béla"
    assert subscriber.subscribe_date == datetime(2026, 3, 2, 8, 15, 42)


@pytest.mark.parametrize("kind", ["multipart", "urlencoded", "json", "xml"])
def test_every_form_a_delivery_arrives_in_parses_the_same(kind: str) -> None:
    text = hand_written("order-confirm.xml" if kind == "xml" else "order-confirm.json")
    requests_as_sent = {
        "multipart": multipart(text),
        "urlencoded": (urlencode({"data": text}).encode(), "application/x-www-form-urlencoded"),
        "json": (text.encode(), "application/json; charset=utf-8"),
        "xml": (text.encode(), "text/xml"),
    }
    expected = parse(*multipart(hand_written("order-confirm.json")))
    assert parse(*requests_as_sent[kind]) == expected


def test_unknown_keys_are_kept_and_given_back() -> None:
    document = json.loads(hand_written("order-confirm.json"))
    document["orders"]["order"][0]["loyaltyTier"] = "gold"
    [order] = parse(json.dumps(document).encode(), "application/json").orders or []
    dumped = order.model_dump(by_alias=True)
    assert dumped["loyaltyTier"] == "gold" and dumped["innerId"] == "2031"


def test_keys_left_out_by_fields_are_none() -> None:
    sent = render(payload("order_confirm", ["order_email", "orderProduct_sku"]), "json")
    [order] = parse(*multipart(sent)).orders or []
    assert order.email == "test-delivery@example.com"
    assert order.firstname is None and order.order_history is None
    assert [(p.sku, p.name) for p in order.products or []] == [
        ("TEST-MUG", None),
        ("TEST-BOOK", None),
    ]


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE orders [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>
<orders><order><comment>&b;</comment></order></orders>"""


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", "application/json", "the request has no body"),
        (b"\x89PNG....", "image/png", "a delivery is a form, JSON or XML, not image/png"),
        (b'{"orders": {"order": [', "application/json", "neither JSON nor XML"),
        (b"<orders><order>", "text/xml", "the XML payload is malformed"),
        (multipart("{}", name="payload")[0], multipart("")[1], "the form has no field data"),
        (b"email=x", "application/x-www-form-urlencoded", "the form has no field data"),
        (b'{"products": []}', "application/json", "not an orders or a newsletter document"),
        (b'{"orders": {"order": ["x"]}}', "application/json", "every order must be an object"),
        (
            b'{"orders": {"order": [{"total": "lots"}]}}',
            "application/json",
            "orders.order[0].total: Input should be a valid decimal, got 'lots'",
        ),
        (BILLION_LAUGHS.encode(), "text/xml", "XML with a DTD or entities is refused"),
    ],
    ids=[
        "empty",
        "wrong-type",
        "cut-off-json",
        "malformed-xml",
        "no-data-field",
        "no-data-param",
        "other-shape",
        "not-objects",
        "bad-number",
        "entities",
    ],
)
def test_anything_but_a_delivery_is_refused_with_the_reason(
    body: bytes, content_type: str, reason: str
) -> None:
    with pytest.raises(DeliveryError, match=re.escape(reason)):
        parse(body, content_type)


def test_a_cut_off_multipart_form_is_refused() -> None:
    body, content_type = multipart(hand_written("order-confirm.json"))
    with pytest.raises(DeliveryError):
        parse(body[: len(body) // 2], content_type)


@pytest.mark.parametrize(
    ("url", "accepted", "ok"),
    [
        ("https://erp.example.com/sr?key=new-token", "new-token", True),
        ("https://erp.example.com/sr?key=old-token", ["new-token", "old-token"], True),
        ("https://erp.example.com/sr?key=stale", ["new-token", "old-token"], False),
        ("https://erp.example.com/sr", "new-token", False),
        ("https://erp.example.com/sr?key=", "", False),
        ("https://erp.example.com/sr?key=a&key=new-token", "new-token", False),
        ("/sr?token=new-token", "new-token", False),
    ],
)
def test_verify_token_takes_only_an_accepted_token(url: str, accepted: Any, ok: bool) -> None:
    assert verify_token(url, accepted) is ok


def test_verify_token_reads_another_parameter() -> None:
    assert verify_token("/sr?token=t-1", "t-1", param="token")


def equivalent(sent: Any, parsed: Any) -> bool:
    """Whether a parsed value (dumped by alias) is what was sent: numbers as Decimals, dates
    as text, a one-element list as XML gives it, empty values alike."""
    if isinstance(sent, dict):
        return isinstance(parsed, dict) and all(
            equivalent(value, parsed.get(key)) for key, value in sent.items()
        )
    if isinstance(sent, list):
        return (
            isinstance(parsed, list)
            and len(parsed) == len(sent)
            and all(map(equivalent, sent, parsed))
        )
    if sent in (None, "") or parsed in (None, ""):
        return sent in (None, "") and parsed in (None, "")
    if isinstance(parsed, Decimal):
        return parsed == Decimal(str(sent))
    if isinstance(parsed, datetime):
        return bool(parsed.strftime("%Y-%m-%d %H:%M:%S") == sent)
    return str(parsed) == str(sent)


def sent_records(document: dict[str, Any]) -> list[dict[str, Any]]:
    [(kind, content)] = document.items()
    return list(content["order" if kind == "orders" else "subscriber"])


def dumped(delivery: Delivery) -> list[dict[str, Any]]:
    records = delivery.orders if delivery.orders is not None else delivery.subscribers
    return [record.model_dump(by_alias=True) for record in records or []]


@st.composite
def built(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    event = draw(st.sampled_from(EVENTS))
    names = st.sampled_from(sorted(documented_fields()[event]))
    fields = draw(st.lists(names, max_size=12))
    number = draw(st.integers(1, 10**9))
    return payload(event, fields, number), draw(st.sampled_from(["json", "xml"]))


@given(built())
def test_any_payload_trigger_builds_parses_back_to_what_was_sent(
    case: tuple[dict[str, Any], str],
) -> None:
    document, format = case
    delivery = parse(*multipart(render(document, "json" if format == "json" else "xml")))
    records = dumped(delivery)
    for sent, parsed in zip(sent_records(document), records, strict=True):
        products = sent.get("orderProducts", {}).get("orderProduct")
        plain = {key: value for key, value in sent.items() if key != "orderProducts"}
        assert equivalent(plain, parsed), (plain, parsed)
        if products is not None:
            assert equivalent(products, parsed["orderProducts"])
    other: Format = "xml" if format == "json" else "json"
    assert parse(*multipart(render(document, other))) == delivery  # XML and JSON parse equal


# Hostile bodies: anyone who learns a target's URL can send anything. Whatever it is, parse
# returns models a handler can compute with, or raises DeliveryError: no other exception.

MONEY_KEYS = ["total", "totalGross", "shippingNetPrice", "couponGrossPrice", "loyaltyPoints"]
HOSTILE_BYTES = 1_000_000  # "any size", up to what a web framework lets through by default
JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def numerals() -> st.SearchStrategy[str]:
    """Numeric text of every kind: plausible prices, huge and tiny exponents, endless digits,
    the special values, and what a regex of numbers can spell."""
    return st.one_of(
        st.decimals(allow_nan=True, allow_infinity=True, places=4).map(str),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        st.builds("{}e{}".format, st.integers(-(10**6), 10**6), st.integers(-(10**10), 10**10)),
        st.builds(str.__mul__, st.sampled_from(["9", "1", "0"]), st.integers(1, 300_000)),
        st.builds("0.{}1".format, st.integers(0, 300_000).map("0".__mul__)),
        st.from_regex(r"-?[0-9]{0,30}(\.[0-9]{0,30})?([eE][-+]?[0-9]{1,12})?", fullmatch=True),
        st.floats().map(repr),
    )


def nested(kind: str, levels: int) -> str:
    """A value nested ``levels`` deep, in JSON or XML."""
    if kind == "json":
        return "[" * levels + "1" + "]" * levels
    return "<a>" * levels + "1" + "</a>" * levels


@st.composite
def hostile(draw: st.DrawFn) -> tuple[bytes, str]:
    """A body and its Content-Type: an order document carrying any numeral in a price field
    and any nesting in any place, repeated up to :data:`HOSTILE_BYTES`, sent in any of the
    four ways."""
    kind = draw(st.sampled_from(["json", "xml"]))
    numeral, money = draw(numerals()), draw(st.sampled_from(MONEY_KEYS))
    levels = draw(st.one_of(st.integers(0, MAX_NESTING + 8), st.integers(0, 100_000)))
    slot = draw(st.sampled_from(["loyaltyTier", "orderProducts", "orderHistory", "total"]))
    copies = draw(st.integers(1, 300))
    if kind == "json":
        quoted = numeral if JSON_NUMBER.fullmatch(numeral) and draw(st.booleans()) else None
        number = quoted or json.dumps(numeral)
        order = f'{{"innerId": "1", "{money}": {number}, "{slot}": {nested(kind, levels)}}}'
        text = '{"orders": {"order": [' + ", ".join([order] * within(copies, order)) + "]}}"
    else:
        order = f"<order><innerId>1</innerId><{money}>{numeral}</{money}>"
        order += f"<{slot}>{nested(kind, levels)}</{slot}></order>"
        text = "<orders>" + order * within(copies, order) + "</orders>"
    way = draw(st.sampled_from(["multipart", "urlencoded", "raw"]))
    if way == "multipart":
        return multipart(text)
    if way == "urlencoded":
        return urlencode({"data": text}).encode(), "application/x-www-form-urlencoded"
    return text.encode(), "application/json" if kind == "json" else "text/xml"


def within(copies: int, record: str) -> int:
    """As many copies of a record as fit in :data:`HOSTILE_BYTES` (at least one)."""
    return max(1, min(copies, HOSTILE_BYTES // len(record)))


def decimals_in(value: Any) -> Iterator[Decimal]:
    if isinstance(value, Decimal):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from decimals_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from decimals_in(item)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile())
def test_a_hostile_body_is_a_delivery_a_handler_can_use_or_a_delivery_error(
    request: tuple[bytes, str],
) -> None:
    try:
        delivery = parse(*request)
    except DeliveryError:
        return
    for value in decimals_in(dumped(delivery)):
        total = value + 1 - value * 2 + sum([value, value])  # what a handler does first
        assert total.is_finite()
        assert value.quantize(Decimal("0.01")).is_finite()


@pytest.mark.parametrize(
    ("text", "content_type"),
    [
        ("[" * 100_000 + "]" * 100_000, "application/json"),
        ('{"orders": {"order": [{"x": ' + nested("json", 100_000) + "}]}}", "application/json"),
        (nested("xml", 50_000), "text/xml"),
        ("<orders><order><x>" + nested("xml", 50_000) + "</x></order></orders>", "text/xml"),
        ('{"orders": {"order": [{"x": ' + nested("json", MAX_NESTING) + "}]}}", "text/json"),
    ],
    ids=["json", "json-in-an-order", "xml", "xml-in-an-order", "json-just-past-the-bound"],
)
def test_nesting_deeper_than_a_delivery_is_refused(text: str, content_type: str) -> None:
    for body, kind in ((text.encode(), content_type), multipart(text)):
        with pytest.raises(DeliveryError, match="nests deeper than a delivery ever does"):
            parse(body, kind)


def test_nesting_up_to_the_bound_is_kept() -> None:
    levels = MAX_NESTING - 4  # under the document, orders, the list and the order
    body = '{"orders": {"order": [{"x": ' + nested("json", levels) + "}]}}"
    [order] = parse(body.encode(), "application/json").orders or []
    assert order.model_dump(by_alias=True)["x"] == json.loads(nested("json", levels))


@pytest.mark.parametrize(
    ("price", "shown"),
    [
        ('"1e999999999"', "'1e999999999'"),
        ('"' + "9" * 200_000 + '"', "'" + "9" * 39 + "... (200002 characters)"),
        ('"1000000000000000"', "'1000000000000000'"),
        ('"0.000000000000000000001"', "'0.000000000000000000001'"),
        ("1e400", "inf"),
    ],
    ids=["huge-exponent", "200000-nines", "a-quadrillion", "21-decimals", "json-infinity"],
)
def test_a_number_out_of_range_for_its_field_is_refused(price: str, shown: str) -> None:
    product = '{"orderProduct": [{"price": ' + price + "}]}"
    body = '{"orders": {"order": [{"orderProducts": ' + product + "}]}}"
    with pytest.raises(DeliveryError) as refused:
        parse(body.encode(), "application/json")
    where = "orders.order[0].orderProducts[0].price: "
    assert str(refused.value).startswith(where) and str(refused.value).endswith(f"got {shown}")


def test_an_integer_longer_than_any_delivery_has_is_refused() -> None:
    body = '{"orders": {"order": [{"innerId": ' + "7" * 200_000 + "}]}}"
    with pytest.raises(
        DeliveryError, match=r"a number out of range for a delivery \(200000 digits"
    ):
        parse(body.encode(), "application/json")


def test_the_largest_plausible_numbers_are_kept_and_usable() -> None:
    largest = "999999999999999.99999999999999999999"  # 15 digits, 20 decimals
    body = f'{{"orders": {{"order": [{{"total": "{largest}", "taxPrice": 0.30000000000000004}}]}}}}'
    [order] = parse(body.encode(), "application/json").orders or []
    assert order.total == Decimal(largest)
    assert order.total.quantize(Decimal("0.01")) == Decimal("1000000000000000.00")
    assert order.tax_price == Decimal("0.30000000000000004")

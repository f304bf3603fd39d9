"""The receiving side: what Shoprenter sends parses to typed models; nothing else does.

``tests/payloads/`` holds deliveries written by hand after the docs' sample (its shape, its
types, PHP's escaping), so that the builder (:mod:`provider.delivery`) and the parser cannot
agree on a mistake.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provider.delivery import Format, payload, render
from provider.model import EVENTS
from provider.payload import documented_fields
from provider.receive import Delivery, DeliveryError, parse, verify_token

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


def test_receive_imports_neither_pulumi_nor_the_http_stack() -> None:
    probe = (
        "import sys, provider.receive; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'pulumi', 'requests', 'urllib3', 'grpc'}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


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

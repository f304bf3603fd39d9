"""One key per delivery: the same for its JSON and its XML, for any ``fields`` selection that
carries what the key is made of, and a plain error naming the fields when one does not."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provider.core.payload import documented_fields
from provider.deliveries.builder import document, render, sample_order, sample_subscriber
from provider.deliveries.receive import (
    DeliveryError,
    Order,
    Subscriber,
    delivery_key,
    parse,
)

ORDER_EVENTS = ("order_confirm", "order_status_change", "abandoned_cart")
# What a key is made of, per event: a selection must carry these (or innerResourceId).
IDENTITY = {
    "order_confirm": ("order_innerId",),
    "abandoned_cart": ("order_innerId",),
    "order_status_change": ("order_innerId", "orderHistory_status", "orderHistory_dateAdded"),
}


def keys_of(event: str, record: dict[str, Any], fields: list[str], format: str) -> list[str]:
    body = render(document(event, record, fields), "json" if format == "json" else "xml")
    return parse(body.encode(), f"application/{format}").keys(event)


@st.composite
def selections(draw: st.DrawFn) -> tuple[str, list[str], int]:
    event = draw(st.sampled_from(ORDER_EVENTS))
    others = st.sampled_from(sorted(documented_fields()[event]))
    fields = draw(st.lists(others, max_size=15))
    if fields:  # an empty selection is every field
        fields += list(IDENTITY[event])
    return event, fields, draw(st.integers(1, 10**9))


@given(selections())
def test_any_selection_and_either_format_give_the_full_records_key(
    case: tuple[str, list[str], int],
) -> None:
    event, fields, number = case
    record = sample_order(number)
    whole = delivery_key(event, Order.model_validate(record))
    assert keys_of(event, record, fields, "json") == [whole]
    assert keys_of(event, record, fields, "xml") == [whole]


def test_the_key_says_what_the_delivery_is_about() -> None:
    record = {
        **sample_order(12),
        "orderHistory": {"status": "3", "dateAdded": "2026-12-01 12:30:00"},
    }
    order = Order.model_validate(record)
    assert delivery_key("order_confirm", order) == "order_confirm:12"
    assert (
        delivery_key("order_status_change", order) == "order_status_change:12:3:2026-12-01T12:30:00"
    )
    # Without innerId, the number in innerResourceId tells the order.
    bare = Order.model_validate({"innerResourceId": record["innerResourceId"]})
    assert delivery_key("order_confirm", bare) == "order_confirm:12"


@pytest.mark.parametrize(
    ("event", "fields", "named"),
    [
        ("order_confirm", ["order_email"], "order_innerId"),
        ("order_status_change", ["order_innerId", "order_email"], "orderHistory_dateAdded"),
    ],
)
def test_a_selection_without_the_keys_parts_is_refused_by_name(
    event: str, fields: list[str], named: str
) -> None:
    with pytest.raises(DeliveryError, match=named):
        keys_of(event, sample_order(5), fields, "json")


def test_a_newsletter_key_is_its_content() -> None:
    one, same, other = (Subscriber.model_validate(sample_subscriber(n)) for n in (1, 1, 2))
    assert delivery_key("newsletter_subscribe", one) == delivery_key("newsletter_subscribe", same)
    assert delivery_key("newsletter_subscribe", one) != delivery_key("newsletter_subscribe", other)

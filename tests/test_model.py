"""The one normalisation: declared, API body and API answer all reduce to the same value."""

from __future__ import annotations

from typing import Any

import pytest

from provider.core.model import DeclaredWebhook, LiveWebhook, WebhookState, validate_declaration
from provider.core.rules import HostPattern, Rules
from tests.helpers import DECLARED as HELPERS_DECLARED

# Repeated and out of order on purpose: the normalisation sorts and dedupes.
DECLARED = {**HELPERS_DECLARED, "fields": ["order_email", "order_innerId", "order_email"]}


def answer(**overrides: Any) -> dict[str, Any]:
    """A GET answer in the documented shape: related resources as objects, strings."""
    link = {"href": "https://shop.api2.myshoprenter.hu/api/webHooks/abc"}
    base = {
        "href": link["href"],
        "id": "abc",
        "event": "order_confirm",
        "status": "1",
        "label": "ERP sync",
        "webHookParameters": {
            "type": "json",
            "url": "https://erp.example.com/hooks/sr",
            "fields": ["order_innerId", "order_email"],
            "webHook": link,
        },
        "webHookDelay": {"delay": "2", "delayUnit": "hour", "webHook": link},
    }
    return {**base, **overrides}


def test_declared_and_read_back_compare_equal() -> None:
    declared = DeclaredWebhook.model_validate(DECLARED)
    live = LiveWebhook.from_api(answer())
    assert live.state.same_webhook(declared)
    assert live.state.changed_keys(declared) == []
    assert live.to_outputs()["targets"][0]["fields"] == ["order_email", "order_innerId"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"webHookParameters": [answer()["webHookParameters"]]},
        {"webHookDelay": [answer()["webHookDelay"]]},
        {"status": 1},
    ],
    ids=["parameters-as-list", "delay-as-list", "status-as-number"],
)
def test_every_documented_answer_shape_reads_the_same(overrides: dict[str, Any]) -> None:
    assert LiveWebhook.from_api(answer(**overrides)).state == LiveWebhook.from_api(answer()).state


@pytest.mark.parametrize("absent", [[], {}, None], ids=["empty-list", "empty-object", "missing"])
def test_an_absent_delay_in_any_form_means_no_delay(absent: Any) -> None:
    body = answer(webHookDelay=absent)
    if absent is None:
        del body["webHookDelay"]
    assert LiveWebhook.from_api(body).state.delay is None


def test_a_lone_field_name_reads_as_a_list() -> None:
    parameter = {**answer()["webHookParameters"], "fields": "order_email"}
    assert LiveWebhook.from_api(answer(webHookParameters=parameter)).state.targets[0].fields == (
        "order_email",
    )


def test_api_body_round_trips_through_an_answer() -> None:
    declared = DeclaredWebhook.model_validate(DECLARED)
    body = declared.to_api_body()
    assert body["status"] == "1"
    assert body["webHookDelay"] == [{"delay": "2", "delayUnit": "hour"}]
    assert isinstance(body["webHookParameters"], list)
    read_back = LiveWebhook.from_api({**body, "id": "x", "href": "h"})
    assert read_back.state.same_webhook(declared)


def test_no_delay_is_sent_as_an_empty_list_and_no_fields_are_left_out() -> None:
    body = DeclaredWebhook.model_validate({**DECLARED, "delay": None, "fields": []}).to_api_body()
    assert body["webHookDelay"] == []
    assert "fields" not in body["webHookParameters"][0]


def test_changed_keys_names_each_difference_and_ignores_adopt_id() -> None:
    old = WebhookState.model_validate(DECLARED)
    new = old.model_copy(update={"enabled": False, "label": "renamed", "adopt_id": "other"})
    assert old.changed_keys(new) == ["label", "enabled"]


def test_several_targets_read_back_whole_and_compare_equal_in_any_order() -> None:
    erp = answer()["webHookParameters"]
    crm = {"type": "xml", "url": "https://crm.example.com/in", "fields": "order_email"}
    live = LiveWebhook.from_api(answer(webHookParameters=[erp, crm]))
    declared = DeclaredWebhook.model_validate(
        {
            **{key: DECLARED[key] for key in ("event", "label", "delay")},
            "targets": [
                {"url": crm["url"], "format": "xml", "fields": ["order_email"]},
                {"url": erp["url"], "fields": ["order_innerId", "order_email"]},
            ],
        }
    )
    assert live.state.same_webhook(declared)
    assert live.state.urls == (crm["url"], erp["url"])  # by url, whatever the order
    assert [p["url"] for p in declared.to_api_body()["webHookParameters"]] == list(live.state.urls)


def test_a_webhook_with_one_url_twice_is_set_aside_not_half_managed() -> None:
    parameter = answer()["webHookParameters"]
    with pytest.raises(ValueError, match="two targets deliver to one url"):
        LiveWebhook.from_api(answer(webHookParameters=[parameter, parameter]))


def test_targets_beside_the_shorthand_are_refused_and_a_bad_target_is_named_by_its_place() -> None:
    both = {**DECLARED, "targets": [{"url": "https://b.example.com/x"}]}
    assert validate_declaration(both)[1] == [
        (
            "targets",
            "set either targets or url, format, fields (the one-target shorthand), not both "
            "(got url, format, fields beside targets)",
        )
    ]
    props = {key: DECLARED[key] for key in ("event", "label")}
    bad = {
        **props,
        "targets": [{"url": "https://a.example.com/x"}, {"url": "http://b.example.com/x"}],
    }
    [(key, reason)] = validate_declaration(bad)[1]
    assert key == "targets" and reason.startswith("[1].url: the delivery URL must use https")
    typo = {**props, "targets": [{"url": "https://z.example.com", "fields": ["order_emial"]}]}
    [(key, reason)] = validate_declaration(typo)[1]
    assert key == "targets" and reason.startswith("[0].fields: order_emial is not")


@pytest.mark.parametrize(
    ("change", "key", "reason"),
    [
        ({"event": "order_paid"}, "event", "order_confirm"),
        ({"url": "http://erp.example.com/x"}, "url", "must use https"),
        ({"url": "erp.example.com/x"}, "url", "absolute URL"),
        ({"url": "ftp://erp.example.com/x"}, "url", "https URL"),
        ({"label": "  "}, "label", "must not be empty"),
        ({"format": "csv"}, "format", "'json' or 'xml'"),
        ({"enabled": "yes"}, "enabled", "boolean"),
        ({"fields": ["subscriber_email"]}, "fields", "is not sent with order_confirm"),
        ({"fields": "order_email"}, "fields", "list of payload field names"),
        ({"delay": {"amount": 0, "unit": "hour"}}, "delay", "greater than or equal to 1"),
        ({"delay": {"amount": 1.5, "unit": "hour"}}, "delay", "whole number"),
        ({"delay": {"amount": 1, "unit": "week"}}, "delay", "'hour' or 'day'"),
        ({"colour": "red"}, "colour", "unknown property"),
    ],
)
def test_each_bad_property_is_named_with_a_reason(
    change: dict[str, Any], key: str, reason: str
) -> None:
    webhook, failures = validate_declaration({**DECLARED, **change})
    assert webhook is None
    assert [failed for failed, _ in failures] == [key]
    assert reason in failures[0][1]


def test_http_is_accepted_for_loopback_targets() -> None:
    for url in ("http://127.0.0.1:9000/hook", "http://localhost/hook", "http://[::1]:80/x"):
        webhook, failures = validate_declaration({**DECLARED, "url": url})
        assert failures == [] and webhook is not None


def test_each_event_takes_the_fields_documented_for_it() -> None:
    newsletter = {**DECLARED, "event": "newsletter_subscribe", "fields": ["subscriber_email"]}
    assert validate_declaration(newsletter)[1] == []
    cart = {
        **DECLARED,
        "event": "abandoned_cart",
        "fields": ["order_cart_token", "order_reloadLink"],
    }
    assert validate_declaration(cart)[1] == []
    only_at_confirm = {**cart, "fields": ["order_customerId"]}
    [(key, reason)] = validate_declaration(only_at_confirm)[1]
    assert key == "fields" and "sends it with order_confirm" in reason


def test_an_unknown_field_gets_a_did_you_mean_and_extra_fields_admit_newer_names() -> None:
    typo = {**DECLARED, "fields": ["order_emial"]}
    [(key, reason)] = validate_declaration(typo)[1]
    assert key == "fields" and "did you mean 'order_email'" in reason and "extraFields" in reason
    newer = {**DECLARED, "fields": ["order_loyaltyTier"]}
    assert validate_declaration(newer)[1] != []
    rules = Rules(extra_fields=frozenset({"order_loyaltyTier"}))
    assert validate_declaration(newer, rules=rules)[1] == []


def test_unknown_values_are_left_unjudged() -> None:
    webhook, failures = validate_declaration(
        {**DECLARED, "url": None, "format": "csv"}, frozenset({"url"})
    )
    assert webhook is None
    assert [key for key, _ in failures] == ["format"]


def test_every_target_must_be_among_the_allowed_targets() -> None:
    rules = Rules(allowed_targets=(HostPattern.parse("*.example.com"),))
    props = {key: DECLARED[key] for key in ("event", "label")}
    inside = {"url": "https://erp.example.com/x"}
    outside = {"url": "https://paste.example.net/x"}
    assert validate_declaration({**props, "targets": [inside]}, rules=rules)[1] == []
    [(key, reason)] = validate_declaration({**props, "targets": [inside, outside]}, rules=rules)[1]
    assert key == "targets"
    assert reason.startswith("[1].url: paste.example.net is not among the allowed targets")

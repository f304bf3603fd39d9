"""Properties of the one normalisation and of validation, over generated declarations.

* Any valid declaration, sent as an API body and read back in any shape the API may answer
  with, compares equal to what was declared: no perpetual diff, its owner's marker included.
* Any label, marked with any owner and read back, is that label and that owner.
* Any mapping that is not a valid declaration is refused by the program and by ``check``
  with a message naming the entry and the property, never with a traceback.
* Any YAML document as ``webhooksFile`` gives declarations or a clear error, nothing else.
* Any valid set recalled from the program's memo is the set that validation gives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provider import WebhookProvider
from provider.core import model
from provider.core.bag import PROPERTY_KEYS
from provider.core.declarations import (
    ConfigSource,
    Registration,
    load_declarations,
    load_registrations,
    parse_declarations,
)
from provider.core.errors import DeclarationError
from provider.core.memo import Memo
from provider.core.model import DeclaredWebhook, LiveWebhook, WebhookState
from provider.core.ownership import OWNER_PATTERN, mark, split
from provider.core.payload import EVENTS, documented_fields
from provider.shoprenter.client import ShoprenterClient
from provider.shoprenter.ledger import WebhookLedger
from sandbox.simulator.control import SimulatorControl
from tests.helpers import oauth_settings

HOSTS = st.from_regex(r"[a-z][a-z0-9-]{0,12}(\.[a-z][a-z0-9-]{0,8}){1,2}", fullmatch=True)
OWNERS = st.from_regex(OWNER_PATTERN, fullmatch=True)
PATHS = st.from_regex(r"(/[A-Za-z0-9._~-]{1,10}){0,3}(\?key=[A-Za-z0-9]{1,16})?", fullmatch=True)


@st.composite
def declarations(draw: st.DrawFn) -> dict[str, Any]:
    """A valid property bag: any event, an https target, documented fields of the event."""
    event = draw(st.sampled_from(EVENTS))
    names = st.sampled_from(sorted(documented_fields()[event]))
    delay = st.none() | st.fixed_dictionaries(
        {"amount": st.integers(1, 10_000), "unit": st.sampled_from(["hour", "day"])}
    )
    return {
        "event": event,
        "url": f"https://{draw(HOSTS)}{draw(PATHS)}",
        "label": draw(st.text(min_size=1, max_size=40).filter(str.strip)),
        "enabled": draw(st.booleans()),
        "format": draw(st.sampled_from(["json", "xml"])),
        "fields": draw(st.lists(names, max_size=5)),
        "delay": draw(delay),
        "adoptId": None,
        "owner": draw(st.none() | OWNERS),
    }


@st.composite
def answers_to(draw: st.DrawFn, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as the shop may answer a GET: every documented quirk, chosen at random."""
    link = {"href": "https://shop.api2.myshoprenter.hu/api/webHooks/abc"}

    def related(items: list[dict[str, Any]]) -> Any:
        linked = [{**item, "webHook": link} for item in items]
        return linked[0] if len(linked) == 1 and draw(st.booleans()) else linked

    parameter = dict(body["webHookParameters"][0])
    fields = parameter.get("fields", [])
    if len(fields) == 1 and draw(st.booleans()):
        parameter["fields"] = fields[0]  # a lone name, not a list
    answer = {
        **body,
        "id": "abc",
        "href": link["href"],
        "status": draw(st.sampled_from([body["status"], int(body["status"])])),
        "webHookParameters": related([parameter]),
    }
    if body["webHookDelay"]:
        answer["webHookDelay"] = related(body["webHookDelay"])
    else:
        empty = draw(st.sampled_from(["[]", "{}", "missing"]))
        answer["webHookDelay"] = {"[]": [], "{}": {}}.get(empty)
        if empty == "missing":
            del answer["webHookDelay"]
    return answer


@given(data=st.data(), props=declarations())
def test_declared_sent_and_read_back_in_any_shape_compares_equal(
    data: st.DataObject, props: dict[str, Any]
) -> None:
    declared = DeclaredWebhook.model_validate(props)
    answer = data.draw(answers_to(declared.to_api_body()))
    live = LiveWebhook.from_api(answer)
    assert live.state.same_webhook(declared)
    assert WebhookState.from_props(live.to_outputs()).changed_keys(declared) == []
    assert WebhookState.from_props(declared.to_props()).to_props() == declared.to_props()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    props=declarations(),
    quirks=st.fixed_dictionaries(
        {
            "wrapResponse": st.booleans(),
            "relatedShape": st.sampled_from(["auto", "list"]),
            "emptyDelay": st.sampled_from(["[]", "{}", "missing"]),
        }
    ),
)
def test_over_http_a_created_webhook_reads_back_equal(
    sim: SimulatorControl, props: dict[str, Any], quirks: dict[str, Any]
) -> None:
    sim.reset(rateLimit=None, **quirks)
    ledger = WebhookLedger(ShoprenterClient(oauth_settings(sim)))
    declared = DeclaredWebhook.model_validate(props)
    created = ledger.create(declared)
    read = ledger.shop.read(created.id)
    assert read is not None and read.state.same_webhook(declared)
    provider = WebhookProvider()
    assert provider.diff(created.id, read.to_outputs(), declared.to_props()).changes is False


# A wrong value for each property, and the property it is wrong for.
WRONG_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "event": st.text(max_size=20).filter(lambda text: text not in EVENTS) | st.integers(),
    "url": st.sampled_from(["http://example.com/x", "ftp://example.com", "example.com/x", ""])
    | st.integers()
    | st.lists(st.text(), max_size=2),
    "label": st.sampled_from(["", "   ", "\n"]) | st.integers() | st.none(),
    "enabled": st.sampled_from(["yes", "1", 1, 0, None, "true"]),
    "format": st.text(max_size=8).filter(lambda text: text not in ("json", "xml")),
    "fields": st.sampled_from(["order_email", 7, [""], [3], ["subscriber_email"], {"a": 1}]),
    "delay": st.sampled_from(
        [
            {"amount": 0, "unit": "day"},
            {"amount": -3, "unit": "hour"},
            {"amount": 1.5, "unit": "day"},
            {"amount": True, "unit": "day"},
            {"amount": 2, "unit": "week"},
            {"amount": 2},
            {"amount": 2, "unit": "day", "extra": 1},
            "2 days",
            5,
        ]
    ),
}


@given(data=st.data(), props=declarations(), key=st.sampled_from(sorted(WRONG_VALUES)))
def test_a_wrong_property_is_named_by_the_program_and_by_check(
    data: st.DataObject, props: dict[str, Any], key: str
) -> None:
    props = {**props, "event": "order_confirm", "fields": []}  # so that fields can be wrong
    entry = {"name": "hook", **props, key: data.draw(WRONG_VALUES[key])}
    with pytest.raises(DeclarationError) as caught:
        parse_declarations([entry])
    assert f"webhooks[0] (hook): {key}:" in str(caught.value)
    result = WebhookProvider().check({}, {k: v for k, v in entry.items() if k != "name"})
    assert key in {failure.property for failure in result.failures}


@given(
    entry=st.dictionaries(
        st.text(max_size=10) | st.integers(), st.text() | st.integers() | st.none(), max_size=6
    )
)
def test_any_mapping_gives_declarations_or_a_clear_error(entry: dict[Any, Any]) -> None:
    try:
        [declaration] = parse_declarations([entry])
    except DeclarationError as error:
        assert str(error).startswith("invalid webhook declarations:\n  - webhooks[0]")
    else:  # only an entry with a name, a known event and a target gets through
        assert declaration.name == entry["name"] and declaration.webhook.event == entry["event"]
        assert declaration.webhook.urls
    props = {str(k): v for k, v in entry.items() if k in PROPERTY_KEYS}
    result = WebhookProvider().check({}, props)  # returns failures; never raises
    assert all(failure.property and failure.reason for failure in result.failures)


YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4)
    ),
    max_leaves=20,
)


class FileConfig:
    """Stack config that names a webhooks file and nothing else."""

    def get(self, key: str) -> str | None:
        return "hooks.yaml" if key == "webhooksFile" else None

    def get_object(self, key: str) -> Any:
        return None


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=YAML_VALUES | st.text(max_size=200).map(lambda text: {"raw": text}))
def test_any_yaml_document_gives_declarations_or_a_clear_error(
    tmp_path: Path, document: Any
) -> None:
    raw = document["raw"] if isinstance(document, dict) and set(document) == {"raw"} else None
    text = raw if raw is not None else yaml.safe_dump({"webhooks": document})
    (tmp_path / "hooks.yaml").write_text(text, encoding="utf-8")
    config: ConfigSource = FileConfig()
    try:
        declarations = load_declarations(config, tmp_path)
    except DeclarationError as error:
        assert "hooks.yaml" in str(error) or str(error).startswith("invalid webhook")
        with pytest.raises(DeclarationError):  # the program's path, through its memo, alike
            load_registrations(config, tmp_path, Memo(tmp_path / "memo.json"))
    else:  # a document that passes holds only whole, valid entries
        assert all(d.name and d.webhook.event in EVENTS and d.webhook.urls for d in declarations)
        registrations = load_registrations(config, tmp_path, Memo(tmp_path / "memo.json"))
        assert registrations == [Registration.of(d) for d in declarations]


@given(label=st.text(), owner=OWNERS)
def test_any_label_round_trips_through_marking_and_stripping(label: str, owner: str) -> None:
    assert split(mark(label, owner)) == (label, owner)
    assert split(mark(mark(label, owner), owner)) == (mark(label, owner), owner)


class InlineConfig:
    """Stack config with these entries as ``webhooks`` and nothing else."""

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.entries = entries

    def get(self, key: str) -> str | None:
        return None

    def get_object(self, key: str) -> Any:
        return self.entries if key == "webhooks" else None


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bags=st.lists(declarations(), max_size=4))
def test_any_valid_set_recalled_from_the_memo_is_what_validation_gives(
    tmp_path: Path, bags: list[dict[str, Any]]
) -> None:
    entries = [
        {"name": f"hook-{n}", **{k: v for k, v in bag.items() if k != "owner"}}
        for n, bag in enumerate(bags)
    ]
    entries = [  # one event and url per set (the program refuses repeats)
        entry
        for n, entry in enumerate(entries)
        if (entry["event"], entry["url"]) not in {(e["event"], e["url"]) for e in entries[:n]}
    ]
    config = InlineConfig(entries)
    validated = [Registration.of(d) for d in load_declarations(config, tmp_path)]
    memo = Memo(tmp_path / "memo.json")
    memo.path.unlink(missing_ok=True)
    assert load_registrations(config, tmp_path, memo) == validated  # a miss: kept
    with patch.object(model, "validate_declaration", side_effect=AssertionError("judged")):
        assert load_registrations(config, tmp_path, memo) == validated  # a hit

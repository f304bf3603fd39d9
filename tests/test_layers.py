"""Declarations in layers: the shared set, a shop's file and its stack config, merged by name;
every mistake named where it was written, before anything is declared."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from provider.core.declarations import load_declarations, load_registrations
from provider.core.errors import DeclarationError
from provider.core.memo import Memo
from tests.test_program import FakeConfig

ERP = {"name": "erp", "event": "order_confirm", "url": "https://erp.example.com/sr"}
CRM = {"name": "crm", "event": "newsletter_subscribe", "url": "https://crm.example.com/nl"}
REVIEWS = {"name": "reviews", "event": "order_confirm", "url": "https://reviews.example.com/in"}


def write(folder: Path, name: str, document: Any) -> str:
    (folder / name).write_text(yaml.safe_dump(document), encoding="utf-8")
    return name


def declared(config: FakeConfig, folder: Path) -> dict[str, Any]:
    """Name -> (urls, label, enabled) of what the layers declare together."""
    return {
        d.name: (list(d.webhook.urls), d.webhook.label, d.webhook.enabled)
        for d in load_declarations(config, folder)
    }


def problems(config: FakeConfig, folder: Path) -> str:
    with pytest.raises(DeclarationError) as refused:
        load_declarations(config, folder)
    return str(refused.value)


@pytest.fixture
def shared(tmp_path: Path) -> str:
    return write(tmp_path, "webhooks.yaml", {"webhooks": [ERP, CRM]})


def test_a_shops_file_adds_overrides_and_omits(tmp_path: Path, shared: str) -> None:
    own = write(
        tmp_path,
        "shop-b.yaml",
        {
            "webhooks": [REVIEWS],
            "overrides": {"erp": {"url": "https://erp-b.example.com/sr", "label": "ERP (b)"}},
            "omit": ["crm"],
        },
    )
    config = FakeConfig(webhooksFile=shared, shopWebhooksFile=own)
    assert declared(config, tmp_path) == {
        "erp": (["https://erp-b.example.com/sr"], "ERP (b)", True),
        "reviews": (["https://reviews.example.com/in"], "reviews", True),
    }


def test_a_later_edit_of_the_shared_file_reaches_the_shop(tmp_path: Path, shared: str) -> None:
    config = FakeConfig(webhooksFile=shared, webhooks=[REVIEWS])  # no webhooksFile: "" needed
    assert sorted(declared(config, tmp_path)) == ["crm", "erp", "reviews"]
    status = {"name": "status", "event": "order_status_change", "url": "https://s.example.com"}
    write(tmp_path, shared, {"webhooks": [ERP, CRM, status]})
    assert sorted(declared(config, tmp_path)) == ["crm", "erp", "reviews", "status"]


def test_the_stack_config_layers_over_the_shops_file(tmp_path: Path, shared: str) -> None:
    own = write(tmp_path, "shop-b.yaml", [REVIEWS])  # a plain list is a layer of entries
    config = FakeConfig(
        webhooksFile=shared,
        shopWebhooksFile=own,
        overrides={"reviews": {"enabled": False}},
        omit=["erp"],
    )
    assert declared(config, tmp_path) == {
        "crm": (["https://crm.example.com/nl"], "crm", True),
        "reviews": (["https://reviews.example.com/in"], "reviews", False),
    }


@pytest.mark.parametrize(
    ("entry", "changes", "urls"),
    [
        (
            ERP,
            {"targets": [{"url": "https://a.example.com"}, {"url": "https://b.example.com"}]},
            ["https://a.example.com", "https://b.example.com"],
        ),
        (
            {**ERP, "url": None, "targets": [{"url": "https://a.example.com", "format": "xml"}]},
            {"url": "https://erp-b.example.com"},
            ["https://erp-b.example.com"],
        ),
    ],
    ids=["targets-over-url", "url-over-targets"],
)
def test_targets_and_the_shorthand_replace_each_other(
    tmp_path: Path, entry: dict[str, Any], changes: dict[str, Any], urls: list[str]
) -> None:
    base = {key: value for key, value in entry.items() if value is not None}
    config = FakeConfig(webhooksFile=write(tmp_path, "w.yaml", [base]), overrides={"erp": changes})
    assert declared(config, tmp_path)["erp"][0] == urls


def test_a_name_clash_names_both_places(tmp_path: Path, shared: str) -> None:
    own = write(tmp_path, "shop-b.yaml", {"webhooks": [{**ERP, "label": "mine"}]})
    message = problems(FakeConfig(webhooksFile=shared, shopWebhooksFile=own), tmp_path)
    assert (
        "shop-b.yaml: webhooks[0] (erp): the name is declared already by "
        "webhooks.yaml: webhooks[0] (erp); to change that entry here, set overrides.erp, or "
        "omit it and declare it anew"
    ) in message


def test_omit_then_declare_anew_replaces_an_entry(tmp_path: Path, shared: str) -> None:
    replaced = {**ERP, "event": "order_status_change"}
    config = FakeConfig(webhooksFile=shared, omit=["erp"], webhooks=[replaced])
    assert sorted(declared(config, tmp_path)) == ["crm", "erp"]
    [erp] = [d for d in load_declarations(config, tmp_path) if d.name == "erp"]
    assert erp.webhook.event == "order_status_change"


def test_every_mistake_of_the_layering_is_named_at_once(tmp_path: Path, shared: str) -> None:
    config = FakeConfig(
        webhooksFile=shared,
        omit=["newsleter", "crm"],
        overrides={"ERP": {"url": "https://x.example.com"}, "crm": {"enabled": False}},
        webhooks=[{**REVIEWS, "url": "http://plain.example.com"}],
    )
    message = problems(config, tmp_path)
    assert "omit[0]: 'newsleter' names no entry declared below" in message
    assert "overrides.ERP: names no entry declared below (did you mean 'erp'?)" in message
    assert "overrides.crm: names no entry declared below" in message  # omitted just before
    assert "webhooks[0] (reviews): url: the delivery URL must use https" in message


def test_an_override_that_breaks_an_entry_names_both_places(tmp_path: Path, shared: str) -> None:
    own = write(tmp_path, "shop-b.yaml", {"overrides": {"erp": {"format": "csv"}}})
    message = problems(FakeConfig(webhooksFile=shared, shopWebhooksFile=own), tmp_path)
    assert "webhooks.yaml: webhooks[0] (erp) with shop-b.yaml: overrides.erp: format:" in message


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"webhook": [ERP]}, "shop-b.yaml: webhook: unknown section (did you mean 'webhooks'?)"),
        ({"overrides": {"erp": "https://x"}}, "shop-b.yaml: overrides must map entry names"),
        ({"overrides": {"erp": {"name": "erp-2"}}}, "overrides.erp: name: an override cannot"),
        ({"omit": "erp"}, "shop-b.yaml: omit must be a list of entry names"),
        (
            "erp",
            "shop-b.yaml: must be a list of webhook entries or a mapping of webhooks, overrides",
        ),
    ],
    ids=["unknown-section", "override-not-a-mapping", "rename", "omit-not-a-list", "a-string"],
)
def test_a_malformed_layer_is_refused_naming_it(
    tmp_path: Path, shared: str, document: Any, reason: str
) -> None:
    own = write(tmp_path, "shop-b.yaml", document)
    assert reason in problems(FakeConfig(webhooksFile=shared, shopWebhooksFile=own), tmp_path)


def test_an_edit_of_any_layer_is_judged_again_not_recalled(
    tmp_path: Path, shared: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    memo = Memo.slot("declarations", str(tmp_path), "test")
    own = write(tmp_path, "shop-b.yaml", {"overrides": {"erp": {"enabled": False}}})
    config = FakeConfig(webhooksFile=shared, shopWebhooksFile=own)
    first = load_registrations(config, tmp_path, memo)
    assert [r.props["enabled"] for r in first] == [False, True]
    write(tmp_path, "shop-b.yaml", {"overrides": {"erp": {"enabled": True}}})
    assert [r.props["enabled"] for r in load_registrations(config, tmp_path, memo)] == [True, True]

"""The default program's reading and validation of declarations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from provider.errors import DeclarationError
from provider.program import (
    ENTRY_KEYS,
    load_declarations,
    load_inventory_plan,
    parse_declarations,
)

ENTRY = {"name": "erp", "event": "order_confirm", "url": "https://erp.example.com/sr"}


def problems_of(entries: Any) -> str:
    with pytest.raises(DeclarationError) as caught:
        parse_declarations(entries)
    return str(caught.value)


def test_a_valid_set_gives_one_declaration_per_entry() -> None:
    declarations = parse_declarations(
        [
            ENTRY,
            {
                "name": "newsletter",
                "event": "newsletter_subscribe",
                "url": "https://crm.example.com/nl",
                "label": "CRM",
                "fields": ["subscriber_email"],
                "delay": {"amount": 1, "unit": "day"},
                "aliases": ["old-newsletter"],
            },
        ]
    )
    assert [d.name for d in declarations] == ["erp", "newsletter"]
    assert declarations[0].webhook.label == "erp"  # label defaults to the name
    assert declarations[1].aliases == ("old-newsletter",)


def test_every_problem_is_named_by_entry_and_field() -> None:
    message = problems_of(
        [
            {**ENTRY, "evnt": "x"},
            {"event": "order_confirm", "url": "https://a.example.com"},
            {**ENTRY, "name": "bad", "url": "http://erp.example.com", "format": "csv"},
            "not a mapping",
        ]
    )
    assert "webhooks[0] (erp): evnt: unknown key (did you mean 'event'?)" in message
    assert "webhooks[1]: name: is required" in message
    assert "webhooks[2] (bad): url: the delivery URL must use https" in message
    assert "webhooks[2] (bad): format:" in message
    assert "webhooks[3]: must be a mapping" in message


def test_an_entry_without_url_or_targets_names_url() -> None:
    message = problems_of([{"name": "status-feed", "event": "order_status_change"}])
    assert message.endswith("webhooks[0] (status-feed): url: is required (or targets, for several)")
    assert "targets:" not in message


def test_duplicate_names_and_targets_are_refused() -> None:
    message = problems_of([ENTRY, {**ENTRY, "label": "other"}])
    assert "name 'erp' is used 2 times" in message
    assert "event and url repeat 'erp'" in message


def test_the_declarations_must_be_a_list() -> None:
    assert "must be a list" in problems_of({"erp": ENTRY})


class FakeConfig:
    """The two config reads the program makes."""

    def __init__(self, **values: Any) -> None:
        self.values = values

    def get_object(self, key: str) -> Any:
        return self.values.get(key)

    def get(self, key: str) -> Any:
        return self.values.get(key)


def test_declarations_can_come_from_a_yaml_file(tmp_path: Path) -> None:
    (tmp_path / "hooks.yaml").write_text(
        "webhooks:\n"
        "  - name: erp\n"
        "    event: order_confirm\n"
        "    url: https://erp.example.com/sr\n"
        "    delay: {amount: 2, unit: hour}\n",
        encoding="utf-8",
    )
    declarations = load_declarations(FakeConfig(webhooksFile="hooks.yaml"), tmp_path)
    assert declarations[0].webhook.delay is not None
    assert declarations[0].webhook.delay.amount == 2


def test_a_bad_file_entry_is_named_with_the_file(tmp_path: Path) -> None:
    (tmp_path / "hooks.yaml").write_text("- {name: erp, event: nope, url: x}\n", encoding="utf-8")
    with pytest.raises(DeclarationError, match=r"hooks.yaml: webhooks\[0\] \(erp\): event"):
        load_declarations(FakeConfig(webhooksFile="hooks.yaml"), tmp_path)


def test_a_missing_file_and_two_sources_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DeclarationError, match="cannot be read"):
        load_declarations(FakeConfig(webhooksFile="missing.yaml"), tmp_path)
    with pytest.raises(DeclarationError, match="not both"):
        load_declarations(FakeConfig(webhooks=[ENTRY], webhooksFile="x.yaml"), tmp_path)


def test_forgetting_the_declarations_is_an_error_but_an_empty_list_is_not(
    tmp_path: Path,
) -> None:
    with pytest.raises(DeclarationError, match="no webhooks declared"):
        load_declarations(FakeConfig(), tmp_path)
    assert load_declarations(FakeConfig(webhooks=[]), tmp_path) == []


def test_the_example_stack_file_is_a_valid_declaration() -> None:
    example = Path(__file__).resolve().parent.parent / "Pulumi.example.yaml"
    document = yaml.safe_load(example.read_text(encoding="utf-8"))
    declarations = parse_declarations(document["config"]["shoprenter-webhooks:webhooks"])
    used = {key for entry in document["config"]["shoprenter-webhooks:webhooks"] for key in entry}
    assert used == set(ENTRY_KEYS)  # it shows every option
    assert len(declarations) == 5
    prefix = "shoprenter-webhooks:"
    own = {k.removeprefix(prefix): v for k, v in document["config"].items() if k.startswith(prefix)}
    config = FakeConfig(**own)
    assert len(load_declarations(config, example.parent)) == 5  # under its own allowedTargets
    assert load_inventory_plan(config).mode == "report"


def test_the_inventory_plan_is_checked_before_anything_is_declared() -> None:
    plan = load_inventory_plan(FakeConfig(unmanaged="prune", allowedTargets=["*.example.com"]))
    assert plan.prune_targets == ("*.example.com",) and plan.prune_limit == 10
    with pytest.raises(DeclarationError, match="set shoprenter-webhooks:pruneTargets"):
        load_inventory_plan(FakeConfig(unmanaged="prune"))
    with pytest.raises(DeclarationError, match="unmanaged must be one of"):
        load_inventory_plan(FakeConfig(unmanaged="delete-all"))
    with pytest.raises(DeclarationError, match=r"pruneTargets\[0\]"):
        load_inventory_plan(FakeConfig(unmanaged="prune", pruneTargets=["https://x/y"]))
    with pytest.raises(DeclarationError, match="pruneLimit must be a whole number"):
        load_inventory_plan(FakeConfig(unmanaged="report", pruneLimit="-1"))

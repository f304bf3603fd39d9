"""The default program's reading and validation of declarations."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from provider.core import declarations, model
from provider.core.declarations import (
    ENTRY_KEYS,
    Registration,
    load_declarations,
    load_registrations,
    parse_declarations,
)
from provider.core.errors import DeclarationError
from provider.core.memo import Memo, code_digest, this_code
from provider.program import load_inventory_plan

ROOT = Path(__file__).resolve().parent.parent
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
    message = problems_of(
        [ENTRY, {**ENTRY, "label": "other"}, {**ENTRY, "name": "erp-2", "label": "two"}]
    )
    assert "webhooks[1] (erp): the name is used already by webhooks[0] (erp)" in message
    assert "webhooks[2] (erp-2): event and url repeat 'erp'" in message


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


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DeclarationError, match="cannot be read"):
        load_declarations(FakeConfig(webhooksFile="missing.yaml"), tmp_path)


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


NEWSLETTER = {
    "name": "newsletter",
    "event": "newsletter_subscribe",
    "targets": [{"url": "https://crm.example.com/nl", "fields": ["subscriber_email"]}],
    "delay": {"amount": "2", "unit": "hour"},
    "aliases": ["old-newsletter"],
}


def test_registrations_are_the_validated_declarations_in_plain_values(tmp_path: Path) -> None:
    config = FakeConfig(webhooks=[ENTRY, NEWSLETTER])
    registrations = load_registrations(config, tmp_path)
    assert registrations == [Registration.of(d) for d in load_declarations(config, tmp_path)]
    newsletter = registrations[1].props
    assert newsletter["delay"] == {"amount": 2, "unit": "hour"} and newsletter["adoptId"] is None
    assert registrations[1].aliases == ("old-newsletter",)


def test_a_set_validated_once_is_recalled_unjudged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memo = Memo(tmp_path / "memo.json")
    config = FakeConfig(webhooks=[ENTRY, NEWSLETTER])
    first = load_registrations(config, tmp_path, memo)

    def judged_again(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("validated again")

    monkeypatch.setattr(model, "validate_declaration", judged_again)
    assert load_registrations(config, tmp_path, memo) == first
    changed = [  # any other input, rule or code is judged
        FakeConfig(webhooks=[{**ENTRY, "label": "renamed"}, NEWSLETTER]),
        FakeConfig(webhooks=[ENTRY, NEWSLETTER], extraFields=["order_custom"]),
    ]
    for other in changed:
        with pytest.raises(AssertionError, match="validated again"):
            load_registrations(other, tmp_path, memo)
    monkeypatch.setattr(declarations, "this_code", lambda: "edited")
    with pytest.raises(AssertionError, match="validated again"):
        load_registrations(config, tmp_path, memo)


def test_a_bad_edit_is_refused_whatever_the_memo_holds(tmp_path: Path) -> None:
    memo = Memo(tmp_path / "memo.json")
    load_registrations(FakeConfig(webhooks=[ENTRY]), tmp_path, memo)
    bad = FakeConfig(webhooks=[{**ENTRY, "url": "http://erp.example.com/sr"}])
    with pytest.raises(DeclarationError, match=r"webhooks\[0\] \(erp\): url: .* https"):
        load_registrations(bad, tmp_path, memo)
    narrowed = FakeConfig(webhooks=[ENTRY], allowedTargets=["*.shop.example"])
    with pytest.raises(DeclarationError, match="not among the allowed targets"):
        load_registrations(narrowed, tmp_path, memo)
    stored = json.loads(memo.path.read_text(encoding="utf-8"))
    assert [r["name"] for r in stored["value"]] == ["erp"]  # a refused set is never kept


def test_an_unreadable_memo_is_a_miss_and_is_replaced(tmp_path: Path) -> None:
    memo = Memo(tmp_path / "memo.json")
    config = FakeConfig(webhooks=[ENTRY])
    expected = load_registrations(config, tmp_path)
    for broken in ("{not json", "[]", '{"key": "other", "value": []}', "null"):
        memo.path.write_text(broken, encoding="utf-8")
        assert load_registrations(config, tmp_path, memo) == expected
    key = json.loads(memo.path.read_text(encoding="utf-8"))["key"]
    memo.path.write_text(json.dumps({"key": key, "value": [{"name": "x"}]}), encoding="utf-8")
    assert load_registrations(config, tmp_path, memo) == expected  # not registrations: a miss


def test_a_memo_that_cannot_be_written_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    memo = Memo(tmp_path / "a-file" / "memo.json")  # its folder cannot be made
    assert load_registrations(FakeConfig(webhooks=[ENTRY]), tmp_path, memo)
    assert memo.recall("anything") is None


def test_a_recalled_set_loads_no_models(tmp_path: Path) -> None:
    """A second program process with the same input: no pydantic, the same registrations."""
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from provider.core.memo import Memo\n"
        "from provider.program import load_registrations\n"
        "class Config:\n"
        f"    def get_object(self, key): return {[ENTRY, NEWSLETTER]!r} if key == 'webhooks' "
        "else None\n"
        "    get = get_object\n"
        "folder = Path(sys.argv[1])\n"
        "config = Config()\n"
        "done = load_registrations(config, folder, Memo.slot('declarations', str(folder)))\n"
        "print(json.dumps({'pydantic': 'pydantic' in sys.modules, 'names': [r.name for r in "
        "done], 'twins': [r.twin for r in done]}))\n"
    )
    environment = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def run() -> dict[str, Any]:
        argv = [sys.executable, "-c", code, str(tmp_path)]
        done = subprocess.run(argv, env=environment, capture_output=True, text=True, check=True)
        return dict(json.loads(done.stdout))

    first, second = run(), run()
    assert first["pydantic"] and not second["pydantic"]
    assert first["names"] == second["names"] == ["erp", "newsletter"]
    assert first["twins"] == second["twins"]
    [kept] = (tmp_path / "cache" / "shoprenter-webhooks" / "declarations").iterdir()
    assert kept.stat().st_mode & 0o077 == 0  # the user's alone


def test_an_edit_of_any_file_of_any_room_is_another_code(tmp_path: Path) -> None:
    """The memo's code digest covers the subpackages: an edit anywhere is judged again."""
    package = shutil.copytree(
        ROOT / "provider", tmp_path / "provider", ignore=shutil.ignore_patterns("__pycache__")
    )
    files = sorted(path for path in package.rglob("*") if path.is_file())
    assert {path.parent.name for path in files} >= {"provider", "core", "shoprenter", "deliveries"}
    before = code_digest(package)
    assert before == code_digest(ROOT / "provider") == this_code()
    for path in files:
        original = path.read_bytes()
        path.write_bytes(original + b"\n")
        assert code_digest(package) != before, path.relative_to(package)
        path.write_bytes(original)

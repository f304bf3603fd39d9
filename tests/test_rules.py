"""Allowed targets: host patterns, internal addresses, and how config spells them."""

from __future__ import annotations

import re

import pytest

from provider.core.model import validate_declaration
from provider.core.rules import HostPattern, Rules, host_of, origin_of, string_list
from tests.helpers import DECLARED

RULES = Rules.from_config(
    {"allowedTargets": ["erp.example.com", "*.hooks.example.com:8443", "127.0.0.1:9000"]}.get
)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://erp.example.com/sr?key=x", True),
        ("https://erp.example.com:444/sr", True),  # a pattern without a port takes any port
        ("https://evil.example.com/sr", False),
        ("https://erp.example.com.evil.net/sr", False),
        ("https://a.hooks.example.com:8443/x", True),
        ("https://a.b.hooks.example.com:8443/x", True),
        ("https://a.hooks.example.com/x", False),  # wrong port
        ("https://hooks.example.com:8443/x", False),  # the wildcard needs a subdomain
        ("http://127.0.0.1:9000/x", True),  # an internal address named exactly
        ("http://127.0.0.1:9001/x", False),
        ("http://localhost:9000/x", False),
    ],
)
def test_allowed_targets(url: str, allowed: bool) -> None:
    assert (RULES.target_problem(url) is None) is allowed


def test_a_wildcard_never_matches_an_internal_name() -> None:
    rules = Rules((HostPattern.parse("*.dev.localhost"),))
    assert rules.target_problem("http://app.dev.localhost/x") is not None


def test_a_refused_target_names_the_host_and_the_patterns_never_the_path() -> None:
    webhook, failures = validate_declaration(
        {**DECLARED, "url": "https://evil.example.net/steal?key=secret"}, rules=RULES
    )
    assert webhook is None
    [(key, reason)] = failures
    assert key == "url"
    assert "evil.example.net is not among the allowed targets (erp.example.com" in reason
    assert "secret" not in reason


@pytest.mark.parametrize(
    "text", ["", "https://erp.example.com", "*", "*.com", "a.*.com", "x:99999"]
)
def test_bad_patterns_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(repr(text))}"):  # names the pattern
        HostPattern.parse(text)


def test_config_lists_come_as_lists_or_as_json_text() -> None:
    assert string_list('["a", "b"]', "k") == ["a", "b"]
    assert string_list(["a"], "k") == ["a"]
    assert string_list(None, "k") == []
    with pytest.raises(ValueError, match="k must be a list"):
        string_list("a, b", "k")
    with pytest.raises(ValueError, match=r"allowedTargets\[1\]"):
        Rules.from_config({"allowedTargets": ["ok.example.com", "bad/host"]}.get)


def test_what_the_inventory_keeps_of_a_url_holds_no_path_or_query() -> None:
    url = "https://ERP.example.com:8443/hooks/sr?key=very-secret"
    assert host_of(url) == "erp.example.com:8443"
    assert origin_of(url) == "https://erp.example.com:8443"
    assert host_of("https://erp.example.com/x") == "erp.example.com"

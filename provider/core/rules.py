"""What a stack's config adds to the declaration rules: where webhooks may deliver, newer fields.

Order webhooks carry customers' names, emails and addresses. ``allowedTargets`` lists the hosts
they may go to (``erp.example.com``, ``*.example.com``, either with an optional ``:port``); when
it is set, a declaration whose URL matches none is refused at ``preview``, before any call.
Loopback and private-network addresses are never matched by a wildcard: only a pattern that
names such an address exactly allows it. ``extraFields`` lists payload field names newer than
the documented table (:mod:`provider.core.payload`). ``takeOverFrom`` names the other owners whose
webhooks this stack may take over on purpose (:mod:`provider.core.ownership`).

The same rules are read by the default program (errors name the entry) and by the provider's
``configure`` (for programs of one's own), from the project's config namespace.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urlsplit

from .ownership import TAKE_OVER_KEY, owner_problem

ALLOWED_TARGETS_KEY = "allowedTargets"
EXTRA_FIELDS_KEY = "extraFields"
VERIFY_TARGETS_KEY = "verifyTargets"


@dataclass(frozen=True)
class HostPattern:
    """One allowed target: a host, or ``*.`` and a domain (any subdomain), and maybe a port."""

    host: str
    port: Optional[int] = None

    @classmethod
    def parse(cls, text: str) -> HostPattern:
        text = text.strip().lower()
        if text.startswith("["):  # an IPv6 address: [::1] or [::1]:8080
            host, _, rest = text[1:].partition("]")
            port = rest.removeprefix(":")
        else:
            host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
        if not host or "/" in host or " " in host:
            raise ValueError(
                f"{text!r} is not a host pattern (erp.example.com, *.example.com:8443)"
            )
        if "*" in host and (not host.startswith("*.") or "*" in host[2:] or host.count(".") < 2):
            raise ValueError(
                f"{text!r}: a wildcard stands only first, before a domain: *.example.com"
            )
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
        return cls(host, int(port) if port else None)

    @property
    def wildcard(self) -> bool:
        return self.host.startswith("*.")

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if not self.wildcard:
            return host == self.host
        return host.endswith(self.host[1:]) and not is_internal_host(host)

    def __str__(self) -> str:
        return f"{self.host}:{self.port}" if self.port else self.host


def is_internal_host(host: str) -> bool:
    """Loopback, private, link-local or otherwise non-public addresses, and ``localhost``."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_global
    except ValueError:
        return False


def _default_port(url: str) -> int:
    return 443 if urlsplit(url).scheme == "https" else 80


def target_of(url: str) -> tuple[str, int]:
    """A URL's host (lower case) and port (the scheme's default when none is written)."""
    parts = urlsplit(url)
    default = _default_port(url)
    try:
        port = parts.port or default
    except ValueError:
        port = default
    return (parts.hostname or "").lower(), port


def host_of(url: str) -> str:
    """The host (and a port other than the default) a URL delivers to: never path or query."""
    host, port = target_of(url)
    return host if port == _default_port(url) else f"{host}:{port}"


def origin_of(url: str) -> str:
    """``scheme://host:port`` of a URL: enough to judge its target, nothing that may be secret."""
    host, port = target_of(url)
    shown = f"[{host}]" if ":" in host else host
    return f"{urlsplit(url).scheme}://{shown}:{port}"


def matches_any(url: str, patterns: tuple[HostPattern, ...]) -> bool:
    host, port = target_of(url)
    return any(pattern.matches(host, port) for pattern in patterns)


def is_loopback_host(host: str) -> bool:
    """Tell whether ``host`` names this machine, the one place plain http is acceptable."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_secure_url(url: str, what: str) -> str:
    """Refuse anything but an absolute https URL (or http to loopback), naming ``what``."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        raise ValueError(f"{what} must be an absolute URL with a host, got {url!r}")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        return url
    if parts.scheme == "http":
        raise ValueError(
            f"{what} must use https (plain http is accepted only for loopback addresses), "
            f"got {url!r}"
        )
    raise ValueError(f"{what} must be an https URL, got scheme {parts.scheme!r}")


@dataclass(frozen=True)
class Rules:
    """What a stack's config adds: allowed targets (none: any), extra field names, the other
    owners whose webhooks this stack may take over (``takeOverFrom``), and whether a new or
    changed target must answer a test delivery before it is written (``verifyTargets``)."""

    allowed_targets: tuple[HostPattern, ...] = ()
    extra_fields: frozenset[str] = frozenset()
    take_over_from: frozenset[str] = frozenset()
    verify_targets: bool = False

    def target_problem(self, url: str) -> Optional[str]:
        """Why ``url`` may not be a delivery target here, or ``None``."""
        if not self.allowed_targets or matches_any(url, self.allowed_targets):
            return None
        internal = " (an internal address: allow it by its exact name)" * is_internal_host(
            target_of(url)[0]
        )
        allowed = ", ".join(str(pattern) for pattern in self.allowed_targets)
        return f"{host_of(url)} is not among the allowed targets ({allowed}){internal}"

    @classmethod
    def from_config(cls, get: Callable[[str], Any]) -> Rules:
        """Read ``allowedTargets``, ``extraFields`` and ``takeOverFrom`` (each a list or its
        JSON) and ``verifyTargets`` (a boolean or its text) through ``get``."""
        texts = string_list(get(ALLOWED_TARGETS_KEY), ALLOWED_TARGETS_KEY)
        extra = frozenset(string_list(get(EXTRA_FIELDS_KEY), EXTRA_FIELDS_KEY))
        owners = string_list(get(TAKE_OVER_KEY), TAKE_OVER_KEY)
        for index, owner in enumerate(owners):
            problem = owner_problem(owner)
            if problem:
                raise ValueError(f"{TAKE_OVER_KEY}[{index}]: {problem}")
        verify = boolean(get(VERIFY_TARGETS_KEY), VERIFY_TARGETS_KEY)
        return cls(parse_patterns(texts, ALLOWED_TARGETS_KEY), extra, frozenset(owners), verify)


NO_RULES = Rules()


def parse_patterns(texts: list[str], key: str) -> tuple[HostPattern, ...]:
    """Host patterns from config, or a ``ValueError`` naming the entry (``key[i]``) at fault."""
    patterns = []
    for index, text in enumerate(texts):
        try:
            patterns.append(HostPattern.parse(text))
        except ValueError as error:
            raise ValueError(f"{key}[{index}]: {error}") from None
    return tuple(patterns)


def boolean(value: Any, key: str) -> bool:
    """A config value that must be a boolean: ``true``/``false``, or their text; nothing is
    ``False``."""
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise ValueError(f"{key} must be true or false, got {value!r}")
    return text == "true"


def string_list(value: Any, key: str) -> list[str]:
    """A config value that must be a list of strings: a list, or its JSON text (as the engine
    hands config to a provider), or nothing."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"{key} must be a list, got {value!r}") from None
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ValueError(f"{key} must be a list of non-empty strings, got {value!r}")
    return value

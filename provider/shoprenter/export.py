"""The shop's webhooks as declarations: onboard an existing shop in one command.

``python -m provider export`` lists the shop and writes one entry per webhook, every property
in canonical form and ``adoptId`` set, so that pointing ``webhooksFile`` at the result and
running ``pulumi up`` writes nothing to the shop but each webhook's owner marker (one PUT of
its label) and the next preview shows no change. Webhooks another stack marks are skipped
unless asked for (``--owner``).
A webhook with one target is written in the one-target shorthand (``url``, ``format``,
``fields``), one with several as ``targets``. Webhooks no declaration can describe (a plain-http
target, an empty label, a target outside ``allowedTargets``, one url twice) are left out and
listed with the reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

import yaml

from ..core.model import LiveWebhook, validate_declaration
from ..core.payload import documented_fields
from ..core.rules import Rules, host_of
from .client import Listing

FORMATS = ("webhooks-file", "stack-config")
STACK_CONFIG_KEY = "shoprenter-webhooks:webhooks"


@dataclass
class Export:
    """The entries to declare, what was left out (and why), and field names to allow."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    extra_fields: set[str] = field(default_factory=set)
    skipped: list[str] = field(default_factory=list)

    def render(self, format: str) -> str:
        """The YAML document: a ``webhooksFile``, or the block to paste into a stack file."""
        if format == "stack-config":
            document: dict[str, Any] = {"config": {STACK_CONFIG_KEY: self.entries}}
            if self.extra_fields:
                document["config"]["shoprenter-webhooks:extraFields"] = sorted(self.extra_fields)
        else:
            document = {"webhooks": self.entries}
        return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


def export(
    listing: Listing, rules: Rules, owners: Optional[frozenset[str]] = frozenset()
) -> Export:
    """Describe every webhook of ``listing`` as a declaration that takes it over as it is,
    its label without an owner's marker.

    Webhooks another owner marks are skipped (and listed) unless that owner is in ``owners``
    (``None``: every owner); unmarked ones are always described.
    """
    result = Export()
    names = UniqueNames()
    for live in listing.webhooks:
        owner = live.state.owner
        if owner is not None and owners is not None and owner not in owners:
            result.skipped.append(f"{live.id} ({live.state.label!r}): owned by {owner}")
            continue
        needed = _undocumented_fields(live) - rules.extra_fields
        entry = _entry(names.take(live.state.label or live.id), live)
        props = {key: value for key, value in entry.items() if key != "name"}
        lenient = Rules(rules.allowed_targets, rules.extra_fields | needed)
        _webhook, failures = validate_declaration(props, rules=lenient)
        if failures:
            # Said by host: a URL may carry a secret, and this goes to a terminal or CI log.
            reasons = "; ".join(f"{key}: {reason}" for key, reason in failures)
            for url in live.state.urls:
                reasons = reasons.replace(url, host_of(url))
            result.left_out.append(f"{live.id} ({live.state.label!r}): {reasons}")
            continue
        result.entries.append(entry)
        result.extra_fields |= needed
    result.left_out += [
        f"{hook.id} ({hook.label!r}): {hook.reason}" for hook in listing.unmanageable
    ]
    return result


def _entry(name: str, live: LiveWebhook) -> dict[str, Any]:
    props = live.state.to_props()
    props["adoptId"] = live.id
    del props["owner"]  # the stack that takes it over marks it as its own
    targets = props.pop("targets")
    where = targets[0] if len(targets) == 1 else {"targets": targets}  # one: the shorthand
    return {"name": name, "event": props.pop("event"), **where, **props}


def _undocumented_fields(live: LiveWebhook) -> set[str]:
    documented = documented_fields().get(live.state.event, frozenset())
    return {name for target in live.state.targets for name in target.fields} - documented


class UniqueNames:
    """Readable resource names from labels (``ERP sync`` -> ``erp-sync``), never twice."""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self._taken = set(taken)

    def take(self, label: str) -> str:
        ascii_label = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
        base = re.sub(r"[^a-z0-9]+", "-", ascii_label.lower()).strip("-") or "webhook"
        name, number = base, 2
        while name in self._taken:
            name, number = f"{base}-{number}", number + 1
        self._taken.add(name)
        return name

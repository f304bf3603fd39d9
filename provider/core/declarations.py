"""Webhook declarations: read from the stack's layers, validated as a whole, remembered.

The declarations need neither Pulumi nor HTTP: the program (:mod:`provider.program`), the
``trigger`` command and the fleet read them through here. Entries come in layers
(:mod:`provider.core.layers`): a YAML file named by the key ``webhooksFile`` (shared by every
shop of a fleet), a shop's own file (``shopWebhooksFile``), and the stack config keys
``webhooks``, ``overrides`` and ``omit``. The merged set is validated as a whole, so a bad
entry fails ``pulumi preview`` with every problem named, entry by entry, where it was written,
and nothing is sent to the shop.

A set validated once is not validated again while it, the stack's rules and this package's
code stay the same: :func:`load_registrations` keeps the resulting :class:`Registration`
values in a memo (:mod:`provider.core.memo`) and loads the models (pydantic) only on a miss.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Protocol

import yaml

from ..version import __version__
from .bag import PROPERTY_KEYS, TARGET_KEYS
from .errors import DeclarationError
from .layers import SECTIONS, Layer, Merged, merge
from .memo import Memo, key_of, this_code
from .rules import NO_RULES, Rules

# The checked inputs carry a stamp of what judged them (see checked_stamp).
CHECKED_KEY = "__checked"


def checked_stamp(rules: Rules) -> str:
    """What a declaration was judged by: this release (its code) and the stack's rules that a
    declaration must meet (allowed targets, extra field names). Validation depends on nothing
    else, so inputs accepted under a stamp are accepted again under the same one, unjudged."""
    judged_by = [__version__, this_code(), *sorted(map(str, rules.allowed_targets))]
    judged_by += ["", *sorted(rules.extra_fields)]
    return hashlib.sha256("\0".join(judged_by).encode()).hexdigest()[:16]


if TYPE_CHECKING:  # loaded when a declaration is validated, not when a memo has it
    from .model import DeclaredWebhook

# An entry: the resource name, the webhook's properties (a target's too, the one-target
# shorthand), and the names it was known by. (The owner is the stack's: see load_owner.)
ENTRY_KEYS = (
    "name",
    *(key for key in PROPERTY_KEYS if key != "owner"),
    *TARGET_KEYS,
    "aliases",
)


@dataclass(frozen=True)
class Declaration:
    """One validated entry: the resource name, the webhook, the names it was known by."""

    name: str
    webhook: DeclaredWebhook
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Registration:
    """What the program registers for one declaration, in plain values (a memo keeps them):
    the resource name, the canonical property bag, the names it was known by, and the twin
    digest the inventory recognises it by."""

    name: str
    props: dict[str, Any]
    aliases: tuple[str, ...]
    twin: str

    @classmethod
    def of(cls, declaration: Declaration) -> Registration:
        webhook = declaration.webhook
        return cls(declaration.name, webhook.to_props(), declaration.aliases, webhook.twin_key())

    @classmethod
    def recalled(cls, value: Any) -> Optional[list[Registration]]:
        """Registrations from a memo's value, or ``None`` if it is not a list of them."""
        try:
            return [cls(**{**item, "aliases": tuple(item["aliases"])}) for item in value]
        except (TypeError, KeyError):
            return None


def parse_declarations(entries: Any, rules: Rules = NO_RULES) -> list[Declaration]:
    """Validate one list of entries (the stack config's ``webhooks``) as a whole; raise one
    error naming every bad entry."""
    if not isinstance(entries, list):
        raise DeclarationError("webhooks must be a list of webhook entries")
    return parse_merged(merge([Layer("", webhooks=entries)]), rules)


def parse_merged(merged: Merged, rules: Rules = NO_RULES) -> list[Declaration]:
    """Validate merged entries as a whole; raise one error naming every problem of the
    layering and every bad entry, where it was written."""
    problems = list(merged.problems)
    declarations: list[tuple[str, Declaration]] = []
    for where, entry in merged.located:
        declaration, entry_problems = _parse_entry(entry, where, rules)
        problems.extend(entry_problems)
        if declaration:
            declarations.append((where, declaration))
    problems.extend(_repeated_targets(declarations))
    if problems:
        raise DeclarationError(
            "invalid webhook declarations:\n" + "\n".join(f"  - {p}" for p in problems)
        )
    return [declaration for _where, declaration in declarations]


def _parse_entry(entry: Any, where: str, rules: Rules) -> tuple[Optional[Declaration], list[str]]:
    if not isinstance(entry, Mapping):
        return None, [f"{where}: must be a mapping with at least name, event and url (or targets)"]
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        return None, [f"{where}: name: is required (a unique name for the resource)"]
    problems = [f"{where}: {key}: {_unknown_key(key)}" for key in entry if key not in ENTRY_KEYS]
    aliases = entry.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        problems.append(f"{where}: aliases: must be a list of earlier resource names")
    props = {key: value for key, value in entry.items() if key in ENTRY_KEYS and key != "name"}
    props.pop("aliases", None)
    props.setdefault("label", name)
    from .model import validate_declaration  # noqa: PLC0415 (not loaded on a memo's hit)

    webhook, failures = validate_declaration(props, rules=rules)
    problems.extend(f"{where}: {key}: {reason}" for key, reason in failures)
    if problems or webhook is None:
        return None, problems
    return Declaration(name=name, webhook=webhook, aliases=tuple(aliases)), []


def _unknown_key(key: Any) -> str:
    close = difflib.get_close_matches(str(key), ENTRY_KEYS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key{hint}; the keys are {', '.join(ENTRY_KEYS)}"


def _repeated_targets(declarations: Iterable[tuple[str, Declaration]]) -> list[str]:
    """A problem for each declaration that delivers an event to a target another already
    delivers it to (the shop would send it twice)."""
    problems = []
    targets: dict[tuple[str, str], str] = {}
    for where, declaration in declarations:
        for url in declaration.webhook.urls:
            target = (declaration.webhook.event, url)
            if target in targets:
                problems.append(
                    f"{where}: event and url repeat {targets[target]!r}: the shop would "
                    "deliver the same event twice to the same target"
                )
            targets.setdefault(target, declaration.name)
    return problems


class ConfigSource(Protocol):
    """The two reads the program makes of the stack config (``pulumi.Config`` has both)."""

    def get(self, key: str) -> Optional[str]: ...

    def get_object(self, key: str) -> Any: ...


def load_rules(config: ConfigSource) -> Rules:
    """The stack's ``allowedTargets`` and ``extraFields``, or an error naming the bad entry."""
    try:
        return Rules.from_config(config.get_object)
    except ValueError as error:
        raise DeclarationError(str(error)) from None


def load_declarations(config: ConfigSource, project_dir: Path) -> list[Declaration]:
    """The declarations of the stack's layers, merged and validated."""
    return parse_merged(read_entries(config, project_dir), load_rules(config))


def load_registrations(
    config: ConfigSource, project_dir: Path, memo: Optional[Memo] = None
) -> list[Registration]:
    """The declarations as registrations: from ``memo`` when it holds this very input, judged
    by these rules and this code; else validated (and kept there when valid)."""
    rules = load_rules(config)
    merged = read_entries(config, project_dir)
    key = key_of(checked_stamp(rules), merged.located, merged.problems)
    recalled = Registration.recalled(memo.recall(key)) if memo else None
    if recalled is not None:
        return recalled
    declarations = parse_merged(merged, rules)
    registrations = [Registration.of(declaration) for declaration in declarations]
    if memo:
        memo.keep(key, [asdict(registration) for registration in registrations])
    return registrations


def read_entries(config: ConfigSource, project_dir: Path) -> Merged:
    """The entries the stack's layers declare together, each with where it was written."""
    layers = [
        _file_layer(project_dir, file_name)
        for file_name in (config.get("webhooksFile"), config.get("shopWebhooksFile"))
        if file_name
    ]
    inline = {section: config.get_object(section) for section in SECTIONS}
    if any(value is not None for value in inline.values()):
        layers.append(Layer.of_sections("", **inline))
    if not layers:
        # An empty program would delete every managed webhook: never do that by omission.
        raise DeclarationError(
            "no webhooks declared: set webhooksFile, or webhooks in the stack config (an "
            "empty list [] to manage none)"
        )
    return merge(layers)


def _file_layer(project_dir: Path, file_name: str) -> Layer:
    try:
        document = yaml.safe_load((project_dir / file_name).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise DeclarationError(f"{file_name}: cannot be read: {error}") from None
    return Layer.of_document(document, file_name)

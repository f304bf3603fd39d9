"""The default Pulumi program: webhook declarations in, ``Webhook`` resources out.

Declarations come from the stack config key ``webhooks`` (a list) or from a YAML file
named by the key ``webhooksFile``. The whole set is validated before any resource is
declared, so a bad entry fails ``pulumi preview`` with every problem named, entry by entry,
and nothing is sent to the shop.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Protocol

import pulumi
import yaml

from .errors import DeclarationError
from .model import PROPERTY_KEYS, DeclaredWebhook, validate_declaration
from .webhook_provider import Webhook

# An entry: the resource name, the webhook's properties, and the names it was known by.
ENTRY_KEYS = ("name", *PROPERTY_KEYS, "aliases")


@dataclass(frozen=True)
class Declaration:
    """One validated entry: the resource name, the webhook, the names it was known by."""

    name: str
    webhook: DeclaredWebhook
    aliases: tuple[str, ...] = ()


def parse_declarations(entries: Any, source: str = "webhooks") -> list[Declaration]:
    """Validate a list of entries as a whole; raise one error naming every bad entry."""
    if not isinstance(entries, list):
        raise DeclarationError(f"{source} must be a list of webhook entries")
    problems: list[str] = []
    declarations: list[Declaration] = []
    for index, entry in enumerate(entries):
        where = f"{source}[{index}]"
        declaration, entry_problems = _parse_entry(entry, where)
        problems.extend(entry_problems)
        if declaration:
            declarations.append(declaration)
    problems.extend(_duplicates(declarations, source))
    if problems:
        raise DeclarationError(
            "invalid webhook declarations:\n" + "\n".join(f"  - {p}" for p in problems)
        )
    return declarations


def _parse_entry(entry: Any, where: str) -> tuple[Optional[Declaration], list[str]]:
    if not isinstance(entry, Mapping):
        return None, [f"{where}: must be a mapping with at least name, event and url"]
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        return None, [f"{where}: name: is required (a unique name for the resource)"]
    where = f"{where} ({name})"
    problems = [f"{where}: {key}: {_unknown_key(key)}" for key in entry if key not in ENTRY_KEYS]
    aliases = entry.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        problems.append(f"{where}: aliases: must be a list of earlier resource names")
    props = {key: value for key, value in entry.items() if key in PROPERTY_KEYS}
    props.setdefault("label", name)
    webhook, failures = validate_declaration(props)
    problems.extend(f"{where}: {key}: {reason}" for key, reason in failures)
    if problems or webhook is None:
        return None, problems
    return Declaration(name=name, webhook=webhook, aliases=tuple(aliases)), []


def _unknown_key(key: Any) -> str:
    close = difflib.get_close_matches(str(key), ENTRY_KEYS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown key{hint}; the keys are {', '.join(ENTRY_KEYS)}"


def _duplicates(declarations: Iterable[Declaration], source: str) -> list[str]:
    problems = []
    names: dict[str, int] = {}
    targets: dict[tuple[str, str], str] = {}
    for declaration in declarations:
        names[declaration.name] = names.get(declaration.name, 0) + 1
        target = (declaration.webhook.event, declaration.webhook.url)
        if target in targets:
            problems.append(
                f"{source} ({declaration.name}): event and url repeat {targets[target]!r}: "
                "the shop would deliver the same event twice to the same target"
            )
        targets.setdefault(target, declaration.name)
    problems.extend(
        f"{source}: name {name!r} is used {count} times; names must be unique"
        for name, count in names.items()
        if count > 1
    )
    return problems


class ConfigSource(Protocol):
    """The two reads the program makes of the stack config (``pulumi.Config`` has both)."""

    def get(self, key: str) -> Optional[str]: ...

    def get_object(self, key: str) -> Any: ...


def load_declarations(config: ConfigSource, project_dir: Path) -> list[Declaration]:
    """Read the declarations from stack config, or from the YAML file config names."""
    inline = config.get_object("webhooks")
    file_name = config.get("webhooksFile")
    if inline is not None and file_name:
        raise DeclarationError("set either webhooks or webhooksFile in the stack config, not both")
    if file_name:
        path = project_dir / file_name
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise DeclarationError(f"webhooksFile {file_name}: cannot be read: {error}") from None
        entries = document.get("webhooks") if isinstance(document, dict) else document
        return parse_declarations(entries, source=f"{file_name}: webhooks")
    if inline is None:
        # An empty program would delete every managed webhook: never do that by omission.
        raise DeclarationError(
            "no webhooks declared: set webhooks in the stack config (an empty list [] to "
            "manage none) or webhooksFile"
        )
    return parse_declarations(inline, source="webhooks")


def declare(declarations: Iterable[Declaration], url_is_secret: bool = False) -> dict[str, Webhook]:
    """One ``Webhook`` per declaration, named by its entry so that its identity is stable."""
    resources = {}
    for declaration in declarations:
        arguments = declaration.webhook.model_dump()  # Webhook's keywords are its field names
        if url_is_secret:
            arguments["url"] = pulumi.Output.secret(arguments["url"])
        aliases = [pulumi.Alias(name=alias) for alias in declaration.aliases]
        resources[declaration.name] = Webhook(
            declaration.name, **arguments, opts=pulumi.ResourceOptions(aliases=aliases)
        )
    return resources


def main(project_dir: Optional[Path] = None) -> None:
    """The program ``__main__.py`` runs: load, validate, declare, export ids and links."""
    try:
        declarations = load_declarations(pulumi.Config(), project_dir or Path.cwd())
    except DeclarationError as error:
        raise pulumi.RunError(str(error)) from None  # reported as the message alone
    key = f"{pulumi.get_project()}:webhooks"
    resources = declare(declarations, url_is_secret=pulumi.runtime.is_config_secret(key))
    pulumi.export("webhookIds", {name: hook.webhookId for name, hook in resources.items()})
    pulumi.export("hrefs", {name: hook.href for name, hook in resources.items()})

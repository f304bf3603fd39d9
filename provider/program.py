"""The default Pulumi program: webhook declarations in, ``Webhook`` resources out.

Declarations come from the stack config key ``webhooks`` (a list) or from a YAML file
named by the key ``webhooksFile``. The whole set is validated before any resource is
declared, so a bad entry fails ``pulumi preview`` with every problem named, entry by entry,
and nothing is sent to the shop.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Protocol

import pulumi
import yaml

from .bag import PROPERTY_KEYS, TARGET_KEYS
from .errors import DeclarationError
from .inventory import DEFAULT_PRUNE_LIMIT, MODES, WebhookInventory, describe, not_taken_over
from .model import DeclaredWebhook, validate_declaration
from .ownership import OWNER_SETTING, owner_problem
from .rules import ALLOWED_TARGETS_KEY, NO_RULES, Rules, parse_patterns, string_list
from .webhook_provider import Webhook, stack_owner

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


def parse_declarations(
    entries: Any, source: str = "webhooks", rules: Rules = NO_RULES
) -> list[Declaration]:
    """Validate a list of entries as a whole; raise one error naming every bad entry."""
    if not isinstance(entries, list):
        raise DeclarationError(f"{source} must be a list of webhook entries")
    problems: list[str] = []
    declarations: list[Declaration] = []
    for index, entry in enumerate(entries):
        where = f"{source}[{index}]"
        declaration, entry_problems = _parse_entry(entry, where, rules)
        problems.extend(entry_problems)
        if declaration:
            declarations.append(declaration)
    problems.extend(_duplicates(declarations, source))
    if problems:
        raise DeclarationError(
            "invalid webhook declarations:\n" + "\n".join(f"  - {p}" for p in problems)
        )
    return declarations


def _parse_entry(entry: Any, where: str, rules: Rules) -> tuple[Optional[Declaration], list[str]]:
    if not isinstance(entry, Mapping):
        return None, [f"{where}: must be a mapping with at least name, event and url (or targets)"]
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        return None, [f"{where}: name: is required (a unique name for the resource)"]
    where = f"{where} ({name})"
    problems = [f"{where}: {key}: {_unknown_key(key)}" for key in entry if key not in ENTRY_KEYS]
    aliases = entry.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        problems.append(f"{where}: aliases: must be a list of earlier resource names")
    props = {key: value for key, value in entry.items() if key in ENTRY_KEYS and key != "name"}
    props.pop("aliases", None)
    props.setdefault("label", name)
    webhook, failures = validate_declaration(props, rules=rules)
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
        for url in declaration.webhook.urls:
            target = (declaration.webhook.event, url)
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


def load_rules(config: ConfigSource) -> Rules:
    """The stack's ``allowedTargets`` and ``extraFields``, or an error naming the bad entry."""
    try:
        return Rules.from_config(config.get_object)
    except ValueError as error:
        raise DeclarationError(str(error)) from None


def load_declarations(config: ConfigSource, project_dir: Path) -> list[Declaration]:
    """Read the declarations from stack config, or from the YAML file config names."""
    rules = load_rules(config)
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
        return parse_declarations(entries, source=f"{file_name}: webhooks", rules=rules)
    if inline is None:
        # An empty program would delete every managed webhook: never do that by omission.
        raise DeclarationError(
            "no webhooks declared: set webhooks in the stack config (an empty list [] to "
            "manage none) or webhooksFile"
        )
    return parse_declarations(inline, source="webhooks", rules=rules)


def load_owner() -> str:
    """The stack's owner on the shop (``owner``, else ``<project>/<stack>``), or an error
    naming the key."""
    owner = stack_owner()
    problem = owner_problem(owner)
    if problem:
        raise DeclarationError(f"{OWNER_SETTING}: {problem}")
    return owner


def declare(
    declarations: Iterable[Declaration], owner: str, url_is_secret: bool = False
) -> dict[str, Webhook]:
    """One ``Webhook`` per declaration, named by its entry so that its identity is stable."""
    resources = {}
    for declaration in declarations:
        props = declaration.webhook.to_props()
        targets = props["targets"]
        aliases = [pulumi.Alias(name=alias) for alias in declaration.aliases]
        resources[declaration.name] = Webhook(
            declaration.name,
            event=props["event"],
            label=props["label"],
            enabled=props["enabled"],
            targets=pulumi.Output.secret(targets) if url_is_secret else targets,
            delay=props["delay"],
            adopt_id=props["adoptId"],
            owner=owner,
            opts=pulumi.ResourceOptions(aliases=aliases),
        )
    return resources


@dataclass(frozen=True)
class InventoryPlan:
    """How the stack treats the shop's webhooks it does not declare (config ``unmanaged``)."""

    mode: str = "report"
    prune_targets: tuple[str, ...] = ()
    prune_limit: int = DEFAULT_PRUNE_LIMIT


def load_inventory_plan(config: ConfigSource) -> InventoryPlan:
    """``unmanaged``, ``pruneTargets`` (default: ``allowedTargets``) and ``pruneLimit``.

    Pruning deletes webhooks nobody declared, so it needs a scope the user wrote down: without
    ``pruneTargets`` or ``allowedTargets`` it fails here, at preview, before any call.
    """
    mode = config.get("unmanaged") or "report"
    if mode not in MODES:
        raise DeclarationError(f"unmanaged must be one of {', '.join(MODES)}, got {mode!r}")
    try:
        key = "pruneTargets" if config.get_object("pruneTargets") else ALLOWED_TARGETS_KEY
        targets = string_list(config.get_object(key), key)
        parse_patterns(targets, key)
    except ValueError as error:
        raise DeclarationError(str(error)) from None
    if mode == "prune" and not targets:
        raise DeclarationError(
            "unmanaged: prune deletes webhooks nobody declared, so it needs a scope: set "
            "shoprenter-webhooks:pruneTargets (host patterns such as hooks.example.com or "
            "*.example.com), or allowedTargets"
        )
    limit_text = config.get("pruneLimit")
    if limit_text is not None and not str(limit_text).isdigit():
        raise DeclarationError(f"pruneLimit must be a whole number, got {limit_text!r}")
    limit = int(limit_text) if limit_text is not None else DEFAULT_PRUNE_LIMIT
    return InventoryPlan(mode, tuple(targets), limit)


def declare_inventory(
    plan: InventoryPlan,
    owner: str,
    declarations: list[Declaration],
    resources: dict[str, Webhook],
) -> WebhookInventory:
    """The inventory, after every webhook: it learns their ids and what they will adopt."""
    hooks = list(resources.values())
    return WebhookInventory(
        "shop-webhooks",
        managed=pulumi.Output.all(*[hook.webhookId for hook in hooks]),
        owner=owner,
        mode=plan.mode,
        adopting=adopting(declarations),
        declared=[d.webhook.twin_key() for d in declarations],
        prune_targets=list(plan.prune_targets),
        prune_limit=plan.prune_limit,
        opts=pulumi.ResourceOptions(depends_on=hooks),
    )


def adopting(declarations: Iterable[Declaration]) -> list[str]:
    """The ids of existing webhooks the declarations take over by ``adoptId``."""
    return [d.webhook.adopt_id for d in declarations if d.webhook.adopt_id]


# The output unmanaged of a stack that has not listed the shop yet (no create, no refresh).
NOT_LISTED = "not listed yet: `pulumi refresh` lists the shop's webhooks"


def report(inventory: WebhookInventory, declarations: list[Declaration], owner: str) -> None:
    """Warn about unmanaged webhooks, the ones this run marks as it takes them over, and
    each one ``up`` will delete; export the unmanaged ones.

    The record is the inventory's as of the last refresh; what this run's declarations take
    over (an ``adoptId``, a twin) is no longer unmanaged, whatever the record says.
    """
    twins = [d.webhook.twin_key() for d in declarations]
    listed = inventory.unmanaged  # None: this stack has not listed the shop yet
    # A state from before `held` was kept has none: in a preview that reads as unknown, which
    # must not silence the report (None: no declaration known to be held).
    held = inventory.held.apply(
        lambda h: h if isinstance(h, dict) else None, run_with_unknowns=True
    )
    # (unmanaged, taken over by this run), by the declarations the stack holds already.
    parts = pulumi.Output.all(listed, held).apply(
        lambda both: _partition(both[0] or [], adopting(declarations), twins, both[1])
    )
    unmanaged = parts.apply(lambda both: both[0])
    warn_listing = _warner(owner)
    unmanaged.apply(
        warn_listing(
            "{count} webhooks on the shop are not managed by this stack (as of the last "
            "refresh; see the stack output unmanaged)"
        )
    )
    parts.apply(
        lambda both: warn_listing(
            "will take over {count} unmarked webhooks and mark them as this stack's (one PUT "
            "of the label each, nothing else)"
        )([e for e in both[1] if e.get("owner") is None])
    )
    inventory.prunable.apply(warn_listing("will delete {count} unmanaged webhooks"))
    shown = ("id", "event", "label", "host", "owner")
    pulumi.export(
        "unmanaged",
        pulumi.Output.all(listed, unmanaged).apply(
            lambda both: (
                NOT_LISTED
                if both[0] is None
                else [{key: e.get(key) for key in shown} for e in both[1]]
            )
        ),
    )


def _partition(
    record: list[dict[str, Any]], adopting: list[str], twins: list[str], held: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The record's entries as (still unmanaged, taken over by this run)."""
    keep = not_taken_over([], adopting, twins, held)
    return [e for e in record if keep(e)], [e for e in record if not keep(e)]


def _warner(owner: str) -> Callable[[str], Callable[[list[dict[str, Any]]], None]]:
    """Warnings that count and name the webhooks they are given, when there are any."""

    def warn_listing(headline: str) -> Callable[[list[dict[str, Any]]], None]:
        def warn(entries: list[dict[str, Any]]) -> None:
            if entries:
                listed = "; ".join(describe(entry, owner) for entry in entries)
                pulumi.log.warn(f"{headline.format(count=len(entries))}: {listed}")

        return warn

    return warn_listing


def main(project_dir: Optional[Path] = None) -> None:
    """The program ``__main__.py`` runs: load, validate, declare, export ids and links."""
    config = pulumi.Config()
    try:
        declarations = load_declarations(config, project_dir or Path.cwd())
        plan = load_inventory_plan(config)
        owner = load_owner()
    except DeclarationError as error:
        raise pulumi.RunError(str(error)) from None  # reported as the message alone
    key = f"{pulumi.get_project()}:webhooks"
    resources = declare(declarations, owner, url_is_secret=pulumi.runtime.is_config_secret(key))
    pulumi.export("webhookIds", {name: hook.webhookId for name, hook in resources.items()})
    pulumi.export("hrefs", {name: hook.href for name, hook in resources.items()})
    if plan.mode != "ignore":
        report(declare_inventory(plan, owner, declarations, resources), declarations, owner)

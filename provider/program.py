"""The default Pulumi program: webhook declarations in, ``Webhook`` resources out.

Declarations come in layers (:mod:`provider.layers`): a YAML file named by the key
``webhooksFile`` (shared by every shop of a fleet), a shop's own file (``shopWebhooksFile``),
and the stack config keys ``webhooks``, ``overrides`` and ``omit``. The merged set is
validated as a whole before any resource is declared, so a bad entry fails ``pulumi preview``
with every problem named, entry by entry, where it was written, and nothing is sent to the
shop.

A set validated once is not validated again while it, the stack's rules and this package's
code stay the same: the program keeps the resulting :class:`Registration` values in a memo
(:mod:`provider.memo`) and loads the models (pydantic) only on a miss. Every ``up`` gains by
it (its update phase runs the program on what its preview phase has just validated), and so
does every unchanged preview after the first. A stack whose ``webhooks`` are a secret is never
kept there.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Protocol

import pulumi
import yaml

from .bag import PROPERTY_KEYS, TARGET_KEYS
from .errors import DeclarationError
from .inventory import DEFAULT_PRUNE_LIMIT, MODES, WebhookInventory, describe, not_taken_over
from .layers import SECTIONS, Layer, Merged, merge
from .memo import Memo, key_of
from .ownership import OWNER_SETTING, owner_problem
from .rules import ALLOWED_TARGETS_KEY, NO_RULES, Rules, parse_patterns, string_list
from .webhook_provider import Webhook, checked_stamp, stack_owner

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


def load_owner() -> str:
    """The stack's owner on the shop (``owner``, else ``<project>/<stack>``), or an error
    naming the key."""
    owner = stack_owner()
    problem = owner_problem(owner)
    if problem:
        raise DeclarationError(f"{OWNER_SETTING}: {problem}")
    return owner


def declare(
    registrations: Iterable[Registration], owner: str, url_is_secret: bool = False
) -> dict[str, Webhook]:
    """One ``Webhook`` per declaration, named by its entry so that its identity is stable."""
    resources = {}
    for registration in registrations:
        props = registration.props
        targets = props["targets"]
        aliases = [pulumi.Alias(name=alias) for alias in registration.aliases]
        resources[registration.name] = Webhook(
            registration.name,
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
    registrations: list[Registration],
    resources: dict[str, Webhook],
) -> WebhookInventory:
    """The inventory, after every webhook: it learns their ids and what they will adopt."""
    hooks = list(resources.values())
    return WebhookInventory(
        "shop-webhooks",
        managed=pulumi.Output.all(*[hook.webhookId for hook in hooks]),
        owner=owner,
        mode=plan.mode,
        adopting=adopting(registrations),
        declared=[r.twin for r in registrations],
        prune_targets=list(plan.prune_targets),
        prune_limit=plan.prune_limit,
        opts=pulumi.ResourceOptions(depends_on=hooks),
    )


def adopting(registrations: Iterable[Registration]) -> list[str]:
    """The ids of existing webhooks the declarations take over by ``adoptId``."""
    return [r.props["adoptId"] for r in registrations if r.props["adoptId"]]


# The output unmanaged of a stack that has not listed the shop yet (no create, no refresh).
NOT_LISTED = "not listed yet: `pulumi refresh` lists the shop's webhooks"


def report(inventory: WebhookInventory, registrations: list[Registration], owner: str) -> None:
    """Warn about unmanaged webhooks, the ones this run marks as it takes them over, and
    each one ``up`` will delete; export the unmanaged ones.

    The record is the inventory's as of the last refresh; what this run's declarations take
    over (an ``adoptId``, a twin) is no longer unmanaged, whatever the record says.
    """
    twins = [r.twin for r in registrations]
    listed = inventory.unmanaged  # None: this stack has not listed the shop yet
    # A state from before `held` was kept has none: in a preview that reads as unknown, which
    # must not silence the report (None: no declaration known to be held).
    held = inventory.held.apply(
        lambda h: h if isinstance(h, dict) else None, run_with_unknowns=True
    )
    # (unmanaged, taken over by this run), by the declarations the stack holds already.
    parts = pulumi.Output.all(listed, held).apply(
        lambda both: _partition(both[0] or [], adopting(registrations), twins, both[1])
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
    project_dir = project_dir or Path.cwd()
    url_is_secret = any(  # a secret url may be written in the stack's own entries or overrides
        pulumi.runtime.is_config_secret(f"{pulumi.get_project()}:{key}")
        for key in ("webhooks", "overrides")
    )
    memo = None if url_is_secret else declarations_memo(project_dir)
    try:
        registrations = load_registrations(config, project_dir, memo)
        plan = load_inventory_plan(config)
        owner = load_owner()
    except DeclarationError as error:
        raise pulumi.RunError(str(error)) from None  # reported as the message alone
    resources = declare(registrations, owner, url_is_secret=url_is_secret)
    pulumi.export("webhookIds", {name: hook.webhookId for name, hook in resources.items()})
    pulumi.export("hrefs", {name: hook.href for name, hook in resources.items()})
    if plan.mode != "ignore":
        inventory = declare_inventory(plan, owner, registrations, resources)
        report(inventory, registrations, owner)


def declarations_memo(project_dir: Path) -> Memo:
    """The memo slot of this project folder's stack (see the module's docstring)."""
    folder = str(project_dir.resolve())
    return Memo.slot("declarations", folder, pulumi.get_project(), pulumi.get_stack())

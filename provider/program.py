"""The default Pulumi program: webhook declarations in, ``Webhook`` resources out.

The declarations are read and validated by :mod:`provider.core.declarations` (no Pulumi
there); this module declares one ``Webhook`` per declaration and the inventory after them, and
reports what the shop holds beside them. A program whose declarations are a secret (the key
``webhooks`` or ``overrides``) never keeps them in the validation memo.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pulumi

from .core.declarations import ConfigSource, Registration, load_registrations
from .core.errors import DeclarationError
from .core.memo import Memo
from .core.ownership import OWNER_SETTING, owner_problem
from .core.rules import ALLOWED_TARGETS_KEY, parse_patterns, string_list
from .inventory import DEFAULT_PRUNE_LIMIT, MODES, WebhookInventory, describe, not_taken_over
from .webhook_provider import Webhook, stack_owner


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
    parts = _unmanaged_and_taken_over(inventory, registrations)
    warn_listing = _warner(owner)
    parts.apply(
        lambda both: warn_listing(
            "{count} webhooks on the shop are not managed by this stack (as of the last "
            "refresh; see the stack output unmanaged)"
        )(both[0])
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
        pulumi.Output.all(inventory.unmanaged, parts).apply(
            lambda both: (
                NOT_LISTED
                if both[0] is None  # this stack has not listed the shop yet
                else [{key: e.get(key) for key in shown} for e in both[1][0]]
            )
        ),
    )


def _unmanaged_and_taken_over(
    inventory: WebhookInventory, registrations: list[Registration]
) -> pulumi.Output[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """The inventory's record split by this run's declarations: (still unmanaged, taken over
    by this run), judged by the declarations the stack holds already."""
    twins = [r.twin for r in registrations]
    # A state from before `held` was kept has none: in a preview that reads as unknown, which
    # must not silence the report (None: no declaration known to be held).
    held = inventory.held.apply(
        lambda h: h if isinstance(h, dict) else None, run_with_unknowns=True
    )
    return pulumi.Output.all(inventory.unmanaged, held).apply(
        lambda both: _partition(both[0] or [], adopting(registrations), twins, both[1])
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
    memo = None if url_is_secret else declarations_memo()
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


def declarations_memo() -> Memo:
    """The memo slot of this project's stack, wherever its folder is: the fleet runs each stack
    in a scratch workspace of its own, and a CI runner checks the repository out anywhere, so
    a slot named by the folder would never be found again (another checkout of the same stack
    on one machine shares the slot: at worst a miss, as the key is the input itself)."""
    return Memo.slot("declarations", pulumi.get_project(), pulumi.get_stack())

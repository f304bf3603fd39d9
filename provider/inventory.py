"""The shop's webhooks that no resource of this stack manages: reported, and pruned in scope.

One :class:`WebhookInventory` per stack, declared after (and depending on) every ``Webhook``:

* ``read`` runs on refresh (``pulumi refresh``, ``up``/``preview --refresh``). It takes the
  process's one listing of the shop (every page; the webhooks' own reads share it,
  :mod:`provider.shoprenter.ledger`) and records each webhook this stack does not manage:
  id, event, label and target host, never the URL (it may carry a secret).
* ``check`` hands that refreshed record to this run's plan, once. In ``prune`` mode the plan
  lists the unmanaged webhooks that no owner marks and whose every target matches
  ``pruneTargets``, and this stack's own orphans (its marker, not in its state) wherever they
  deliver; another owner's webhook never (:mod:`provider.core.ownership`). The preview shows
  exactly what ``up`` will delete, and a later run without a new refresh deletes nothing. A plan
  larger than ``pruneLimit`` fails at ``check``, before anything is deleted.
* ``diff`` reports a change only when the plan deletes something (or the state records its
  provider under another name, which an update with nothing to delete records anew), so that a
  preview lists what changes on the shop and nothing else. The engine then keeps the record
  in the outputs as the last refresh (or prune) left it, and the program filters it against
  this run's declarations (:func:`not_taken_over`) before showing it.
* ``update`` deletes what the plan lists, skipping any webhook a resource took over meanwhile.
* ``create`` and ``delete`` make no call: a new stack learns the shop at its first refresh, and
  ``destroy`` never prunes.

A webhook the stack is about to take over (``adoptId``, or a twin with the same event, url and
label) is never listed; twins are recognised by a digest, so no URL is stored here. Only a
declaration the stack does not hold yet takes a twin over: ``held`` records, by the
declaration's twin digest, the webhooks the last ``up`` or refresh found, and a twin of a held
declaration is an unmanaged duplicate (reported, pruned in scope), never hidden. Preview and
``up`` read ``held`` from the same state, so they decide alike; a state from before it was kept
(none recorded) decides as that release did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Optional

import pulumi
from pulumi import dynamic

from .core.errors import OwnedElsewhere, ShoprenterError
from .core.ownership import describe_owner, is_foreign
from .core.rules import HostPattern, host_of, matches_any, origin_of, parse_patterns
from .shop_provider import ShopProvider, before_registration, recorded_anew

if TYPE_CHECKING:  # the HTTP stack loads only when a method calls the shop
    from .shoprenter.client import Listing

MODES = ("report", "prune", "ignore")
DEFAULT_PRUNE_LIMIT = 10
# What the program declares; the rest of the state is the inventory's own record.
PLAN_KEYS = ("mode", "owner", "managed", "adopting", "declared", "pruneTargets", "pruneLimit")
INVENTORY_ID = "shop-webhook-inventory"

Entry = dict[str, Any]
Held = dict[str, str]


def entries_of(listing: Listing) -> list[Entry]:
    """Every listed webhook as the inventory records it: no URL, only where it delivers."""
    found = [
        _entry(live.id, live.state.event, live.state.label, live.state.owner, list(live.state.urls))
        | {"twin": live.state.twin_key()}  # only a webhook a declaration can describe has one
        for live in listing.webhooks
    ]
    found += [
        _entry(hook.id, hook.event, hook.label, hook.owner, list(hook.urls))
        for hook in listing.unmanageable
    ]
    return found


def _entry(webhook_id: str, event: str, label: str, owner: Optional[str], urls: list[str]) -> Entry:
    return {
        "id": webhook_id,
        "event": event,
        "label": label,
        "owner": owner,
        "host": ", ".join(host_of(url) for url in urls),
        "origins": [origin_of(url) for url in urls],
        "twin": "",
    }


def unmanaged_in(listing: Listing, managed: Iterable[Any]) -> list[Entry]:
    """The listed webhooks that no resource of this stack manages (by the ``managed`` ids)."""
    ids = set(managed)
    return [entry for entry in entries_of(listing) if entry["id"] not in ids]


def in_scope(entry: Entry, patterns: tuple[HostPattern, ...]) -> bool:
    """Whether every target of the webhook matches one of ``patterns``."""
    origins = entry.get("origins") or []
    return bool(origins) and all(matches_any(origin, patterns) for origin in origins)


def describe(entry: Entry, mine: Optional[str]) -> str:
    """One webhook for a person: label, event, host and owner."""
    owner = describe_owner(entry.get("owner"), mine)
    return f"{entry['label']!r} ({entry['event']} -> {entry['host']}; {owner})"


class InventoryProvider(ShopProvider):
    """Reads the shop's whole webhook set on refresh; deletes in scope only as planned."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        """The plan: the refreshed record, less what this run manages or takes over."""
        plan = {key: news.get(key) for key in PLAN_KEYS}
        managed = plan["managed"] if isinstance(plan["managed"], list) else []
        declared = plan["declared"] or []
        keep = not_taken_over(managed, plan["adopting"] or [], declared, olds.get("held"))
        listed: Optional[list[Entry]] = olds.get("unmanaged")  # None: never listed
        record = listed or []
        unmanaged = None if listed is None else [entry for entry in record if keep(entry)]
        failures = self._foreign_take_overs(record, keep, plan["owner"], plan["adopting"] or [])
        try:
            patterns = parse_patterns(plan["pruneTargets"] or [], "pruneTargets")
        except ValueError as error:
            patterns = ()
            failures.append(dynamic.CheckFailure("pruneTargets", str(error)))
        prunable: list[Entry] = []
        if plan["mode"] == "prune" and olds.get("fresh"):
            ids_known = all(isinstance(item, str) for item in managed)
            orphans = plan["owner"] if ids_known and not self._resources_changed() else None
            prunable = [
                entry for entry in record if keep(entry) and _prunable(entry, patterns, orphans)
            ]
        limit = int(plan["pruneLimit"] or 0)
        if len(prunable) > limit:
            failures.append(dynamic.CheckFailure("pruneLimit", _over_limit(len(prunable), limit)))
        judged = {"unmanaged": unmanaged, "prunable": prunable, "fresh": False}
        return dynamic.CheckResult({**plan, **judged, "held": held_by(plan)}, failures)

    def _foreign_take_overs(
        self,
        record: list[Entry],
        keep: Callable[[Entry], bool],
        mine: Optional[str],
        adopting: list[str],
    ) -> list[dynamic.CheckFailure]:
        """A failure for each webhook this run would take over that the last refresh saw
        marked by another owner not in ``takeOverFrom``: before any write. An ``adoptId``
        names its webhook; a twin is taken only when no twin of the same declaration is
        unmarked or this owner's (the ledger prefers those)."""
        allowed = self._rules.take_over_from
        taken = [entry for entry in record if not keep(entry)]
        preferred = {e.get("twin") for e in taken if not is_foreign(e.get("owner"), mine)}
        return [
            dynamic.CheckFailure(
                "declared",
                f"{OwnedElsewhere(entry['id'], entry['label'], entry['owner'], mine)} (as of "
                "the last refresh; `pulumi up --refresh` looks at the shop again)",
            )
            for entry in taken
            if is_foreign(entry.get("owner"), mine)
            and entry.get("owner") not in allowed
            and (entry["id"] in adopting or entry.get("twin") not in preferred)
        ]

    def _resources_changed(self) -> bool:
        """Whether this process created or updated a webhook resource: this run's preview
        could not know their ids then, so orphans wait for a run that changes none (and the
        preview and the update decide alike)."""
        return self._settings is not None and self._ledger().resources_changed

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        """A change only when the plan deletes something, or the provider is recorded anew:
        the record of unmanaged webhooks alone changes nothing on the shop (the program shows
        it)."""
        changed = bool(news.get("prunable")) or recorded_anew(olds, news)
        return dynamic.DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """Record the shop as this run's creates listed it, with no call of its own; a run
        that listed nothing leaves ``unmanaged`` as ``None``: not listed yet."""
        listing = self._ledger().shop.last_listing()
        unmanaged = None if listing is None else unmanaged_in(listing, props.get("managed") or [])
        record = {"unmanaged": unmanaged, "prunable": [], "pruned": [], "held": held_by(props)}
        return dynamic.CreateResult(INVENTORY_ID, {**props, **record})

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        """Refresh: list the shop once and record every webhook this stack does not manage.

        What the stack manages is judged as the webhooks' own reads judge it, from the same
        listing: a webhook another owner has marked since is released by its read, so it is
        recorded here as that owner's, and the next plan sees a declaration that would take it
        back (its preview refuses, before anything is written).
        """
        listing = self._ledger().shop.listing()  # the listing the webhooks' reads share
        ours = still_ours(listing, props.get("owner"))
        record = {
            "unmanaged": unmanaged_in(listing, ours & set(props.get("managed") or [])),
            "prunable": [],
            "fresh": True,
            "held": still_held(held_by(props), ours),
        }
        inputs = {**{key: props.get(key) for key in PLAN_KEYS}, **record}
        return dynamic.ReadResult(id_, {**props, **record}, inputs=inputs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        """Delete what the plan lists (never more than ``pruneLimit``), nothing else."""
        prunable: list[Entry] = news.get("prunable") or []
        limit = int(news.get("pruneLimit") or 0)
        if len(prunable) > limit:
            raise ShoprenterError("prune webhooks", _over_limit(len(prunable), limit))
        ledger = self._ledger()
        pruned = [
            entry
            for entry in prunable
            if ledger.prune(entry["id"], entry["label"], entry.get("owner"))
        ]
        gone = {entry["id"] for entry in pruned}
        listed: Optional[list[Entry]] = news.get("unmanaged")
        unmanaged = None if listed is None else [e for e in listed if e["id"] not in gone]
        record = {"unmanaged": unmanaged, "prunable": [], "pruned": pruned, "held": held_by(news)}
        return dynamic.UpdateResult({**news, **record})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Forget the inventory; ``destroy`` never prunes."""


def _prunable(entry: Entry, patterns: tuple[HostPattern, ...], orphans_of: Optional[str]) -> bool:
    """Unowned and in scope, or an orphan of ``orphans_of`` (wherever it delivers); another
    owner's webhook never."""
    owner = entry.get("owner")
    if owner is None:
        return in_scope(entry, patterns)
    return orphans_of is not None and owner == orphans_of


def not_taken_over(
    managed: list[Any], adopting: list[str], declared: list[str], held: Optional[Held]
) -> Callable[[Entry], bool]:
    """A test for entries that no resource of this run manages or is about to take over.

    ``managed`` may hold unknowns (a preview's ids still to be created): they match nothing.
    ``adopting`` names existing webhooks the run takes over all the same, and so do the
    twins' digests of the declarations (``declared``) that the stack does not hold (``held``;
    ``None``, a record from before it was kept: none is known to be held).
    """
    ids = {item for item in managed if isinstance(item, str)} | set(adopting)
    twins = {twin for twin in declared if held is None or twin not in held}
    return lambda entry: entry["id"] not in ids and entry.get("twin") not in twins


def held_by(plan: dict[str, Any]) -> Optional[Held]:
    """The declarations whose webhook the plan knows, by twin digest: ``declared`` (the
    digests) and ``managed`` (the ids, in the same order); ``None`` when they do not pair."""
    declared, managed = plan.get("declared"), plan.get("managed")
    if not isinstance(declared, list) or not isinstance(managed, list):
        return None
    if len(declared) != len(managed):
        return None
    pairs = zip(declared, managed, strict=True)
    return {twin: id_ for twin, id_ in pairs if isinstance(twin, str) and isinstance(id_, str)}


def still_ours(listing: Listing, mine: Optional[str]) -> set[str]:
    """The ids of the listed webhooks that a read leaves this stack's: all but those another
    owner marks (the webhooks' own reads release those)."""
    owners = [(live.id, live.state.owner) for live in listing.webhooks]
    owners += [(hook.id, hook.owner) for hook in listing.unmanageable]
    return {id_ for id_, owner in owners if not is_foreign(owner, mine)}


def still_held(held: Optional[Held], ours: set[str]) -> Optional[Held]:
    """What a refresh leaves held: the webhooks still on the shop and still ``ours`` (the
    webhooks' own reads drop the rest, and their declarations will create)."""
    if held is None:
        return None
    return {twin: id_ for twin, id_ in held.items() if id_ in ours}


def _over_limit(count: int, limit: int) -> str:
    return (
        f"{count} unmanaged webhooks are in scope for pruning, more than pruneLimit ({limit}); "
        "nothing was deleted. Narrow pruneTargets, or raise shoprenter-webhooks:pruneLimit "
        "after reviewing the preview"
    )


class WebhookInventory(dynamic.Resource, module="shoprenter", name="WebhookInventory"):
    """The shop's webhooks outside this stack (refreshed on ``refresh``), pruned in scope."""

    unmanaged: pulumi.Output[Optional[list[dict[str, Any]]]]
    prunable: pulumi.Output[list[dict[str, Any]]]
    held: pulumi.Output[Optional[Held]]

    def __init__(
        self,
        resource_name: str,
        *,
        managed: pulumi.Input[list[str]],
        owner: str,
        mode: str = "report",
        adopting: Optional[list[str]] = None,
        declared: Optional[list[str]] = None,
        prune_targets: Optional[list[str]] = None,
        prune_limit: int = DEFAULT_PRUNE_LIMIT,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        """Declare the inventory; ``managed`` should be the ids of every ``Webhook``, in the
        order of ``declared`` (each declaration's twin digest)."""
        props = {
            "mode": mode,
            "owner": owner,
            "managed": managed,
            "adopting": adopting or [],
            "declared": declared or [],
            "pruneTargets": prune_targets or [],
            "pruneLimit": prune_limit,
            "unmanaged": None,
            "prunable": None,
            "held": None,
        }
        before_registration()
        super().__init__(InventoryProvider(), resource_name, props, opts)

"""Whatever people do in the admin between runs, ``up`` leaves each declaration on the shop
exactly once, as declared, and touches nothing it does not own.

A Hypothesis state machine drives the providers against the simulator over HTTP, in the
order the engine calls them (a refresh reads every resource, then the inventory; an ``up``
checks, then creates or diffs and updates, the inventory last), each command in a provider
configured anew. Between commands it does what people and other tools do in the admin:
rename (the marker may go with the old text), erase only the marker (the declared text left),
disable, delete, edit a target, add an unmarked twin of ours, add an unrelated webhook in or
out of the prune scope, and re-mark one as another owner's, alone or while someone edits
another webhook before the same run.

After every ``up`` that knew the shop as it is (refreshed, with no edit since): each
declaration is on the shop exactly once with this owner's marker and as declared (or the
``up`` refused it, naming the other owner whose twin holds it), and a refusal wrote nothing
in that run. After every ``up``: no webhook another owner marks was changed or deleted;
nothing unmarked outside the prune scope was deleted; a webhook the stack held is still its
own unless another owner marks it; an unchanged second ``up`` makes no call at all.

Profiles: ``ci`` (the default, for ``make test``) and ``long`` (by hand:
``HYPOTHESIS_PROFILE=long pytest tests/test_stateful.py``).
"""

from __future__ import annotations

import os
from typing import Any, Optional

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from pulumi.dynamic import Config, ConfigureRequest

from provider import WebhookProvider
from provider.core.errors import NotFound, OwnedElsewhere
from provider.core.model import WebhookState
from provider.core.ownership import mark, split
from provider.inventory import INVENTORY_ID, InventoryProvider
from sandbox.simulator import Simulator
from sandbox.simulator.control import SimulatorControl
from tests.helpers import simulator_config

OWNER = "agency/prod"
OTHER = "other/team"
SCOPE = "*.ours.example"
DECLARED: dict[str, dict[str, Any]] = {
    name: {
        "event": event,
        "label": name,
        "enabled": True,
        "targets": [{"url": f"https://hooks.ours.example/{name}", "format": "json"}],
        "delay": None,
        "adoptId": None,
        "owner": OWNER,
    }
    for name, event in (
        ("erp", "order_confirm"),
        ("feed", "order_status_change"),
        ("crm", "newsletter_subscribe"),
    )
}
# What a person does to one webhook in the admin (a path: its target edited so).
EDITS = ["disable", "delete", "erase-marker", "re-mark", "/typo", "/v2"]
LABELS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)

for profile, (examples, steps) in {"ci": (25, 16), "long": (300, 40)}.items():
    settings.register_profile(
        profile,
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


class Stack:
    """One stack's state, driven through the providers in the engine's order."""

    def __init__(self, sim: SimulatorControl) -> None:
        self.sim = sim
        self.resources: dict[str, dict[str, Any]] = {}  # name -> {"id", "outputs"}
        self.inventory: Optional[dict[str, Any]] = None  # {"inputs", "outputs"}

    def _command(self) -> tuple[WebhookProvider, InventoryProvider]:
        """Providers configured for one new engine command (one Configure, shared)."""
        request = ConfigureRequest(Config(simulator_config(self.sim), "shoprenter-webhooks"))
        webhooks, inventory = WebhookProvider(), InventoryProvider()
        webhooks.configure(request)
        inventory.configure(request)
        return webhooks, inventory

    def refresh(self) -> None:
        webhooks, inventory = self._command()
        for name, resource in list(self.resources.items()):
            read = webhooks.read(resource["id"], resource["outputs"])
            if not read.id:
                del self.resources[name]
            else:
                resource["outputs"] = read.outs
        if self.inventory is not None:
            read = inventory.read(INVENTORY_ID, self.inventory["outputs"])
            self.inventory = {"inputs": read.inputs, "outputs": read.outs}

    def up(self) -> dict[str, str]:
        """As the engine runs ``up``: a preview (every check, before any write; a failed one
        stops it all), then every declaration and the inventory (which waits on every
        webhook: a failed one stops it). The errors met, by resource name."""
        refused = self._preview()
        if refused:
            return {"shop-webhooks": refused}
        webhooks, inventory = self._command()
        errors: dict[str, str] = {}
        for name, declared in DECLARED.items():
            checked = webhooks.check({}, declared)
            assert checked.failures == []
            resource = self.resources.get(name)
            try:
                if resource is None:
                    made = webhooks.create(checked.inputs)
                    self.resources[name] = {"id": made.id, "outputs": made.outs}
                elif webhooks.diff(resource["id"], resource["outputs"], checked.inputs).changes:
                    updated = webhooks.update(resource["id"], resource["outputs"], checked.inputs)
                    resource["outputs"] = updated.outs
            except (OwnedElsewhere, NotFound) as refused_here:  # refused, or "refresh first"
                errors[name] = str(refused_here)
        if not errors:
            self._up_inventory(inventory)
        return errors

    def _plan(self) -> dict[str, Any]:
        """The inventory's inputs as the program declares them (an id still to be made:
        ``None``, as a preview sees it)."""
        held = [self.resources.get(name, {}).get("id") for name in DECLARED]
        return {
            "mode": "prune",
            "owner": OWNER,
            "managed": held,
            "adopting": [],
            "declared": [WebhookState.model_validate(d).twin_key() for d in DECLARED.values()],
            "pruneTargets": [SCOPE],
            "pruneLimit": 50,
        }

    def _preview(self) -> str:
        """The inventory's check in a preview of its own: why it refuses, or nothing."""
        _webhooks, inventory = self._command()
        olds = self.inventory["inputs"] if self.inventory else {}
        return "; ".join(failure.reason for failure in inventory.check(olds, self._plan()).failures)

    def _up_inventory(self, inventory: InventoryProvider) -> None:
        olds = self.inventory["inputs"] if self.inventory else {}
        checked = inventory.check(olds, self._plan())
        assert checked.failures == [], checked.failures
        if self.inventory is None:
            made = inventory.create(checked.inputs)
            self.inventory = {"inputs": checked.inputs, "outputs": made.outs}
        elif inventory.diff(INVENTORY_ID, self.inventory["outputs"], checked.inputs).changes:
            updated = inventory.update(INVENTORY_ID, self.inventory["outputs"], checked.inputs)
            self.inventory = {"inputs": checked.inputs, "outputs": updated.outs}
        else:
            self.inventory = {"inputs": checked.inputs, "outputs": self.inventory["outputs"]}


class PeopleAndStacks(RuleBasedStateMachine):
    """Admin edits between refreshes and ``up``s; the invariants after every ``up``."""

    simulator: Simulator

    @initialize()
    def fresh_shop(self) -> None:
        self.sim = SimulatorControl(self.simulator.url)
        self.sim.reset(rateLimit=None)
        self.stack = Stack(self.sim)
        assert self.stack.up() == {}
        self.edited_since_refresh = False

    # -- what people do in the admin --------------------------------------------------------

    def _hooks(self) -> list[dict[str, Any]]:
        return sorted(self.sim.webhooks(), key=lambda hook: hook["id"])

    def _edit(self, hook: dict[str, Any], **changes: Any) -> None:
        self.sim.edit_webhook(hook["id"], **changes)
        self.edited_since_refresh = True

    def _drift(self, hook: dict[str, Any], kind: str) -> None:
        """One person's edit of one webhook."""
        text = split(hook["label"])[0]
        if kind == "disable":
            self._edit(hook, status="0")
        elif kind == "delete":
            self.sim.delete_webhook(hook["id"])
            self.edited_since_refresh = True
        elif kind == "erase-marker":  # only the bracket deleted: the declared text is left
            self._edit(hook, label=text)
        elif kind == "re-mark":
            self._edit(hook, label=mark(text, OTHER))
        else:
            parameters = [{**p, "url": p["url"] + kind} for p in hook["webHookParameters"]]
            self._edit(hook, webHookParameters=parameters)

    @precondition(lambda self: bool(self.sim.webhooks()))
    @rule(data=st.data(), text=LABELS, keep_marker=st.booleans())
    def rename(self, data: st.DataObject, text: str, keep_marker: bool) -> None:
        hook = data.draw(st.sampled_from(self._hooks()))
        self._edit(hook, label=mark(text, split(hook["label"])[1] if keep_marker else None))

    @precondition(lambda self: bool(self.sim.webhooks()))
    @rule(data=st.data(), kind=st.sampled_from(EDITS))
    def edit(self, data: st.DataObject, kind: str) -> None:
        self._drift(data.draw(st.sampled_from(self._hooks())), kind)

    @precondition(lambda self: len(self.sim.webhooks()) > 1)
    @rule(data=st.data(), kind=st.sampled_from(EDITS))
    def re_mark_beside_other_drift(self, data: st.DataObject, kind: str) -> None:
        """Another owner takes one webhook while someone edits another, before one run."""
        pair = st.lists(
            st.sampled_from(self._hooks()), min_size=2, max_size=2, unique_by=lambda h: h["id"]
        )
        taken, edited = data.draw(pair)
        self._drift(taken, "re-mark")
        self._drift(edited, kind)

    @rule(name=st.sampled_from(sorted(DECLARED)))
    def add_twin_of_ours(self, name: str) -> None:
        twin = WebhookState.model_validate({**DECLARED[name], "owner": None})
        self.sim.add_webhook(twin.to_api_body())
        self.edited_since_refresh = True

    @rule(host=st.sampled_from(["x.ours.example", "elsewhere.example"]), n=st.integers(0, 9))
    def add_unrelated(self, host: str, n: int) -> None:
        body = {
            "event": "order_confirm",
            "status": "1",
            "label": f"by hand {n}",
            "webHookParameters": [{"type": "json", "url": f"https://{host}/{n}"}],
        }
        self.sim.add_webhook(body)
        self.edited_since_refresh = True

    # -- what the stack does ----------------------------------------------------------------

    @rule()
    def refresh(self) -> None:
        self.stack.refresh()
        self.edited_since_refresh = False

    @rule(refresh_first=st.booleans())
    def up(self, refresh_first: bool) -> None:
        before = {hook["id"]: hook for hook in self.sim.webhooks()}
        held = {resource["id"] for resource in self.stack.resources.values()}
        if refresh_first:
            self.refresh()
        refreshed = not self.edited_since_refresh  # the plan knows the shop as it is
        errors = self.stack.up()
        after = {hook["id"]: hook for hook in self.sim.webhooks()}
        if "shop-webhooks" in errors:  # the preview refused: nothing may have changed
            assert OTHER in errors["shop-webhooks"], errors
            assert after == before, "a refused preview wrote to the shop"
            return
        if errors and refreshed:  # a refusal the refreshed preview missed
            assert after == before, f"refused after writing: {errors}"
        self._others_untouched(before, after)
        self._none_of_ours_let_go(held, after)
        if refreshed:
            self._each_declaration_once(after, errors)
        if not errors:
            start = len(self.sim.requests())
            assert self.stack.up() == {}
            assert self.sim.requests()[start:] == [], "an unchanged up made calls"

    # -- invariants ---------------------------------------------------------------------------

    def _others_untouched(
        self, before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
    ) -> None:
        for hook_id, hook in before.items():
            owner = split(hook["label"])[1]
            if owner not in (None, OWNER):
                assert after.get(hook_id) == hook, f"another owner's webhook changed: {hook}"
            hosts = {p["url"].split("/")[2] for p in hook["webHookParameters"]}
            if owner is None and not all(host.endswith(".ours.example") for host in hosts):
                assert hook_id in after, f"an unmarked webhook out of scope was deleted: {hook}"

    def _none_of_ours_let_go(self, held: set[str], after: dict[str, dict[str, Any]]) -> None:
        """A webhook the stack held is still its own unless another owner's marker says not:
        a person's edit is drift, never a reason to let go of it (and make a second one)."""
        kept = {resource["id"] for resource in self.stack.resources.values()}
        for hook_id in held & set(after):
            if split(after[hook_id]["label"])[1] in (None, OWNER):
                assert hook_id in kept, f"let go of its own webhook: {after[hook_id]}"

    def _each_declaration_once(
        self, after: dict[str, dict[str, Any]], errors: dict[str, str]
    ) -> None:
        for name, declared in DECLARED.items():
            want = WebhookState.model_validate(declared)
            ours = [
                hook_id
                for hook_id, hook in after.items()
                if split(hook["label"]) == (want.label, OWNER) and hook["event"] == want.event
            ]
            if name in errors:  # after a refresh only another owner's twin may stop it
                assert OTHER in errors[name] and ours == [], errors[name]
                twins = [h for h in after.values() if split(h["label"]) == (want.label, OTHER)]
                assert twins, f"{name} was refused, but no twin of another owner holds it"
                continue
            assert ours == [self.stack.resources[name]["id"]], f"{name} on the shop: {ours}"
            live = self.sim.webhooks()
            [hook] = [h for h in live if h["id"] == ours[0]]
            assert hook["status"] == "1"
            assert [p["url"] for p in hook["webHookParameters"]] == [
                t["url"] for t in declared["targets"]
            ]

    @invariant()
    def state_ids_are_distinct(self) -> None:
        ids = [resource["id"] for resource in self.stack.resources.values()]
        assert len(ids) == len(set(ids)), "two resources share one webhook"


def test_people_and_stacks(simulator: Simulator) -> None:
    PeopleAndStacks.simulator = simulator
    PeopleAndStacks.TestCase.settings = PROFILE
    machine_test = PeopleAndStacks.TestCase("runTest")
    machine_test.runTest()

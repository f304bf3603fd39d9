"""One shop, several owners, through the real CLI: no stack touches a webhook it does not own.

Two stacks of this project (``a`` and ``b``) and one stack of a second project (``marketing``)
share one simulated shop; each marks what it manages with its owner in the label.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sandbox.local_engine import LocalStack, PulumiError
from sandbox.simulator.control import SimulatorControl
from tests.helpers import FAST, CallsSince, api_body, summary, up_with

pytestmark = pytest.mark.engine

PROJECT = "shoprenter-webhooks"
OURS = {"name": "ours", "event": "order_confirm", "url": "https://erp.ours.example/hook"}
CRM = {"name": "b-crm", "event": "order_confirm", "url": "https://crm.ours.example/hook"}
SHARED = {"name": "shared", "event": "order_confirm", "url": "https://hub.example.com/x"}


def labels(sim: SimulatorControl) -> list[str]:
    return sorted(hook["label"] for hook in sim.webhooks())


@pytest.fixture
def other(tmp_path: Path, pulumi_path: Path, sim: SimulatorControl) -> LocalStack:
    """Stack ``b`` of the same project, on the same shop (its own state)."""
    stack = LocalStack(tmp_path / "b", pulumi_path, stack="b")
    stack.create(sim.connection(requestsPerSecond=str(FAST)))
    return stack


@pytest.fixture
def marketing(tmp_path: Path, pulumi_path: Path, sim: SimulatorControl) -> LocalStack:
    """A second project of the same program on the same shop."""
    stack = LocalStack(tmp_path / "m", pulumi_path, stack="prod", project_name="marketing")
    stack.create(sim.connection(requestsPerSecond=str(FAST)))
    return stack


def prune_in(stack: LocalStack, *patterns: str) -> None:
    stack.set_config(f"{stack.namespace}:unmanaged", "prune")
    stack.set_config(f"{stack.namespace}:pruneTargets", list(patterns))


def test_every_webhook_carries_its_owner_and_outputs_the_declared_label(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    calls = CallsSince(sim)
    up_with(stack, [OURS, SHARED])
    assert labels(sim) == [f"ours [pulumi:{PROJECT}/test]", f"shared [pulumi:{PROJECT}/test]"]
    lists = [c for c in calls.all() if c["method"] == "GET"]
    assert len(lists) == 1 and calls.writes() == {"POST": 2}  # ownership costs no call
    exported = json.loads(stack.pulumi("stack", "export").stdout)
    hooks = [r for r in exported["deployment"]["resources"] if r["type"].endswith(":Webhook")]
    assert {r["outputs"]["label"] for r in hooks} == {"ours", "shared"}
    calls = CallsSince(sim)
    stack.pulumi("preview", "--refresh", "--expect-no-changes")
    assert calls.writes() == {}


def test_prune_never_deletes_another_projects_webhook(
    stack: LocalStack, marketing: LocalStack, sim: SimulatorControl
) -> None:
    up_with(marketing, [CRM])
    prune_in(stack, "*.ours.example")
    up_with(stack, [OURS])
    sim.add_webhook(api_body(label="stale", url="https://old.ours.example/x"))  # nobody's
    preview = stack.pulumi("preview", "--refresh")
    assert "will delete 1 unmanaged webhooks: 'stale'" in preview.stdout
    assert "'b-crm' (order_confirm -> crm.ours.example; another stack: marketing/prod)" in (
        preview.stdout
    )
    calls = CallsSince(sim)
    stack.up("--refresh")
    assert calls.writes() == {"DELETE": 1}
    assert "b-crm [pulumi:marketing/prod]" in labels(sim)
    marketing.pulumi("preview", "--refresh", "--expect-no-changes")
    unmanaged = stack.outputs()["unmanaged"]
    assert [(e["label"], e["owner"]) for e in unmanaged] == [("b-crm", "marketing/prod")]


def test_an_identical_declaration_never_takes_over_another_stacks_webhook(
    stack: LocalStack, other: LocalStack, sim: SimulatorControl
) -> None:
    up_with(stack, [SHARED])
    up_with(other, [CRM])
    other.declare([CRM, SHARED])
    other.pulumi("refresh", "--yes")
    with pytest.raises(PulumiError) as at_preview:
        other.pulumi("preview")
    message = at_preview.value.output
    assert f"is managed by another stack, {PROJECT}/test" in message
    assert "'shared'" in message and "takeOverFrom" in message
    calls = CallsSince(sim)
    with pytest.raises(PulumiError) as at_up:
        other.up("--skip-preview")  # the provider's own guard, whatever the preview said
    assert "is managed by another stack" in at_up.value.output
    other.pulumi("destroy", "--yes")
    assert calls.writes() == {"DELETE": 1}  # its own b-crm
    assert labels(sim) == [f"shared [pulumi:{PROJECT}/test]"]
    stack.pulumi("preview", "--refresh", "--expect-no-changes")


def test_take_over_from_moves_a_webhook_with_one_put_and_the_old_stack_lets_it_go(
    stack: LocalStack, other: LocalStack, sim: SimulatorControl
) -> None:
    up_with(stack, [SHARED, OURS])
    other.set_config(f"{PROJECT}:takeOverFrom", [f"{PROJECT}/test"])
    calls = CallsSince(sim)
    up_with(other, [SHARED])
    assert calls.writes() == {"PUT": 1}
    assert f"shared [pulumi:{PROJECT}/b]" in labels(sim)

    calls = CallsSince(sim)
    refresh = stack.pulumi("refresh", "--yes")
    assert f"is released from this stack: its marker says another stack: {PROJECT}/b" in (
        refresh.stdout + refresh.stderr
    )
    up_with(stack, [OURS])  # and the old stack drops the entry: nothing is deleted
    stack.pulumi("destroy", "--yes")
    assert calls.writes() == {"DELETE": 1}  # its own "ours", at destroy
    assert labels(sim) == [f"shared [pulumi:{PROJECT}/b]"]


def test_an_orphan_of_this_owner_is_adopted_not_duplicated_and_pruned_when_undeclared(
    stack: LocalStack, tmp_path: Path, pulumi_path: Path, sim: SimulatorControl
) -> None:
    extra = {"name": "extra", "event": "order_confirm", "url": "https://x.ours.example/x"}
    up_with(stack, [OURS, SHARED, extra])
    # The state is lost: a new stack with the same owner, which declares two of the three.
    again = LocalStack(tmp_path / "again", pulumi_path, stack="again")
    again.create(sim.connection(requestsPerSecond=str(FAST)))
    again.set_config(f"{PROJECT}:owner", f"{PROJECT}/test")
    prune_in(again, "*.nowhere.example")  # the orphan is outside the scope: pruned anyway
    calls = CallsSince(sim)
    up_with(again, [OURS, SHARED])
    assert calls.writes() == {}  # both taken over as they are: marked already
    preview = again.pulumi("preview", "--refresh")
    assert (
        f"will delete 1 unmanaged webhooks: 'extra' (order_confirm -> x.ours.example; "
        f"this stack's ({PROJECT}/test), not in its state)" in preview.stdout
    )
    again.up("--refresh")
    assert labels(sim) == [f"ours [pulumi:{PROJECT}/test]", f"shared [pulumi:{PROJECT}/test]"]


def test_a_webhook_whose_marker_was_edited_is_released_not_deleted(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    up_with(stack, [OURS, SHARED])
    ids = stack.outputs()["webhookIds"]
    sim.edit_webhook(ids["shared"], label="shared [pulumi:someone/else]")
    calls = CallsSince(sim)
    destroyed = stack.pulumi("destroy", "--yes")
    assert "was not deleted: its marker says another stack: someone/else" in (
        destroyed.stdout + destroyed.stderr
    )
    assert calls.writes() == {"DELETE": 1}
    assert labels(sim) == ["shared [pulumi:someone/else]"]


def test_a_label_edited_by_hand_keeps_its_owner_and_is_put_back(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    up_with(stack, [OURS])
    hook_id = stack.outputs()["webhookIds"]["ours"]
    sim.edit_webhook(hook_id, label=f"renamed in the admin [pulumi:{PROJECT}/test]")
    stack.pulumi("refresh", "--yes")
    calls = CallsSince(sim)
    stack.up()
    assert calls.writes() == {"PUT": 1}
    assert labels(sim) == [f"ours [pulumi:{PROJECT}/test]"]


STATUS_A = {"name": "status-a", "event": "order_status_change", "url": "https://a.ours.example/s"}
STATUS_B = {"name": "status-b", "event": "order_confirm", "url": "https://b.ours.example/o"}
STATUS_C = {"name": "status-c", "event": "abandoned_cart", "url": "https://c.ours.example/c"}


@pytest.mark.parametrize("beside", ["disabled", "deleted"])
@pytest.mark.parametrize("how", ["up --refresh", "refresh, then up"])
def test_a_re_mark_beside_other_drift_is_refused_at_the_preview_with_nothing_written(
    stack: LocalStack, sim: SimulatorControl, beside: str, how: str
) -> None:
    """Another owner re-marks A while B is disabled (or C deleted) in the admin: the refreshed
    preview refuses A, so B's PUT (or C's POST) never goes out."""
    up_with(stack, [STATUS_A, STATUS_B, STATUS_C])
    ids = stack.outputs()["webhookIds"]
    sim.edit_webhook(ids["status-a"], label="status-a [pulumi:other-team/prod]")
    if beside == "disabled":
        sim.edit_webhook(ids["status-b"], status="0")
    else:
        sim.delete_webhook(ids["status-c"])
    shop = sim.webhooks()
    preview = stack.pulumi("preview", "--refresh", check=False)
    assert preview.returncode != 0
    assert "managed by another stack, other-team/prod" in preview.stdout + preview.stderr
    calls = CallsSince(sim)
    if how == "refresh, then up":
        stack.pulumi("refresh", "--yes")
    with pytest.raises(PulumiError) as refused:
        stack.up(*(["--refresh"] if how == "up --refresh" else []))
    assert "managed by another stack, other-team/prod" in refused.value.output
    assert calls.writes() == {} and sim.webhooks() == shop


def test_a_marker_erased_back_to_the_declared_label_is_put_back(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    """Someone deletes only the bracket: the label is exactly the declared one."""
    up_with(stack, [STATUS_A])
    sim.edit_webhook(stack.outputs()["webhookIds"]["status-a"], label="status-a")
    preview = stack.pulumi("preview", "--refresh", "--diff")
    assert summary(preview.stdout)["to update"] == 1
    said = preview.stdout + preview.stderr
    assert "lost its owner marker" in said and "gains its owner marker" in said
    calls = CallsSince(sim)
    stack.up("--refresh")
    assert calls.writes() == {"PUT": 1}
    assert labels(sim) == [f"status-a [pulumi:{PROJECT}/test]"]
    calls = CallsSince(sim)
    stack.up("--refresh")
    assert calls.writes() == {}


def strip_owners(stack: LocalStack, sim: SimulatorControl) -> None:
    """Make the stack as an earlier version left it: no owner in its state, none on the shop."""
    exported = json.loads(stack.pulumi("stack", "export").stdout)
    for resource in exported["deployment"]["resources"]:
        for part in ("inputs", "outputs"):
            resource.get(part, {}).pop("owner", None)
    (stack.workdir / "old.json").write_text(json.dumps(exported), encoding="utf-8")
    stack.pulumi("stack", "import", "--file", str(stack.workdir / "old.json"))
    for hook in sim.webhooks():
        sim.edit_webhook(hook["id"], label=hook["label"].split(" [pulumi:")[0])


def test_a_stack_from_before_owners_gains_its_markers_with_one_put_each(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    up_with(stack, [OURS, SHARED])
    strip_owners(stack, sim)
    preview = stack.pulumi("preview", "--diff")
    assert summary(preview.stdout) == {"to update": 2, "unchanged": 2}
    said = preview.stdout + preview.stderr
    assert said.count("gains its owner marker") >= 2 and "one PUT of its label" in said
    calls = CallsSince(sim)
    stack.up()
    assert calls.writes() == {"PUT": 2}
    assert labels(sim) == [f"ours [pulumi:{PROJECT}/test]", f"shared [pulumi:{PROJECT}/test]"]
    stack.pulumi("preview", "--refresh", "--expect-no-changes")


@pytest.mark.parametrize("owner", ["two words", ""], ids=["spaces", "empty"])
def test_an_owner_that_is_no_name_fails_at_preview_naming_the_key(
    stack: LocalStack, sim: SimulatorControl, owner: Any
) -> None:
    stack.set_config(f"{PROJECT}:owner", owner)
    stack.declare([OURS])
    with pytest.raises(PulumiError) as caught:
        stack.pulumi("preview")
    assert "shoprenter-webhooks:owner" in caught.value.output
    assert sim.requests() == []

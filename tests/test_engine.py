"""End to end: the real ``pulumi`` CLI, this project's program and provider, the simulator."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.load import cpu_hog
from sandbox.local_engine import LocalStack, PulumiError
from sandbox.simulator.control import SimulatorControl
from sandbox.simulator.shop import DEFAULT_CLIENT_SECRET
from tests.helpers import CallsSince, api_body, labels, shop_state, summary, up_with

pytestmark = pytest.mark.engine

ERP = {
    "name": "erp-orders",
    "event": "order_confirm",
    "url": "https://erp.example.com/hooks/sr",
    "label": "ERP sync",
    "fields": ["order_innerId", "order_email"],
}
STATUS = {
    "name": "status-feed",
    "event": "order_status_change",
    "url": "https://crm.example.com/status",
    "delay": {"amount": 2, "unit": "hour"},
}
NEWSLETTER = {
    "name": "newsletter",
    "event": "newsletter_subscribe",
    "url": "https://crm.example.com/newsletter",
    "format": "xml",
}


def test_up_creates_exactly_the_declared_webhooks(stack: LocalStack, sim: SimulatorControl) -> None:
    calls = CallsSince(sim)
    up_with(stack, [ERP, STATUS, NEWSLETTER])
    shop = shop_state(sim)
    assert sorted(shop) == ["ERP sync", "newsletter", "status-feed"]
    assert shop["ERP sync"]["webHookParameters"] == [
        {"type": "json", "url": ERP["url"], "fields": ["order_email", "order_innerId"]}
    ]
    assert shop["status-feed"]["webHookDelay"] == [{"delay": "2", "delayUnit": "hour"}]
    assert shop["newsletter"]["webHookParameters"][0]["type"] == "xml"
    assert calls.writes() == {"POST": 3}
    outputs = stack.outputs()
    assert set(outputs["webhookIds"]) == {"erp-orders", "status-feed", "newsletter"}
    assert outputs["hrefs"]["erp-orders"].endswith(outputs["webhookIds"]["erp-orders"])


def test_preview_and_a_second_up_make_no_call(stack: LocalStack, sim: SimulatorControl) -> None:
    up_with(stack, [ERP, STATUS])
    calls = CallsSince(sim)
    stack.pulumi("preview", "--expect-no-changes")
    second = stack.up("--expect-no-changes")
    assert calls.all() == []
    assert "4 unchanged" in second.stdout  # the stack, two webhooks and the inventory


def test_edit_remove_and_add_each_touch_only_their_webhook(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    up_with(stack, [ERP, STATUS])
    ids = stack.outputs()["webhookIds"]

    calls = CallsSince(sim)
    up_with(stack, [{**ERP, "enabled": False}, STATUS])
    assert calls.writes() == {"PUT": 1}
    assert shop_state(sim)["ERP sync"]["status"] == "0"

    calls = CallsSince(sim)
    up_with(stack, [{**ERP, "enabled": False}])
    assert calls.writes() == {"DELETE": 1}
    assert sorted(shop_state(sim)) == ["ERP sync"]

    calls = CallsSince(sim)
    up_with(stack, [{**ERP, "enabled": False}, NEWSLETTER])
    assert calls.writes() == {"POST": 1}
    assert sorted(shop_state(sim)) == ["ERP sync", "newsletter"]
    assert stack.outputs()["webhookIds"]["erp-orders"] == ids["erp-orders"]


def test_previews_list_exactly_what_changes_on_the_shop(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    """One edited label is one update on every path, an unchanged stack none; the inventory
    resource, which changes nothing on the shop, never shows."""
    up_with(stack, [ERP, STATUS])
    sim.add_webhook(api_body(label="made by hand", url="https://other.example.com"))
    stack.pulumi("refresh", "--yes")
    stack.declare([{**ERP, "label": "ERP sync 2"}, STATUS])
    for command in (["preview"], ["preview", "--refresh"]):
        assert summary(stack.pulumi(*command).stdout) == {"to update": 1, "unchanged": 3}
    calls = CallsSince(sim)
    assert summary(stack.up().stdout) == {"updated": 1, "unchanged": 3}
    assert calls.writes() == {"PUT": 1}
    for command in (["preview"], ["preview", "--refresh"]):
        assert summary(stack.pulumi(*command).stdout) == {"unchanged": 4}
    assert summary(stack.up().stdout) == {"unchanged": 4}


def test_refresh_with_the_program_shows_the_unmanaged_webhooks_as_they_are(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    """The README's answer to "what is unmanaged now?", with three webhooks made by hand."""
    up_with(stack, [ERP])
    for number in range(3):
        sim.add_webhook(api_body(label=f"hand {number}", url=f"https://h{number}.example.com"))
    stack.pulumi("refresh", "--run-program", "--yes")
    labels = sorted(entry["label"] for entry in stack.outputs()["unmanaged"])
    assert labels == ["hand 0", "hand 1", "hand 2"]


def test_renaming_with_an_alias_does_not_recreate(stack: LocalStack, sim: SimulatorControl) -> None:
    up_with(stack, [ERP])
    before = stack.outputs()["webhookIds"]["erp-orders"]
    calls = CallsSince(sim)
    up_with(stack, [{**ERP, "name": "erp", "aliases": ["erp-orders"]}])
    assert calls.writes() == {}
    assert stack.outputs()["webhookIds"] == {"erp": before}


def test_a_webhook_deleted_in_the_admin_is_dropped_on_refresh_and_made_again(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    up_with(stack, [ERP, STATUS])
    sim.delete_webhook(stack.outputs()["webhookIds"]["erp-orders"])
    refresh = stack.pulumi("refresh", "--yes")
    assert "deleted" in refresh.stdout
    calls = CallsSince(sim)
    stack.up()
    assert calls.writes() == {"POST": 1}
    assert sorted(shop_state(sim)) == ["ERP sync", "status-feed"]


def test_a_webhook_edited_in_the_admin_shows_as_drift_and_up_restores_it(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    up_with(stack, [ERP])
    hook_id = stack.outputs()["webhookIds"]["erp-orders"]
    sim.edit_webhook(hook_id, status="0")
    drift_check = stack.pulumi("preview", "--refresh", "--expect-no-changes", check=False)
    assert drift_check.returncode != 0  # the scheduled drift check of the README
    stack.pulumi("refresh", "--yes")
    preview = stack.pulumi("preview", "--diff", "--expect-no-changes", check=False)
    assert preview.returncode != 0
    assert "enabled: false => true" in preview.stdout
    calls = CallsSince(sim)
    stack.up()
    assert calls.writes() == {"PUT": 1}
    assert shop_state(sim)["ERP sync"]["status"] == "1"


def test_adopt_id_takes_over_a_hand_made_webhook(stack: LocalStack, sim: SimulatorControl) -> None:
    hand_made = sim.add_webhook(api_body(label="made by hand", url="https://old.example.com"))
    calls = CallsSince(sim)
    up_with(stack, [{**ERP, "adoptId": hand_made["id"]}])
    assert calls.writes() == {"PUT": 1}
    assert [hook["id"] for hook in sim.webhooks()] == [hand_made["id"]]
    assert shop_state(sim)["ERP sync"]["webHookParameters"][0]["url"] == ERP["url"]


def test_an_invalid_declaration_fails_preview_naming_entry_and_field(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    stack.declare([ERP, {**STATUS, "url": "http://crm.example.com/status", "colour": "red"}])
    with pytest.raises(PulumiError) as caught:
        stack.pulumi("preview")
    assert "webhooks[1] (status-feed): url: the delivery URL must use https" in caught.value.output
    assert "webhooks[1] (status-feed): colour: unknown key" in caught.value.output
    assert sim.requests() == []


def test_wrong_credentials_fail_clearly_and_change_nothing(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    stack.pulumi("config", "set", "--secret", "shoprenter:clientSecret", "not-the-secret")
    stack.declare([ERP])
    with pytest.raises(PulumiError) as caught:
        stack.up()
    assert "rejected the credentials" in caught.value.output
    assert "shoprenter:clientSecret" in caught.value.output
    assert "not-the-secret" not in caught.value.output
    assert sim.webhooks() == []


def test_destroy_removes_what_the_stack_made_and_nothing_else(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    sim.add_webhook(api_body(label="made by hand", url="https://other.example.com"))
    up_with(stack, [ERP, STATUS])
    stack.pulumi("destroy", "--yes")
    assert sorted(shop_state(sim)) == ["made by hand"]


def test_the_state_holds_no_credential_in_plain_text(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    up_with(stack, [ERP])
    exported = stack.pulumi("stack", "export").stdout
    assert DEFAULT_CLIENT_SECRET not in exported
    state_files = list((stack.workdir / "state").rglob("*.json"))
    assert state_files, "the file backend wrote no state file to look into"
    assert all(DEFAULT_CLIENT_SECRET not in path.read_text() for path in state_files)
    assert json.loads(exported)["deployment"]["resources"]
    [memo] = Path(stack.environment["XDG_CACHE_HOME"]).rglob("*.json")  # the program's
    assert "erp.example.com" in memo.read_text() and DEFAULT_CLIENT_SECRET not in memo.read_text()


def test_a_secret_delivery_url_stays_secret_in_state_and_preview(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    secret_url = "https://erp.example.com/hooks/sr?key=very-secret-key"
    stack.declare([{**ERP, "url": "https://placeholder.example.com"}])
    stack.pulumi("config", "set", "--secret", "--path", "webhooks[0].url", secret_url)
    result = stack.up()
    assert shop_state(sim)["ERP sync"]["webHookParameters"][0]["url"] == secret_url
    assert "very-secret-key" not in result.stdout + result.stderr
    assert "very-secret-key" not in stack.pulumi("stack", "export").stdout
    memo = Path(stack.environment["XDG_CACHE_HOME"])
    assert not list(memo.rglob("*.json")), "secret declarations kept in the program's memo"


def test_a_secret_url_of_a_shops_override_stays_secret(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    """The shared file declares the webhook; the shop's stack overrides its url with a
    secret: written to the shop, never shown, never kept in the state or the memo."""
    secret_url = "https://erp.example.com/hooks/sr?key=very-secret-key"
    (stack.project / "webhooks.yaml").write_text(
        yaml.safe_dump({"webhooks": [{**ERP, "url": "https://placeholder.example.com"}]}),
        encoding="utf-8",
    )
    stack.declare(None)
    stack.set_config("shoprenter-webhooks:webhooksFile", "webhooks.yaml")
    key = f"overrides.{ERP['name']}.url"
    stack.pulumi("config", "set", "--secret", "--path", key, secret_url)
    said = [stack.pulumi("preview", "--diff").stdout, stack.up().stdout]
    assert shop_state(sim)["ERP sync"]["webHookParameters"][0]["url"] == secret_url
    assert all("very-secret-key" not in text for text in said)
    assert "very-secret-key" not in stack.pulumi("stack", "export").stdout
    assert not list(Path(stack.environment["XDG_CACHE_HOME"]).rglob("*.json"))


def test_a_secret_url_stays_secret_on_every_path(stack: LocalStack, sim: SimulatorControl) -> None:
    """``preview --diff`` of an edit, a failed create's error, a refresh's warnings (a label
    that lost its marker, an unmanaged twin): never the secret."""
    secret_url = "https://erp.example.com/hooks/sr?key=very-secret-key"
    stack.declare([{**ERP, "url": "https://placeholder.example.com"}])
    stack.pulumi("config", "set", "--secret", "--path", "webhooks[0].url", secret_url)
    sim.fault("POST", "/webHooks", status=400)
    with pytest.raises(PulumiError) as failed:
        stack.up()
    said = [failed.value.output]
    assert "create webhook ERP sync failed (HTTP 400 Bad Request)" in said[0]
    stack.up()
    hook_id = stack.outputs()["webhookIds"]["erp-orders"]
    sim.edit_webhook(hook_id, label="renamed in the admin")
    sim.add_webhook(api_body(label="ERP sync", url=secret_url))  # a twin, made by hand
    stack.pulumi("config", "set", "--path", "webhooks[0].enabled", "false")
    for command in (("preview", "--diff", "--refresh"), ("refresh", "--yes"), ("up", "--yes")):
        done = stack.pulumi(*command)
        said.append(done.stdout + done.stderr)
    assert "lost its owner marker" in said[2]
    assert all("very-secret-key" not in text for text in said)
    assert "very-secret-key" not in stack.pulumi("stack", "export").stdout


def test_a_bad_entry_beside_valid_edits_changes_nothing_even_without_a_preview(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    up_with(stack, [ERP, STATUS])
    stack.declare([{**ERP, "enabled": False}, {**STATUS, "url": "http://crm.example.com/s"}])
    calls = CallsSince(sim)
    with pytest.raises(PulumiError) as caught:
        stack.up("--skip-preview")
    assert "webhooks[1] (status-feed): url: the delivery URL must use https" in caught.value.output
    assert calls.all() == []


def test_a_run_killed_after_a_create_leaves_no_duplicate(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    stack.declare([ERP, STATUS])
    # The shop creates the first webhook, then takes 30 s to answer: the run dies before that.
    sim.fault("POST", "/webHooks", mode="delay", seconds=30)
    run = stack.start("up", "--yes")
    deadline = time.monotonic() + 60
    while not sim.api_calls("POST") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(sim.webhooks()) >= 1, "the first create never reached the shop"
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=30)
    for leftover in stack.processes():  # what the engine started dies with it here
        os.kill(leftover, signal.SIGKILL)

    stack.recover()
    assert sorted(shop_state(sim)) == ["ERP sync", "status-feed"]
    assert len(sim.webhooks()) == 2


def test_nothing_runs_or_writes_after_the_cli_is_killed(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    """An up of 20 at the shop's own pace, its CLI killed once 4 are made (a lost CI runner),
    every core busy (a runner shared with builds): no call but the one on the wire reaches the
    shop after the engine died, no process of the run lives 10 s on, and the README's
    recovery ends with exactly the declared set. (``make stress`` does this many times per
    plugin set, with other engine runs beside.)"""
    hooks = [
        {"name": f"hook-{n:02}", "event": "order_confirm", "url": f"https://h.example.com/{n}"}
        for n in range(20)
    ]
    stack.pulumi("config", "set", "shoprenter:requestsPerSecond", "3")
    stack.declare(hooks)
    with cpu_hog():
        run = stack.start("up", "--yes")
        deadline = time.monotonic() + 120
        while len(sim.webhooks()) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(run.pid, signal.SIGKILL)  # the CLI alone; its plugins are left to themselves
        killed_at = time.time()
        run.wait(timeout=30)
        # The engine is gone when the kernel has reaped it, not when the signal was sent: a
        # CLI in the middle of a system call (writing its checkpoint, say) dies when that call
        # returns, and until then its provider rightly goes on.
        died_at = time.time()
        deadline = time.monotonic() + 10
        while stack.processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        left = stack.processes()
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    # At most the call on the wire when the engine died (the pace lets one start every
    # 0.36 s); without the lifeline the creates left would follow.
    late = [call for call in sim.requests() if call["arrived"] > died_at]
    took = f"the CLI died {died_at - killed_at:.2f} s after the signal"
    assert len(late) <= 1, f"API calls reached the shop after the engine was gone ({took}): {late}"
    assert left == [], "processes of the run outlived the engine by 10 s"

    stack.set_config("shoprenter:requestsPerSecond", "1000")
    stack.recover()
    assert labels(sim) == [hook["name"] for hook in hooks]
    stack.pulumi("preview", "--expect-no-changes")


def test_a_provider_error_reaches_the_user_without_a_traceback(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    sim.fault("POST", "/webHooks", status=400, count=1)
    stack.declare([ERP])
    with pytest.raises(PulumiError) as caught:
        stack.up()
    assert (
        "create webhook ERP sync failed (HTTP 400 Bad Request): injected fault"
        in caught.value.output
    )
    assert "Traceback" not in caught.value.output


FAULTS = [{"status": status} for status in (429, 500, 502, 503, 504)] + [{"mode": "drop-before"}]


@pytest.mark.parametrize("fault", FAULTS, ids=lambda fault: str(fault.get("status", "drop")))
def test_one_up_survives_two_consecutive_faults_on_every_method(
    stack: LocalStack, sim: SimulatorControl, fault: dict[str, Any]
) -> None:
    hooks: list[dict[str, Any]] = [
        {"name": f"hook-{n}", "event": "order_confirm", "url": f"https://hooks.example.com/{n}"}
        for n in range(12)
    ]
    up_with(stack, hooks[:4])
    # hook-0, deleted in the admin, is confirmed gone by its own GET (the listing lacks it) and
    # made again (POST); one edit (PUT), two removals (DELETE), eight additions (POST).
    sim.delete_webhook(stack.outputs()["webhookIds"]["hook-0"])
    declared = [hooks[0], {**hooks[1], "label": "renamed"}, *hooks[4:]]
    faulted_routes = [
        ("GET", "/webHooks"),
        ("GET", "/webHooks/*"),
        ("POST", "/webHooks"),
        ("PUT", "/webHooks/*"),
        ("DELETE", "/webHooks/*"),
    ]
    for method, path in faulted_routes:
        sim.fault(method, path, count=2, **fault)
    sim.fault("POST", "/webHooks", mode="drop-after")  # and one POST whose answer is lost
    calls = CallsSince(sim)
    stack.declare(declared)
    stack.up("--refresh")
    met = Counter(
        (call["method"], "/webHooks" if call["path"].endswith("/webHooks") else "/webHooks/*")
        for call in calls.all()
        if "/webHooks" in call["path"] and call["status"] not in (200, 201, 204, 404)
    )
    assert all(met[route] >= 2 for route in faulted_routes), f"faults not all met: {met}"
    assert sorted(shop_state(sim)) == sorted(hook.get("label", hook["name"]) for hook in declared)
    assert len(sim.webhooks()) == 10
    stack.pulumi("preview", "--refresh", "--expect-no-changes")


def test_four_hundred_webhooks_in_one_up(stack: LocalStack, sim: SimulatorControl) -> None:
    hooks = [
        {"name": f"hook-{n:03}", "event": "order_confirm", "url": f"https://hooks.example.com/{n}"}
        for n in range(400)
    ]
    up_with(stack, hooks)  # before the pickler fix a program this size hit RecursionError
    assert len(sim.webhooks()) == 400
    calls = CallsSince(sim)
    stack.pulumi("preview", "--expect-no-changes")
    assert calls.all() == []


def test_a_run_killed_with_skipped_checkpoints_leaves_no_duplicate(
    tmp_path: Path, pulumi_path: Path, sim: SimulatorControl
) -> None:
    stack = LocalStack(
        tmp_path, pulumi_path, "skip", extra_environment={"PULUMI_SKIP_CHECKPOINTS": "true"}
    )
    stack.create(sim.connection(requestsPerSecond="1000"))
    stack.declare([ERP, STATUS, NEWSLETTER])
    sim.fault("POST", "/webHooks", mode="delay", seconds=30)  # the 1st create lands, then hangs
    calls = CallsSince(sim)
    run = stack.start("up", "--yes")
    deadline = time.monotonic() + 60
    while len(sim.webhooks()) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(run.pid, signal.SIGKILL)  # the state was never written: no record of the three
    run.wait(timeout=30)
    stack.recover()
    assert sorted(shop_state(sim)) == ["ERP sync", "newsletter", "status-feed"]
    assert calls.writes()["POST"] == 3  # each made once; the next up took them over

"""``python -m provider.fleet`` over a GitOps repository of three simulated shops, through the
Automation API and the real CLI: shared defaults in ``Pulumi.yaml``, one stack file per shop."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from provider.deliveries.dedupe import SqliteStore
from provider.fleet import LOCK_RETRY_SECONDS
from sandbox.gitops import ShopRepo
from sandbox.simulator.orders import shop_now
from sandbox.simulator.receiver import HandledOnce, Receiver
from tests.helpers import CallsSince, labels

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parent.parent
SHOPS = ("shop-a", "shop-b", "shop-c")
SHARED = [
    {"name": "erp", "event": "order_confirm", "url": "https://erp.example.com/sr"},
    {"name": "crm", "event": "newsletter_subscribe", "url": "https://crm.example.com/nl"},
]
EXTRA = {"name": "reviews", "event": "order_confirm", "url": "https://reviews.example.com/in"}


@pytest.fixture
def repo(tmp_path: Path, pulumi_path: Path) -> Iterator[ShopRepo]:
    """Three shops sharing the webhooks of Pulumi.yaml's defaults; shop-b adds one of its own."""
    shops = ShopRepo(tmp_path, pulumi_path, list(SHOPS), SHARED)
    shops.reset_shops(rateLimit=None)
    shops.write_webhooks("webhooks-b.yaml", [*SHARED, EXTRA])
    config = yaml.safe_load((shops.root / "Pulumi.shop-b.yaml").read_text())["config"]
    shops.set_stack_config(
        "shop-b", {**config, "shoprenter-webhooks:webhooksFile": "webhooks-b.yaml"}
    )
    try:
        yield shops
    finally:
        shops.close()


def by_stack(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {run["stack"]: run for run in runs}


def test_up_then_drift_over_every_shop(repo: ShopRepo) -> None:
    code, runs, output = repo.fleet("up", "--all", "--concurrency", "2")
    assert code == 0, output
    assert [run["stack"] for run in runs] == list(SHOPS)
    assert all(run["state"] == "ok" for run in runs)
    assert by_stack(runs)["shop-b"]["changes"]["create"] == 5  # 3 webhooks, inventory, stack
    assert labels(repo.shops["shop-a"]) == ["crm", "erp"]
    assert labels(repo.shops["shop-b"]) == ["crm", "erp", "reviews"]  # its own override

    code, runs, output = repo.fleet("drift", "--all")
    assert code == 0, output
    hook = repo.shops["shop-b"].webhooks()[0]
    repo.shops["shop-b"].edit_webhook(hook["id"], status="0")  # someone clicks in the admin
    code, runs, output = repo.fleet("drift", "--all")
    assert code == 2, output
    assert {run["stack"]: run["state"] for run in runs} == {
        "shop-a": "ok",
        "shop-b": "drifted",
        "shop-c": "ok",
    }


def test_a_stack_locked_by_a_live_run_is_waited_for(repo: ShopRepo) -> None:
    assert repo.fleet("up", "--stacks", "shop-a")[0] == 0
    # The live run holds its lock through the fleet's first two waits, well inside all of
    # them: a hold scaled by the machine's pace outlasted them once, on a loaded run.
    hold = sum(LOCK_RETRY_SECONDS[:2])
    repo.write_webhooks("webhooks.yaml", [*SHARED, EXTRA])
    repo.shops["shop-a"].fault("POST", "/webHooks", mode="delay", seconds=hold)
    running = repo.pulumi("up", "--yes", "--stack", "shop-a", background=True)
    deadline = time.monotonic() + 60
    while not repo.shops["shop-a"].api_calls("POST")[2:] and time.monotonic() < deadline:
        time.sleep(0.1)
    code, runs, output = repo.fleet("up", "--stacks", "shop-a")
    assert running.wait(timeout=120) == 0
    assert code == 0, output
    assert "locked by another run; tried again after 2 s" in runs[0]["steps"]  # then it ran
    assert labels(repo.shops["shop-a"]) == ["crm", "erp", "reviews"]


def test_recover_after_a_killed_run_clears_the_lock_only_when_its_holder_is_gone(
    repo: ShopRepo,
) -> None:
    assert repo.fleet("up", "--stacks", "shop-a")[0] == 0
    repo.write_webhooks("webhooks.yaml", [*SHARED, EXTRA])
    shop = repo.shops["shop-a"]
    shop.fault("POST", "/webHooks", mode="delay", seconds=30)
    killed = repo.pulumi("up", "--yes", "--stack", "shop-a", background=True)
    deadline = time.monotonic() + 60
    while len(shop.api_calls("POST")) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)

    code, runs, output = repo.fleet("recover", "--stacks", "shop-a")  # the holder is alive
    assert code == 1 and runs[0]["state"] == "locked", output
    assert "not forced" in runs[0]["message"]

    os.killpg(killed.pid, signal.SIGKILL)  # a CI runner lost mid-create
    killed.wait(timeout=30)
    code, runs, output = repo.fleet("recover", "--stacks", "shop-a")
    assert code == 0, output
    assert "removed the lock" in runs[0]["message"] and "that process is gone" in runs[0]["message"]
    assert labels(shop) == ["crm", "erp", "reviews"]  # the in-flight hook taken over, once
    exported = json.loads(repo.pulumi("stack", "export", "--stack", "shop-a").stdout)
    assert not exported["deployment"].get("pending_operations")
    assert repo.fleet("drift", "--stacks", "shop-a")[0] == 0


def test_a_secret_url_stays_out_of_the_fleets_report(repo: ShopRepo) -> None:
    secret_url = "https://erp.example.com/sr?key=very-secret-key"
    config = yaml.safe_load((repo.root / "Pulumi.shop-c.yaml").read_text())["config"]
    inline = {"shoprenter-webhooks:webhooksFile": "", "shoprenter-webhooks:webhooks": [SHARED[0]]}
    repo.set_stack_config("shop-c", {**config, **inline})
    key = "webhooks[0].url"
    repo.pulumi("stack", "init", "shop-c")
    repo.pulumi("config", "set", "--stack", "shop-c", "--secret", "--path", key, secret_url)
    repo.shops["shop-c"].fault("POST", "/webHooks", status=400)
    code, runs, output = repo.fleet("up", "--all")
    report = (repo.root / "report.json").read_text(encoding="utf-8")
    assert code == 1 and by_stack(runs)["shop-c"]["state"] == "failed", output
    assert "very-secret-key" not in report + output
    assert repo.fleet("up", "--stacks", "shop-c")[0] == 0
    [hook] = repo.shops["shop-c"].webhooks()
    assert hook["webHookParameters"][0]["url"] == secret_url


def test_recover_mends_a_checkpoint_whose_metadata_a_killed_run_cut_off(
    repo: ShopRepo, tmp_path: Path
) -> None:
    """A kill between the file backend's truncate and write of the checkpoint's sidecar
    (gocloud's fileblob writes ``<stack>.json.attrs`` so; the checkpoint itself atomically)
    leaves it empty: every command then fails with ``failed to load checkpoint: EOF``."""
    assert repo.fleet("up", "--stacks", "shop-a")[0] == 0
    [sidecar] = (tmp_path / "state" / ".pulumi" / "stacks").rglob("shop-a.json.attrs")
    sidecar.write_bytes(b"")  # what the kill leaves
    broken = repo.pulumi("stack", "output", "--stack", "shop-a", check=False)
    assert "failed to load checkpoint: EOF" in broken.stderr
    calls = CallsSince(repo.shops["shop-a"])
    code, runs, output = repo.fleet("recover", "--stacks", "shop-a")
    assert code == 0, output
    assert runs[0]["steps"][0].startswith("removed shop-a.json.attrs, cut off by a killed run")
    assert calls.writes() == {}
    assert repo.fleet("drift", "--stacks", "shop-a")[0] == 0


def test_a_shop_served_by_two_projects_keeps_each_projects_webhooks(
    repo: ShopRepo, tmp_path: Path, pulumi_path: Path
) -> None:
    """An agency's project and a marketing team's project on shop-a, each with its fleet."""
    newsletter = {"name": "nl", "event": "newsletter_subscribe", "url": "https://m.example.com/nl"}
    marketing = ShopRepo(
        tmp_path / "marketing",
        pulumi_path,
        ["shop-a"],
        [newsletter],
        project="marketing",
        sharing=repo,
    )
    try:
        assert repo.fleet("up", "--all")[0] == 0
        code, _runs, output = marketing.fleet("up", "--all")
        assert code == 0, output
        assert sorted(hook["label"] for hook in repo.shops["shop-a"].webhooks()) == [
            "crm [pulumi:shoprenter-webhooks/shop-a]",
            "erp [pulumi:shoprenter-webhooks/shop-a]",
            "nl [pulumi:marketing/shop-a]",
        ]
        assert repo.fleet("drift", "--all")[0] == 0
        assert marketing.fleet("drift", "--all")[0] == 0
    finally:
        marketing.close()


def test_shops_layer_their_own_declarations_over_the_shared_ones(
    tmp_path: Path, pulumi_path: Path
) -> None:
    """An agency's fleet: every shop gets webhooks.yaml; shop-b adds one in its own file and
    sends erp elsewhere; shop-c leaves crm out in its stack file. A later edit of the shared
    file reaches every shop; a clash fails only its shop's preview, naming both places."""
    repo = ShopRepo(tmp_path, pulumi_path, list(SHOPS), SHARED)
    try:
        repo.reset_shops(rateLimit=None)
        (repo.root / "shops").mkdir()
        layer = {"webhooks": [EXTRA], "overrides": {"erp": {"url": "https://erp-b.example.com/sr"}}}
        (repo.root / "shops" / "shop-b.yaml").write_text(yaml.safe_dump(layer), encoding="utf-8")
        add_stack_config(
            repo, "shop-b", {"shoprenter-webhooks:shopWebhooksFile": "shops/shop-b.yaml"}
        )
        add_stack_config(repo, "shop-c", {"shoprenter-webhooks:omit": ["crm"]})

        code, runs, output = repo.fleet("preview", "--all")
        assert code == 0, output
        creates = {stack: run["changes"]["create"] for stack, run in by_stack(runs).items()}
        assert creates == {"shop-a": 4, "shop-b": 5, "shop-c": 3}  # webhooks, inventory, stack
        assert repo.fleet("up", "--all")[0] == 0
        assert targets(repo, "shop-a") == {"crm": "crm.example.com", "erp": "erp.example.com"}
        assert targets(repo, "shop-b") == {
            "crm": "crm.example.com",
            "erp": "erp-b.example.com",
            "reviews": "reviews.example.com",
        }
        assert targets(repo, "shop-c") == {"erp": "erp.example.com"}

        status = {"name": "status", "event": "order_status_change", "url": "https://s.example.com"}
        repo.write_webhooks("webhooks.yaml", [*SHARED, status])
        code, runs, output = repo.fleet("up", "--all")
        assert code == 0, output
        assert all("status" in labels(shop) for shop in repo.shops.values())

        clash = {"shoprenter-webhooks:webhooks": [{**SHARED[0], "label": "mine"}]}
        add_stack_config(repo, "shop-a", clash)
        code, runs, output = repo.fleet("preview", "--all")
        states = {stack: run["state"] for stack, run in by_stack(runs).items()}
        assert code == 1 and states == {"shop-a": "failed", "shop-b": "ok", "shop-c": "ok"}
        assert (
            "webhooks[0] (erp): the name is declared already by webhooks.yaml: webhooks[0] (erp)"
        ) in by_stack(runs)["shop-a"]["message"]
    finally:
        repo.close()


def add_stack_config(repo: ShopRepo, stack: str, config: dict[str, Any]) -> None:
    """Keys added to a shop's stack file, beside its connection."""
    path = repo.root / f"Pulumi.{stack}.yaml"
    current = yaml.safe_load(path.read_text(encoding="utf-8"))["config"]
    repo.set_stack_config(stack, {**current, **config})


def targets(repo: ShopRepo, shop: str) -> dict[str, str]:
    """Each webhook's label (marker aside) and its target's host, on one shop."""
    return {
        hook["label"].split(" [pulumi:")[0]: hook["webHookParameters"][0]["url"].split("/")[2]
        for hook in repo.shops[shop].webhooks()
    }


def test_replay_over_every_shop_sends_what_each_missed(repo: ShopRepo, tmp_path: Path) -> None:
    handler = HandledOnce(SqliteStore(str(tmp_path / "deliveries.sqlite3")))
    with Receiver(on_delivery=handler) as receiver:
        erp = {"name": "erp", "event": "order_confirm", "url": f"{receiver.url}/order_confirm"}
        repo.write_webhooks("webhooks.yaml", [erp])
        repo.write_webhooks("webhooks-b.yaml", [erp])
        assert repo.fleet("up", "--all")[0] == 0
        an_hour_ago = shop_now() - timedelta(minutes=50)
        for number, shop in enumerate(repo.shops.values(), start=1):
            shop.take_down(receiver.url)  # the receiver is down for every shop's first order
            shop.place_order(number=number * 100, at=an_hour_ago.isoformat())
            shop.bring_up(receiver.url)
            shop.place_order(
                number=number * 100 + 1, at=(an_hour_ago + timedelta(minutes=1)).isoformat()
            )
        assert sorted(handler.handled) == [
            "order_confirm:101",
            "order_confirm:201",
            "order_confirm:301",
        ]
        code, runs, output = repo.fleet("replay", "--all", "--since", "1h")
    assert code == 0, output
    assert {run["stack"]: run["changes"]["sent"] for run in runs} == dict.fromkeys(SHOPS, 2)
    assert sorted(handler.handled) == [f"order_confirm:{n}" for n in (100, 101, 200, 201, 300, 301)]
    assert repo.fleet("up", "--all", "--since", "1h")[0] == 1  # --since goes with replay only

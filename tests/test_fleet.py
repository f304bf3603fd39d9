"""``python -m provider.fleet`` over a GitOps repository of three simulated shops, through the
Automation API and the real CLI: shared defaults in ``Pulumi.yaml``, one stack file per shop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.local_engine import engine_environment, scratch_project
from sandbox.simulator import Simulator
from sandbox.simulator.control import SimulatorControl
from sandbox.simulator.shop import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parent.parent
SHOPS = ("shop-a", "shop-b", "shop-c")
SHARED = [
    {"name": "erp", "event": "order_confirm", "url": "https://erp.example.com/sr"},
    {"name": "crm", "event": "newsletter_subscribe", "url": "https://crm.example.com/nl"},
]
EXTRA = {"name": "reviews", "event": "order_confirm", "url": "https://reviews.example.com/in"}


class Repo:
    """A GitOps repository: shared defaults in Pulumi.yaml, one Pulumi.<shop>.yaml per shop."""

    def __init__(self, root: Path, binary: Path, shops: dict[str, SimulatorControl]) -> None:
        self.root = scratch_project(root / "repo")
        self.shops = shops
        (root / "state").mkdir()
        self.environment = {
            **engine_environment(binary, root / "home", f"file://{root / 'state'}"),
            "SHOPRENTER_CLIENT_ID": DEFAULT_CLIENT_ID,  # one API client for every simulated shop
            "SHOPRENTER_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
            "PYTHONPATH": str(ROOT),
        }
        project = yaml.safe_load((self.root / "Pulumi.yaml").read_text())
        project["config"] = {  # the defaults every shop shares
            "shoprenter-webhooks:webhooksFile": "webhooks.yaml",
            "shoprenter:requestsPerSecond": "1000",
        }
        (self.root / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
        (self.root / "webhooks.yaml").write_text(yaml.safe_dump({"webhooks": SHARED}))
        (self.root / "webhooks-b.yaml").write_text(yaml.safe_dump({"webhooks": [*SHARED, EXTRA]}))
        for name, sim in shops.items():
            config: dict[str, Any] = {
                "shoprenter:apiUrl": sim.api_url,
                "shoprenter:tokenUrl": sim.token_url,
            }
            if name == "shop-b":  # a per-shop override of the shared default
                config["shoprenter-webhooks:webhooksFile"] = "webhooks-b.yaml"
            (self.root / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": config}))

    def fleet(self, *args: str) -> tuple[int, list[dict[str, Any]], str]:
        report = self.root / "report.json"
        done = subprocess.run(
            [sys.executable, "-m", "provider.fleet", *args, "--json", str(report)],
            cwd=self.root,
            env=self.environment,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        runs = json.loads(report.read_text()) if report.exists() else []
        return done.returncode, runs, done.stdout + done.stderr

    def pulumi(self, *args: str, background: bool = False) -> Any:
        command = [
            self.environment["PATH"].split(os.pathsep)[0] + "/pulumi",
            *args,
            "--non-interactive",
        ]
        if background:
            return subprocess.Popen(
                command,
                cwd=self.root,
                env=self.environment,
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        return subprocess.run(
            command, cwd=self.root, env=self.environment, capture_output=True, text=True, check=True
        )


@pytest.fixture
def repo(tmp_path: Path, pulumi_path: Path) -> Iterator[Repo]:
    simulators = [Simulator() for _ in SHOPS]
    for simulator in simulators:
        simulator.start()
    controls = {
        name: SimulatorControl(sim.url) for name, sim in zip(SHOPS, simulators, strict=True)
    }
    for control in controls.values():
        control.reset(rateLimit=None)
    try:
        yield Repo(tmp_path, pulumi_path, controls)
    finally:
        for simulator in simulators:
            simulator.stop()


def labels(sim: SimulatorControl) -> list[str]:
    return sorted(hook["label"] for hook in sim.webhooks())


def by_stack(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {run["stack"]: run for run in runs}


def test_up_then_drift_over_every_shop(repo: Repo) -> None:
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


def test_a_stack_locked_by_a_live_run_is_waited_for(repo: Repo) -> None:
    assert repo.fleet("up", "--stacks", "shop-a")[0] == 0
    (repo.root / "webhooks.yaml").write_text(yaml.safe_dump({"webhooks": [*SHARED, EXTRA]}))
    repo.shops["shop-a"].fault("POST", "/webHooks", mode="delay", seconds=4)
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
    repo: Repo,
) -> None:
    assert repo.fleet("up", "--stacks", "shop-a")[0] == 0
    (repo.root / "webhooks.yaml").write_text(yaml.safe_dump({"webhooks": [*SHARED, EXTRA]}))
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

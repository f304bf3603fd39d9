"""A GitOps repository of simulated shops, for the fleet's tests and benchmark.

Shared defaults live in ``Pulumi.yaml`` (the project-level ``config:`` block): the webhooks
file and the pace. A second repository of another project can serve some of the same shops
(``sharing=``), as an agency's ERP project and a marketing team's project share a shop.
Each shop has its own simulator on loopback and its own ``Pulumi.<shop>.yaml`` naming it;
every simulator takes the same demo API client, given once in the environment.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import yaml

from .local_engine import ROOT, engine_environment, scratch_project
from .simulator import Simulator
from .simulator.control import SimulatorControl
from .simulator.shop import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET


class ShopRepo:
    """A scratch repository with one stack per simulated shop, on a ``file://`` backend."""

    def __init__(
        self,
        root: Path,
        binary: Path,
        shops: list[str],
        webhooks: list[dict[str, Any]],
        pace: str = "1000",
        *,
        project: str = "shoprenter-webhooks",
        sharing: Optional[ShopRepo] = None,
    ) -> None:
        """``project``: the project's name (its config namespace); ``sharing``: another
        repository whose shops (of those named) this one serves too, as a second project."""
        self.root = scratch_project(root / "repo")
        self.binary = binary
        self.project = project
        self._own_simulators = sharing is None
        self.simulators: dict[str, Simulator] = (
            {name: sharing.simulators[name] for name in shops}
            if sharing
            else {name: Simulator().start() for name in shops}
        )
        self.shops = {name: SimulatorControl(sim.url) for name, sim in self.simulators.items()}
        (root / "state").mkdir()
        self.environment = {
            **engine_environment(binary, root / "home", f"file://{root / 'state'}"),
            "SHOPRENTER_CLIENT_ID": DEFAULT_CLIENT_ID,
            "SHOPRENTER_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
            "PYTHONPATH": str(ROOT),
        }
        self.set_defaults(
            {
                f"{project}:webhooksFile": "webhooks.yaml",
                "shoprenter:requestsPerSecond": pace,
            }
        )
        self.write_webhooks("webhooks.yaml", webhooks)
        for name, shop in self.shops.items():
            self.set_stack_config(
                name, {"shoprenter:apiUrl": shop.api_url, "shoprenter:tokenUrl": shop.token_url}
            )

    def set_defaults(self, config: dict[str, Any]) -> None:
        """The project-level ``config:`` block every stack inherits."""
        document = yaml.safe_load((self.root / "Pulumi.yaml").read_text(encoding="utf-8"))
        document["name"] = self.project
        document["config"] = config
        (self.root / "Pulumi.yaml").write_text(
            yaml.safe_dump(document, sort_keys=False), encoding="utf-8"
        )

    def set_stack_config(self, stack: str, config: dict[str, Any]) -> None:
        path = self.root / f"Pulumi.{stack}.yaml"
        path.write_text(yaml.safe_dump({"config": config}, sort_keys=False), encoding="utf-8")

    def write_webhooks(self, name: str, webhooks: list[dict[str, Any]]) -> None:
        (self.root / name).write_text(yaml.safe_dump({"webhooks": webhooks}), encoding="utf-8")

    def fleet(self, *args: str) -> tuple[int, list[dict[str, Any]], str]:
        """``python -m provider.fleet ARGS``: exit status, the JSON report, the output."""
        report = self.root / "report.json"
        report.unlink(missing_ok=True)
        done = subprocess.run(
            [sys.executable, "-m", "provider.fleet", *args, "--json", str(report)],
            cwd=self.root,
            env=self.environment,
            capture_output=True,
            text=True,
            check=False,
            timeout=1200,
        )
        runs = json.loads(report.read_text(encoding="utf-8")) if report.exists() else []
        return done.returncode, runs, done.stdout + done.stderr

    def pulumi(self, *args: str, background: bool = False, check: bool = True) -> Any:
        """``pulumi ARGS`` in the repository; in the background as its own process group;
        ``check``: a failure raises."""
        command = [str(self.binary), *args, "--non-interactive"]
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
            command,
            cwd=self.root,
            env=self.environment,
            capture_output=True,
            text=True,
            check=check,
        )

    def reset_shops(self, **settings: Any) -> None:
        for shop in self.shops.values():
            shop.reset(**settings)

    def close(self) -> None:
        """Stop every shop's simulator (a sharing repository leaves them to their owner)."""
        if self._own_simulators:
            for simulator in self.simulators.values():
                simulator.stop()

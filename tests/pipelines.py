"""A GitOps repository made from the fleet template, for the tests that run its pipelines as
their CI would (``test_act.py``: the GitHub workflow under act; ``test_gitlab.py``: the GitLab
pipeline under gitlab-ci-local).

Each of its six shops is a stack on a file backend (the "shared" backend: one folder every job
reaches) with its own simulator on loopback, and its credentials in its stack file, encrypted
with the passphrase the pipeline gets as a secret. Each job's ``pip install`` runs offline from
a wheelhouse of the template's requirements (the package from this checkout's wheel).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from provider.shoprenter.settings import stack_config
from sandbox.local_engine import ROOT, engine_environment, init_stack
from sandbox.simulator import Simulator, SimulatorControl
from sandbox.simulator.shop import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

GITHUB_WORKFLOW = ROOT / "examples" / "github" / "shoprenter-webhooks.yml"
GITLAB_PIPELINE = ROOT / "examples" / "gitlab" / ".gitlab-ci.yml"
TEMPLATE = ROOT / "templates" / "shoprenter-webhooks-fleet"
# Six shops: two in each of three shards, and one in each of six (see shard_of).
SHOPS = ("shop-a", "shop-b", "shop-c", "shop-d", "shop-f", "shop-j")
DECLARED = "ERP sync"  # the template's one webhook, by its label


def declared_on(shop: str) -> list[tuple[str, str, bool]]:
    """What a shop must hold: the template's webhook, marked as its own stack's."""
    return [(f"{DECLARED} [pulumi:agency/{shop}]", "order_confirm", True)]


def build_wheelhouse(dist: Path, folder: Path) -> None:
    """The template's requirements as wheels in ``folder`` (the package from ``dist``)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(folder),
         "--find-links", str(dist), "-r", str(TEMPLATE / "requirements.txt")],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def job_environment(repo: GitOpsRepository) -> dict[str, str]:
    """What each job gets from its runner beside the pipeline's variables: the repository's
    ``PULUMI_HOME``, no plugin downloads, and pip offline from the wheelhouse, compiling
    nothing it installs (as the suite's own pip: ``spare_the_processor`` in conftest.py)."""
    return {
        "PULUMI_HOME": repo.environment["PULUMI_HOME"],
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(repo.wheelhouse),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_COMPILE": "0",
    }


class GitOpsRepository:
    """A repository made from the fleet template, with the shipped GitHub workflow and GitLab
    pipeline, six shops."""

    def __init__(self, folder: Path, binary: Path, wheelhouse: Path) -> None:
        self.folder = folder / "repo"
        self.scratch = folder
        self.binary = binary
        self.wheelhouse = wheelhouse
        self.backend = f"file://{folder / 'state'}"
        (folder / "state").mkdir()
        self.simulators = {shop: Simulator().start() for shop in SHOPS}
        self.shops = {shop: SimulatorControl(sim.url) for shop, sim in self.simulators.items()}
        self.environment = engine_environment(binary, folder / "home", self.backend)
        self._write_project()
        for shop in SHOPS:
            self._add_stack(shop)
        self._commit()

    def _write_project(self) -> None:
        shutil.copytree(TEMPLATE, self.folder)
        manifest = self.folder / "Pulumi.yaml"
        text = manifest.read_text(encoding="utf-8").replace("${PROJECT}", "agency")
        manifest.write_text(text.replace("${DESCRIPTION}", "an agency's shops"), "utf-8")
        document = yaml.safe_load(manifest.read_text(encoding="utf-8"))
        document["config"]["shoprenter:requestsPerSecond"] = "1000"
        manifest.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        workflows = self.folder / ".github" / "workflows"
        workflows.mkdir(parents=True)
        shutil.copy(GITHUB_WORKFLOW, workflows / GITHUB_WORKFLOW.name)
        shutil.copy(GITLAB_PIPELINE, self.folder / GITLAB_PIPELINE.name)

    def _add_stack(self, shop: str) -> None:
        """``pulumi stack init`` with the shop's connection, its secret encrypted."""
        control = self.shops[shop]
        connection = {
            "apiUrl": control.api_url,
            "tokenUrl": control.token_url,
            "clientId": DEFAULT_CLIENT_ID,
            "clientSecret": DEFAULT_CLIENT_SECRET,
        }
        init_stack(self.pulumi, self.folder / f"Pulumi.{shop}.yaml", shop, stack_config(connection))

    def _commit(self) -> None:
        git = ["git", "-c", "user.name=agency", "-c", "user.email=ci@agency.example"]
        for command in (["init", "--quiet", "--initial-branch", "main"], ["add", "-A"]):
            subprocess.run([*git, *command], cwd=self.folder, check=True)
        subprocess.run([*git, "commit", "--quiet", "-m", "shops"], cwd=self.folder, check=True)

    def pulumi(self, *args: str) -> None:
        done = subprocess.run(
            [str(self.binary), *args, "--non-interactive"],
            cwd=self.folder, env=self.environment, capture_output=True, text=True, check=False,
            timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, f"pulumi {' '.join(args)}: {done.stdout}{done.stderr}"

    def webhooks(self) -> dict[str, list[tuple[str, str, bool]]]:
        """What each shop holds: (label, event, enabled) per webhook."""
        return {
            shop: sorted(
                (h["label"], h["event"], bool(int(h["status"]))) for h in control.webhooks()
            )
            for shop, control in self.shops.items()
        }

    def writes(self) -> dict[str, int]:
        """Writes each shop's simulator has seen (POST, PUT, DELETE on its webhooks)."""
        return {
            shop: sum(1 for call in control.api_calls() if call["method"] != "GET")
            for shop, control in self.shops.items()
        }

    def close(self) -> None:
        for simulator in self.simulators.values():
            simulator.stop()

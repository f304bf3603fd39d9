"""The released package as a user gets it, outside this repository: the wheel and sdist hold
what ships and nothing else; a GitOps repository made from the template with ``pulumi new``
reconciles a shop, with each plugin set; a stack written by the clone-the-repository layout
is taken over by the package with no change on the shop."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from provider import __version__
from sandbox.local_engine import ROOT, LocalStack, PulumiError, engine_environment, is_official
from sandbox.simulator.control import SimulatorControl
from tests.helpers import FAST, CallsSince, built_once, summary

pytestmark = pytest.mark.engine

TEMPLATES = ROOT / "templates"
NOT_SHIPPED = ("sandbox/", "tests/", "scripts/", "examples/", "templates/", "tools/", "docs/")


@pytest.fixture(scope="session")
def package_venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the template's requirements.txt, the wheel found in ``dist``,
    built once per run for every worker; the tests only read it."""

    def build(venv: Path) -> None:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        install(venv, TEMPLATES / "shoprenter-webhooks" / "requirements.txt", dist)

    return built_once(tmp_path_factory.getbasetemp(), "package-venv", build)


def install(venv: Path, requirements: Path, dist: Path) -> None:
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    done = subprocess.run(
        [*pip, "--find-links", str(dist), "-r", str(requirements)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]


class Repository:
    """A user's GitOps repository outside this one: the ``pulumi`` CLI and the package's
    command run in it, with a virtualenv of the package active and the shop's address in
    ``SHOPRENTER_*`` variables."""

    def __init__(
        self, folder: Path, binary: Path, sim: SimulatorControl, dist: Path, venv: Path
    ) -> None:
        self.folder = folder
        environment = engine_environment(binary, folder.parent / "home", f"file://{folder.parent}")
        environment["PATH"] = f"{venv / 'bin'}{os.pathsep}{environment['PATH']}"
        self.environment = {
            **environment,
            "PIP_FIND_LINKS": str(dist),
            "SHOPRENTER_API_URL": sim.api_url,
            "SHOPRENTER_TOKEN_URL": sim.token_url,
            "SHOPRENTER_REQUESTS_PER_SECOND": str(FAST),
        }

    def run(self, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            list(argv),
            cwd=cwd or self.folder,
            env=self.environment,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if done.returncode != 0:
            raise PulumiError(list(argv), done)
        return done

    def pulumi(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("pulumi", *args, "--non-interactive")

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The package's console script, from the repository's virtualenv."""
        return self.run(str(self.folder / "venv" / "bin" / "shoprenter-webhooks"), *args)

    def new(self, template: str, *options: str) -> None:
        """``pulumi new`` the template here."""
        self.run(
            "pulumi", "new", str(TEMPLATES / template), "--dir", str(self.folder), "--yes",
            *options, "--non-interactive", cwd=self.folder.parent,
        )  # fmt: skip

    def new_with_stack(self, template: str, stack: str) -> None:
        """``pulumi new`` as Pulumi's own CLI does it whole: the virtualenv made, the stack
        created with the shop and client id; the secret set as a secret after it
        (``pulumi new --config`` would store it in plain text)."""
        config = ["--config", "shoprenter:shop=demo", "--config", "shoprenter:clientId=demo-client"]
        self.new(template, "--stack", stack, *config)
        self.pulumi("config", "set", "--secret", "shoprenter:clientSecret", "demo-secret")

    def add_stack(self, stack: str, shop: str = "demo") -> None:
        """A stack made and configured by hand, as after ``pulumi new --generate-only``."""
        self.pulumi("stack", "init", stack)
        self.pulumi("config", "set", "shoprenter:shop", shop)
        self.pulumi("config", "set", "shoprenter:clientId", "demo-client")
        self.pulumi("config", "set", "--secret", "shoprenter:clientSecret", "demo-secret")


def test_the_wheel_and_sdist_hold_what_ships_and_nothing_else(dist: Path) -> None:
    [wheel] = dist.glob("*.whl")
    [sdist] = dist.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = archive.namelist()
        info = f"shoprenter_webhooks-{__version__}.dist-info"
        entry_points = archive.read(f"{info}/entry_points.txt")
    assert {name.split("/")[0] for name in in_wheel} == {
        "shoprenter_webhooks",
        info,
    }
    package = ROOT / "provider"  # every file of every room ships, the field tables too
    shipped = {
        f"shoprenter_webhooks/{path.relative_to(package).as_posix()}"
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert shipped <= set(in_wheel), sorted(shipped - set(in_wheel))
    assert b"shoprenter-webhooks = shoprenter_webhooks.cli:main" in entry_points
    with tarfile.open(sdist) as archive:
        in_sdist = [name.split("/", 1)[-1] for name in archive.getnames()]
    assert not [name for name in in_sdist if name.startswith(NOT_SHIPPED)]
    checked = subprocess.run(
        [sys.executable, "-m", "twine", "check", *map(str, dist.iterdir())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0 and checked.stdout.count("PASSED") == 2, checked.stdout


def test_importing_both_names_fails_naming_the_one_to_use(package_venv: Path) -> None:
    python = str(package_venv / "bin" / "python")
    both = "import shoprenter_webhooks, sys; sys.path.insert(0, sys.argv[1]); import provider"
    done = subprocess.run(
        [python, "-c", both, str(ROOT)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "imported twice, as shoprenter_webhooks and as provider" in done.stderr
    assert "import it as shoprenter_webhooks only" in done.stderr


def test_a_gitops_repository_from_the_template_reconciles_a_shop(
    pulumi_path: Path, sim: SimulatorControl, dist: Path, package_venv: Path, tmp_path: Path
) -> None:
    repo = Repository(tmp_path / "acme-shop", pulumi_path, sim, dist, package_venv)
    if is_official(pulumi_path):
        repo.new_with_stack("shoprenter-webhooks", "dev")  # the official host makes venv
    else:  # the stand-in language host installs nothing: venv made as the README says
        repo.new("shoprenter-webhooks", "--generate-only")
        (repo.folder / "venv").symlink_to(package_venv)
        repo.add_stack("dev")
    assert "demo-secret" not in (repo.folder / "Pulumi.dev.yaml").read_text()
    assert not (repo.folder / "provider").exists()

    calls = CallsSince(sim)
    repo.pulumi("up", "--yes")
    assert calls.writes() == {"POST": 1}  # the template's one webhook
    calls = CallsSince(sim)
    assert summary(repo.pulumi("up", "--yes").stdout) == {"unchanged": 3}
    assert calls.all() == []

    exported = repo.command("export", "--stack", "dev")
    assert [entry["label"] for entry in yaml.safe_load(exported.stdout)["webhooks"]] == ["ERP sync"]
    fleet = repo.command("fleet", "preview", "--stacks", "dev")
    assert "no change" in fleet.stderr


def test_the_fleet_template_runs_every_shop_over_shared_defaults(
    pulumi_path: Path, sim: SimulatorControl, dist: Path, package_venv: Path, tmp_path: Path
) -> None:
    repo = Repository(tmp_path / "agency", pulumi_path, sim, dist, package_venv)
    repo.new("shoprenter-webhooks-fleet", "--generate-only")
    (repo.folder / "venv").symlink_to(package_venv)
    for shop in ("shop-a", "shop-b"):
        repo.add_stack(shop, shop)
    done = repo.command("fleet", "preview", "--all")
    assert "shop-a" in done.stderr and "shop-b" in done.stderr
    assert sim.requests() == []  # a preview calls no shop


def test_a_stack_of_the_clone_layout_moves_to_the_package_with_no_change_on_the_shop(
    pulumi_path: Path, sim: SimulatorControl, dist: Path, package_venv: Path, tmp_path: Path
) -> None:
    """The state pickles each provider as ``provider.*``; the package is
    ``shoprenter_webhooks.*``. The README's migration: the first ``pulumi up`` in the new
    repository, before any refresh or removal, records every resource anew."""
    clone = LocalStack(tmp_path / "clone", pulumi_path, stack="prod")
    clone.create(sim.connection(requestsPerSecond=str(FAST)))
    hooks = [
        {"name": "erp-orders", "event": "order_confirm", "url": "https://erp.example.com/sr"},
        {"name": "crm", "event": "newsletter_subscribe", "url": "https://crm.example.com/nl"},
    ]
    clone.declare(hooks)
    clone.up()
    # The new repository: the template under the project's name, on the same backend, with
    # the stack's own file (its config and encryption salt) and its declarations as a file.
    repo = Repository(tmp_path / "gitops", pulumi_path, sim, dist, package_venv)
    for same in ("PULUMI_HOME", "PULUMI_BACKEND_URL"):
        repo.environment[same] = clone.environment[same]
    repo.new("shoprenter-webhooks", "--generate-only", "--name", "shoprenter-webhooks")
    (repo.folder / "venv").symlink_to(package_venv)
    shutil.copy(clone.config_file, repo.folder / "Pulumi.prod.yaml")
    (repo.folder / "webhooks.yaml").write_text(yaml.safe_dump({"webhooks": hooks}))
    repo.pulumi("stack", "select", "prod")
    repo.pulumi("config", "rm", "shoprenter-webhooks:webhooks")

    with pytest.raises(PulumiError, match="No module named 'provider'"):
        repo.pulumi("refresh", "--yes")  # before the first up: documented, changes nothing
    calls = CallsSince(sim)
    migrated = repo.pulumi("up", "--yes")
    assert summary(migrated.stdout) == {"updated": 3, "unchanged": 1}  # recorded anew
    for name in ("erp-orders", "crm"):
        assert f"webhook {name!r} is recorded anew under this package's name" in migrated.stdout
    assert calls.all() == []  # not one call to the shop
    assert summary(repo.pulumi("up", "--yes").stdout) == {"unchanged": 4}
    repo.pulumi("preview", "--refresh", "--expect-no-changes")
    repo.pulumi("refresh", "--yes")
    assert len(sim.webhooks()) == 2

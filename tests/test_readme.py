"""The README and the docs pages are a contract: every shell block they show runs, in order
(the README, then the pages in the site's order), as a person would run it, against the
simulator, with each plugin set.

The walk happens in a copy of this repository (its tracked files, times kept, the virtualenv
linked), with the virtualenv and the CLI on ``PATH`` as the README asks. Only what the README
itself says is put in: the simulator's address for 127.0.0.1:8765 and its demo client for the
placeholders, and, since the package is not published from here, the wheel of this checkout
for pip to find (``PIP_FIND_LINKS``) where the README installs the release. Confirmations are
skipped (``PULUMI_SKIP_CONFIRMATIONS``), as a person at the terminal answers yes. Where a block
needs a situation first (webhooks declared, one made by hand, a run killed midway), the walk
makes it before running the block, and checks the outcome after. ``make unit`` runs as
written but only collects its tests (``PYTEST_ADDOPTS``): each of them runs in ``make test``
itself, which runs this walk, and running them all again here only doubled their minutes.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from provider.fleet import delete_cut_off_sidecars
from sandbox.local_engine import ROOT, engine_environment
from sandbox.simulator.control import SimulatorControl
from sandbox.simulator.orders import SHOP_ZONE
from sandbox.simulator.shop import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.helpers import api_body, labels, serving

pytestmark = pytest.mark.engine

README = ROOT / "README.md"
# Where the example declaration a person declares is (step 3 of "A real shop" points at it).
DECLARING = ROOT / "docs" / "declaring.md"
README_ADDRESS = "127.0.0.1:8765"
# Commands the README shows that this walk does not run, and why.
NOT_RUN_HERE = {
    "make test": "it runs this test: .ci/run runs it, through make check",
    "make check": "what .ci/run runs: make lint (run here) and make test",
    "make bench": "minutes of measuring that assert nothing; docs/benchmarks.md has its figures",
    "make stress": "minutes of killing runs under load; docs/benchmarks.md has its figures",
}
# Commands that run no Pulumi plugin: the walk with the stand-ins runs them, the other walk
# (the same checkout, the same commands) does not run them again.
PLUGIN_FREE = {"make unit", "make lint"}
# How the walk runs `make unit`: the target, its setup and its selection, without the tests.
COLLECT_ONLY = "--collect-only -q"


def pages() -> list[Path]:
    """The README, then every page of the documentation site in its navigation's order."""
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    return [README, *(ROOT / "docs" / next(iter(entry.values())) for entry in nav)]


def shell_blocks(text: str) -> list[list[str]]:
    """The README's ```sh blocks, in order, each as its command lines (comments dropped)."""
    blocks = []
    for body in re.findall(r"^ *```sh\n(.*?)^ *```", text, re.MULTILINE | re.DOTALL):
        lines = [line.split(" # ")[0].strip() for line in body.splitlines()]
        blocks.append([line for line in lines if line and not line.startswith("#")])
    return blocks


def declared_webhooks(text: str) -> list[dict[str, Any]]:
    """The webhooks of the example declaration (the page's first ```yaml block)."""
    block = re.search(r"^```yaml\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert block, "docs/declaring.md lost its example declaration"
    webhooks: list[dict[str, Any]] = yaml.safe_load(block[1])["config"][
        "shoprenter-webhooks:webhooks"
    ]
    return webhooks


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def copy_of_repository(target: Path) -> Path:
    """The tracked files, with their times, and this virtualenv, which make sees as up to
    date (the requirement files no newer than it, as after ``make setup``)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True
    ).stdout.split("\0")
    for name in filter(None, listed):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target / name, follow_symlinks=False)
    (target / ".venv").symlink_to(ROOT / ".venv", target_is_directory=True)
    installed = (ROOT / ".venv" / ".installed").stat().st_mtime_ns
    for name in ("requirements.txt", "requirements-dev.txt"):  # the venv was made from them
        copied = target / name
        os.utime(copied, ns=(installed, min(copied.stat().st_mtime_ns, installed)))
    return target


class Walk:
    """A person working through the README in a copy of the repository."""

    def __init__(self, workdir: Path, binary: Path, plugins: str) -> None:
        self.plugins = plugins
        self.repo = copy_of_repository(workdir / "repo")
        shared = ROOT.parent / "shared"  # the official plugins' source, beside a clone
        if shared.exists():
            (workdir / "shared").symlink_to(shared, target_is_directory=True)
        (workdir / "state").mkdir()
        self.port = port = free_port()
        self.listen_port = free_port()
        self.address = f"127.0.0.1:{port}"
        self.sim = SimulatorControl(f"http://{self.address}")
        self.environment = {
            **engine_environment(binary, workdir / "pulumi-home", f"file://{workdir / 'state'}"),
            "PLUGINS": plugins,
        }
        self.environment["PATH"] = f"{self.repo / '.venv' / 'bin'}:{self.environment['PATH']}"
        self.background: list[subprocess.Popen[str]] = []
        self.substitutions = {
            README_ADDRESS: self.address,
            "make simulator": f"make simulator PORT={port}",
            "make unit": f"PYTEST_ADDOPTS={COLLECT_ONLY!r} make unit",
            "127.0.0.1:8000": f"127.0.0.1:{self.listen_port}",
            "--port 8000": f"--port {self.listen_port}",
            "<client id>": DEFAULT_CLIENT_ID,
            "<client secret>": DEFAULT_CLIENT_SECRET,
        }

    def command(self, line: str) -> str:
        for written, here in self.substitutions.items():
            line = line.replace(written, here)
        return line

    def run_block(self, lines: list[str]) -> subprocess.CompletedProcess[str]:
        """One block as one shell script: it stops at the first command that fails."""
        script = "\n".join(["set -euo pipefail", *(self.command(line) for line in lines)])
        done = subprocess.run(
            ["bash", "-c", script],
            check=False,
            cwd=self.repo,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"README block failed:\n{script}\n{done.stdout}{done.stderr}"
        return done

    def start(self, line: str) -> None:
        """A command the README sends to the background (``... &``), until the walk ends."""
        process = subprocess.Popen(
            ["bash", "-c", f"exec {self.command(line.removesuffix('&').strip())}"],
            cwd=self.repo,
            env=self.environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self.background.append(process)
        asked = re.search(r"--port (\d+)", self.command(line))
        port = int(asked[1]) if asked else self.port
        if not serving(port):
            pytest.fail(f"`{line}` did not start serving on 127.0.0.1:{port}")

    def stop(self) -> None:
        """Stop what the README sent to the background as Ctrl-C would, then for certain: a
        server still busy 30 s after SIGTERM (seen once in CI, with `make simulator`, cause
        not found) is killed, so that one slow teardown does not fail the walk."""
        for process in self.background:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=30)

    def stack_file(self) -> Path:
        return self.repo / "Pulumi.production.yaml"

    def edit_stack_config(self, key: str, value: Any) -> None:
        document = yaml.safe_load(self.stack_file().read_text(encoding="utf-8"))
        document["config"][key] = value
        self.stack_file().write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


# What the walk makes happen before a block (keyed by the block's first command) ...
def a_released_wheel(walk: Walk) -> None:
    """The release the README's GitOps repository pins: this checkout's wheel, for pip."""
    wheels = walk.repo.parent / "dist"
    subprocess.run(
        ["python", "-m", "build", "--wheel", "--outdir", str(wheels)],
        cwd=walk.repo,
        env=walk.environment,
        check=True,
        capture_output=True,
        timeout=600,
    )
    walk.environment["PIP_FIND_LINKS"] = str(wheels)


def declare_the_example(walk: Walk) -> None:
    """Step 3: "Declare the webhooks (above) in Pulumi.production.yaml"."""
    walk.edit_stack_config("shoprenter-webhooks:webhooks", declared_webhooks(DECLARING.read_text()))


TRIGGER_STACK = "python -m provider trigger --stack production --webhook erp-orders"


def erp_listens_here(walk: Walk) -> None:
    """The declared target answers: erp-orders points at the README's local listener."""
    webhooks = declared_webhooks(DECLARING.read_text())
    for webhook in webhooks:
        if webhook["name"] == "erp-orders":
            webhook["url"] = f"http://127.0.0.1:{walk.listen_port}/erp?key=erp-secret"
    walk.edit_stack_config("shoprenter-webhooks:webhooks", webhooks)


def erp_answered(walk: Walk, done: subprocess.CompletedProcess[str]) -> None:
    assert "HTTP 200 OK" in done.stdout and "/erp?key=***" in done.stdout
    assert "erp-secret" not in done.stdout
    declare_the_example(walk)


REPLAY_STACK = (
    "python -m provider replay --stack production --webhook erp-orders --since 25h --dry-run"
)


def an_order_was_missed(walk: Walk) -> None:
    """An order the shop took two hours ago, which erp-orders' receiver (the listener here)
    never got: its webhook was not on the shop yet."""
    erp_listens_here(walk)
    two_hours_ago = datetime.now(SHOP_ZONE).replace(tzinfo=None) - timedelta(hours=2)
    walk.sim.place_order(number=4242, at=two_hours_ago.isoformat(timespec="seconds"))


def the_order_was_replayed(walk: Walk, done: subprocess.CompletedProcess[str]) -> None:
    assert "dry run: not sent" in done.stdout and "HTTP 200 OK" in done.stdout
    assert "4242" in done.stdout and "/erp?key=***" in done.stdout
    assert "erp-secret" not in done.stdout + done.stderr
    declare_the_example(walk)


def make_one_by_hand(walk: Walk) -> None:
    walk.sim.add_webhook(api_body(label="made by hand", url="https://partner.example.com/x"))


def kill_an_up_midway(walk: Walk) -> None:
    """A run killed after its first create: more hooks declared, the CLI killed (-9)."""
    webhooks_file = walk.repo / "webhooks.yaml"
    document = yaml.safe_load(webhooks_file.read_text(encoding="utf-8"))
    document["webhooks"] += [
        {"name": f"extra-{n}", "event": "order_confirm", "url": f"https://x.example.com/{n}"}
        for n in range(4)
    ]
    webhooks_file.write_text(yaml.safe_dump(document), encoding="utf-8")
    before = len(walk.sim.webhooks())
    run = subprocess.Popen(
        ["pulumi", "up", "--yes", "--stack", "production"],
        cwd=walk.repo,
        env=walk.environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while len(walk.sim.webhooks()) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(run.pid, signal.SIGKILL)
    run.wait(timeout=30)
    deadline = time.monotonic() + 30  # the plugins end with the engine: wait until they have
    while group_alive(run.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not group_alive(run.pid), "the run's plugins outlived the engine by 30 s"
    stacks = walk.repo.parent / "state" / ".pulumi" / "stacks"
    project = yaml.safe_load((walk.repo / "Pulumi.yaml").read_text(encoding="utf-8"))["name"]
    delete_cut_off_sidecars(stacks, project, "production")  # as the docs say, by hand


def group_alive(group: int) -> bool:
    """Whether any process of this process group is still running."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


# ... and what it checks after.
def unit_selects_no_cli_test(walk: Walk, done: subprocess.CompletedProcess[str]) -> None:
    """`make unit` picked its tests: some collected, the real-CLI ones left out."""
    assert re.search(r"\d+/\d+ tests collected \(\d+ deselected\)", done.stdout), done.stdout
    assert "tests/test_engine" not in done.stdout


def unmanaged_is_shown(walk: Walk, done: subprocess.CompletedProcess[str]) -> None:
    assert "made by hand" in done.stdout


def recovered_to_the_declared_set(walk: Walk, _done: subprocess.CompletedProcess[str]) -> None:
    declared = yaml.safe_load((walk.repo / "webhooks.yaml").read_text(encoding="utf-8"))
    expected = [hook.get("label", hook["name"]) for hook in declared["webhooks"]]
    assert labels(walk.sim) == sorted([*expected, "made by hand"])


NEW_REPOSITORY = (
    'pulumi new "$PWD/templates/shoprenter-webhooks" --dir ../acme-shop --name acme-shop '
    "--generate-only --yes"
)
BEFORE: dict[str, Callable[[Walk], None]] = {
    NEW_REPOSITORY: a_released_wheel,
    "pulumi preview": declare_the_example,
    TRIGGER_STACK: erp_listens_here,
    REPLAY_STACK: an_order_was_missed,
    "pulumi refresh --run-program --yes": make_one_by_hand,
    "pulumi cancel --yes": kill_an_up_midway,
}
AFTER: dict[str, Callable[[Walk, subprocess.CompletedProcess[str]], None]] = {
    "make unit": unit_selects_no_cli_test,
    TRIGGER_STACK: erp_answered,
    REPLAY_STACK: the_order_was_replayed,
    "pulumi refresh --run-program --yes": unmanaged_is_shown,
    "pulumi cancel --yes": recovered_to_the_declared_set,
}


@pytest.fixture
def walk(tmp_path: Path, pulumi_path: Path, request: pytest.FixtureRequest) -> Iterator[Walk]:
    plugins = request.node.callspec.params["pulumi_path"]
    walking = Walk(tmp_path, pulumi_path, plugins)
    try:
        yield walking
    finally:
        walking.stop()


def test_every_shell_block_of_the_readme_and_the_docs_runs(walk: Walk) -> None:
    blocks = [block for page in pages() for block in shell_blocks(page.read_text("utf-8"))]
    ran: list[str] = []
    opened: set[str] = set()  # the first lines of the blocks run so far: a situation is made once
    skipped = NOT_RUN_HERE.keys() | (PLUGIN_FREE if walk.plugins != "stand-ins" else set())
    for lines in blocks:
        runnable = [line for line in lines if line not in skipped]
        if not runnable:
            continue
        first = runnable[0]
        if first in BEFORE and first not in opened:
            BEFORE[first](walk)
        foreground = [line for line in runnable if not line.endswith("&")]
        for line in runnable:
            if line.endswith("&"):
                walk.start(line)
        done = walk.run_block(foreground) if foreground else None
        if done is not None and first in AFTER and first not in opened:
            AFTER[first](walk, done)
        ran.extend(runnable)
        opened.add(first)
    needed = set(BEFORE) | set(AFTER)
    assert needed <= set(ran) | skipped, "a situation no README block needs any more"
    shown = {line for block in blocks for line in block}
    assert shown - set(ran) == skipped & shown

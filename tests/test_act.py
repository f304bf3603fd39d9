"""The fleet's GitHub Actions workflow, run as GitHub would run it: by act, offline.

act (nektos/act, built by ``.ci/run`` from the Go module proxy) runs the shipped workflow in
its host mode: every job a process of its own in a workspace of its own, the matrix jobs side by
side, in a GitOps repository made from the fleet template (:mod:`tests.pipelines`). The
actions the workflow uses are local stand-ins (``tests/act/``); the real ones are not exercised
here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from provider.fleet import shard_of
from sandbox.local_engine import PASSPHRASE, pulumi_binary
from sandbox.simulator.shop import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.pipelines import SHOPS, GitOpsRepository, declared_on, job_environment

# One worker runs this file: its repository (six shops, their stacks) is built once.
pytestmark = [pytest.mark.act, pytest.mark.engine]

STAND_INS = Path(__file__).resolve().parent / "act"
ACTIONS = {  # actions/checkout needs none: act emulates it
    "actions/setup-python@v5": "setup-python",
    "pulumi/actions@v7": "pulumi-actions",
    "actions/upload-artifact@v4": "upload-artifact",
    "actions/cache@v4": "cache",
}
ACT_VERSION = "v0.2.89"


def act_binary() -> str:
    found = shutil.which("act") or str(Path.home() / "go" / "bin" / "act")
    if not Path(found).exists():
        install = f"go install github.com/nektos/act@{ACT_VERSION}"
        if os.environ.get("CI"):
            pytest.fail(f"act is not installed: {install} (.ci/run does)")
        pytest.skip(f"act is not installed: {install} (.ci/run does)")
    return found


@dataclass
class Run:
    """One act run: its exit status, its log lines (act's JSON), the jobs' reports."""

    status: int
    lines: list[dict[str, Any]]
    reports: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def text(self) -> str:
        return "\n".join(f"[{line.get('job')}] {line.get('msg', '')}" for line in self.lines)

    def shard_jobs(self) -> dict[str, list[dict[str, Any]]]:
        """Each shard job's lines, by its shard (``1/3``)."""
        jobs: dict[str, list[dict[str, Any]]] = {}
        for line in self.lines:
            shard = (line.get("matrix") or {}).get("shard")
            if shard:
                jobs.setdefault(shard, []).append(line)
        return jobs


def act(repo: GitOpsRepository, event: str, shards: int, name: str) -> Run:
    """Run the workflow for ``event`` with at most ``shards`` jobs."""
    artifacts = repo.scratch / f"artifacts-{name}"
    stand_ins = [f"{action}={STAND_INS / folder}" for action, folder in ACTIONS.items()]
    given = {
        "STAND_IN_PYTHON_DIR": str(Path(sys.executable).parent),
        "STAND_IN_PULUMI_DIR": str(repo.binary.parent),
        "STAND_IN_ARTIFACTS": str(artifacts),
        "STAND_IN_CACHE": str(repo.scratch / "actions-cache"),
        "STAND_IN_CACHE_SEEN": str(repo.scratch / f"cache-seen-{name}"),
        **job_environment(repo),
    }
    command = [
        act_binary(), event, "--json",
        "-P", "ubuntu-latest=-self-hosted",
        "--action-cache-path", str(repo.scratch / "act-cache"),
        "--concurrent-jobs", "3",
        "--var", f"SHOPRENTER_SHARDS={shards}",
        "--var", "SHOPRENTER_CONCURRENCY=2",
        "-s", f"PULUMI_BACKEND_URL={repo.backend}",
        "-s", f"PULUMI_CONFIG_PASSPHRASE={PASSPHRASE}",
        *[arg for stand_in in stand_ins for arg in ("--local-repository", stand_in)],
        *[arg for key, value in given.items() for arg in ("--env", f"{key}={value}")],
    ]  # fmt: skip
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PULUMI_", "SHOPRENTER_", "PIP_", "VIRTUAL_ENV"))
    }
    done = subprocess.run(
        command, cwd=repo.folder, env=environment, capture_output=True, text=True,
        check=False, timeout=1200,
    )  # fmt: skip
    (repo.scratch / f"act-{name}.log").write_text(done.stdout + done.stderr, "utf-8")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    run = Run(done.returncode, lines)
    for report in sorted(artifacts.glob("*/fleet.json")):
        run.reports[report.parent.name] = json.loads(report.read_text(encoding="utf-8"))
    if not lines:
        raise AssertionError(f"act printed no log: {done.stderr[-3000:]}")
    return run


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Iterator[GitOpsRepository]:
    repository = GitOpsRepository(tmp_path_factory.mktemp("gitops"), pulumi_binary(), wheelhouse)
    try:
        yield repository
    finally:
        repository.close()


def shops_in(run: Run) -> dict[str, str]:
    """Each shop the run's reports name, with the report (one per shard job) naming it."""
    found: dict[str, str] = {}
    for report, entries in run.reports.items():
        for entry in entries:
            assert entry["stack"] not in found, f"{entry['stack']} ran in two jobs"
            found[entry["stack"]] = report
    return found


def overlapping(windows: dict[str, tuple[float, float]]) -> list[tuple[str, str]]:
    """Pairs of jobs whose time windows overlap."""
    names = sorted(windows)
    return [
        (a, b)
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if windows[a][0] < windows[b][1] and windows[b][0] < windows[a][1]
    ]


def job_windows(run: Run) -> dict[str, tuple[float, float]]:
    """Each shard job's first and last log line, as seconds since the epoch."""
    windows = {}
    for shard, lines in run.shard_jobs().items():
        times = [datetime.fromisoformat(line["time"]).timestamp() for line in lines]
        windows[shard] = (min(times), max(times))
    return windows


def workspaces(run: Run) -> dict[str, str]:
    """The workspace each shard job ran in (the setup-python stand-in prints it)."""
    found = {}
    for shard, lines in run.shard_jobs().items():
        for line in lines:
            message = str(line.get("msg", ""))
            if "stand-in setup-python: workspace " in message:
                found[shard] = message.split("workspace ", 1)[1].strip()
    return found


def memos(folder: Path) -> dict[str, int]:
    """The memo files of validated declarations under ``folder``, with their times (ns)."""
    found = folder.glob("**/declarations/*.json")
    return {path.name: path.stat().st_mtime_ns for path in found}


def test_the_workflow_applies_every_shop_in_shards_then_finds_no_drift(
    repo: GitOpsRepository,
) -> None:
    """A push applies every shop, each in its own shard's job; two nightly drift checks find
    nothing, the second on fresh runners that restore the first one's cache and validate
    nothing again; a push over six shards has nothing to write."""
    # push, three shards: every shop gets exactly its declared webhook.
    first = act(repo, "push", shards=3, name="push-3")
    assert first.status == 0, first.text()[-6000:]
    held = repo.webhooks()
    assert held == {shop: declared_on(shop) for shop in SHOPS}
    ran = shops_in(first)
    assert sorted(ran) == sorted(SHOPS)  # each shop in exactly one job
    assert len(set(ran.values())) == 3
    for shop, report in ran.items():  # the shard a shop ran in is the one its name gives
        entry = next(e for e in first.reports[report] if e["stack"] == shop)
        assert entry["state"] == "ok", entry
    assert sorted(first.shard_jobs()) == ["1/3", "2/3", "3/3"]
    # The jobs ran side by side, each in a workspace of its own.
    windows = job_windows(first)
    assert overlapping(windows), windows
    places = workspaces(first)
    assert len(places) == 3 and len(set(places.values())) == 3, places
    # No job touched another shop: each shop's calls fall in the window of its own job.
    for shop, control in repo.shops.items():
        own = windows[f"{shard_of(shop, 3)}/3"]
        calls = [call["at"] for call in control.requests() if "/_sim/" not in call["path"]]
        assert calls and own[0] - 1 <= min(calls) and max(calls) <= own[1] + 1, (shop, own)

    # The nightly drift check on runners with nothing cached (the push's entries dropped): no
    # drift, no write, and each shard's cache saved with the memos of its shops' declarations.
    writes = repo.writes()
    shutil.rmtree(repo.scratch / "actions-cache", ignore_errors=True)
    cold = act(repo, "schedule", shards=3, name="schedule-cold")
    assert cold.status == 0, cold.text()[-6000:]
    assert {e["state"] for entries in cold.reports.values() for e in entries} == {"ok"}
    assert sorted(shops_in(cold)) == sorted(SHOPS)
    assert repo.writes() == writes
    said = [str(line.get("msg", "")) for line in cold.lines]
    assert sum("stand-in cache: saved" in text for text in said) == 3
    saved = memos(repo.scratch / "actions-cache")
    assert len(saved) == len(SHOPS)  # one memo per stack, each in its shard's entry

    # The next night, on fresh runners: each shard's cache restored into a new workspace, whose
    # program runs find every stack's declarations validated: no memo file written again.
    warm = act(repo, "schedule", shards=3, name="schedule-warm")
    assert warm.status == 0, warm.text()[-6000:]
    said = [str(line.get("msg", "")) for line in warm.lines]
    assert sum("stand-in cache: hit" in text for text in said) == 3
    assert set(workspaces(warm).values()).isdisjoint(workspaces(cold).values())  # fresh ones
    assert memos(repo.scratch / "cache-seen-schedule-warm") == saved  # each job's end
    assert repo.writes() == writes
    (repo.scratch / "cache-figures.json").write_text(
        json.dumps({"cold": job_windows(cold), "warm": job_windows(warm)}), encoding="utf-8"
    )

    # A second push, six shards of one shop each: nothing to write, the same shops.
    again = act(repo, "push", shards=6, name="push-6")
    assert again.status == 0, again.text()[-6000:]
    assert sorted(len(entries) for entries in again.reports.values()) == [1] * 6
    assert repo.writes() == writes
    assert repo.webhooks() == held


def test_a_shop_that_refuses_the_credentials_fails_its_job_alone(repo: GitOpsRepository) -> None:
    refusing = "shop-c"
    repo.shops[refusing].settings(credentials={"clientId": "demo-client", "clientSecret": "new"})
    try:
        run = act(repo, "push", shards=3, name="refused")
    finally:
        repo.shops[refusing].settings(
            credentials={"clientId": DEFAULT_CLIENT_ID, "clientSecret": DEFAULT_CLIENT_SECRET}
        )
    assert run.status != 0
    jobs = run.shard_jobs()
    failed_jobs = {
        shard
        for shard, lines in jobs.items()
        if any(line.get("stepResult") == "failure" for line in lines)
    }  # act marks every job of a matrix failed at the end: the steps tell them apart
    assert failed_jobs == {f"{shard_of(refusing, 3)}/3"}  # its job alone
    states = {e["stack"]: e["state"] for entries in run.reports.values() for e in entries}
    assert states == {shop: "failed" if shop == refusing else "ok" for shop in SHOPS}
    said = [str(line.get("msg", "")) for line in jobs[f"{shard_of(refusing, 3)}/3"]]
    assert any(refusing in text and "failed" in text for text in said)  # the log names it

"""The fleet's GitLab pipeline, run as GitLab would run it: by gitlab-ci-local, offline.

gitlab-ci-local (from npm, pinned to the newest release that runs on this machine's Node 20;
``make tools`` installs it) runs the shipped ``examples/gitlab/.gitlab-ci.yml`` in a
repository made from the fleet template (:mod:`tests.pipelines`) with the shell executor, each
job in a build folder of its own (``--shell-isolation``), the jobs of ``parallel:`` side by
side. The pipeline's source (push, merge request, schedule) is given as ``CI_PIPELINE_SOURCE``.

What it cannot emulate, so what this does not test: the job's image (the jobs run on this
machine, with its Python and the Pulumi CLI on PATH), ``resource_group`` across pipelines (it
runs one pipeline at a time), masked and protected variables, and a cache shared between
runners (it keeps ``cache:`` in its own folder: the test checks what each shard's entry holds).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from provider.fleet import shard_of
from sandbox.local_engine import PASSPHRASE, ROOT, pulumi_binary
from sandbox.simulator.shop import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.pipelines import GITLAB_PIPELINE, SHOPS, GitOpsRepository, declared_on, job_environment

# One worker runs this file: its repository (six shops, their stacks) is built once.
pytestmark = [pytest.mark.act, pytest.mark.engine]

GITLAB_CI_LOCAL_VERSION = "4.73.0"  # 4.74 needs Node 22 (Set.prototype.union)
GITLAB_CI_LOCAL = ROOT / ".venv" / "gitlab-ci-local" / "node_modules" / ".bin" / "gitlab-ci-local"
SHARDS = yaml.safe_load(GITLAB_PIPELINE.read_text(encoding="utf-8"))[".shards"]["parallel"]
# A job of `parallel:` as gitlab-ci-local names it in its summary: "up: [2/4]".
JOB_LINE = re.compile(
    r"^\s*(?P<result>PASS|FAIL)\s+(?P<job>[\w-]+): \[(?P<index>\d+)/(?P<total>\d+)\]"
)


def gitlab_ci_local() -> str:
    if not GITLAB_CI_LOCAL.exists() or not shutil.which("rsync"):
        install = f"make tools (npm gitlab-ci-local@{GITLAB_CI_LOCAL_VERSION}, and rsync)"
        if os.environ.get("CI"):
            pytest.fail(f"gitlab-ci-local is not installed: {install}")
        pytest.skip(f"gitlab-ci-local is not installed: {install}")
    return str(GITLAB_CI_LOCAL)


@dataclass
class Pipeline:
    """One pipeline: its exit status, its output, each job's result and report."""

    status: int
    output: str
    results: dict[tuple[str, int], str] = field(default_factory=dict)
    reports: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)

    def shops_in(self, job: str) -> dict[str, int]:
        """Each shop a job's reports name, with the index of the job that ran it."""
        found: dict[str, int] = {}
        for (name, index), entries in self.reports.items():
            for entry in entries if name == job else []:
                assert entry["stack"] not in found, f"{entry['stack']} ran in two {job} jobs"
                found[entry["stack"]] = index
        return found


def run_pipeline(repo: GitOpsRepository, source: str, name: str) -> Pipeline:
    """gitlab-ci-local over the repository, as a pipeline of ``source`` on the default branch."""
    artifacts = repo.folder / ".gitlab-ci-local" / "artifacts"
    subprocess.run(["rm", "-rf", str(artifacts)], check=True)
    variables = {
        "CI_PIPELINE_SOURCE": source,
        "PULUMI_BACKEND_URL": repo.backend,
        "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
    }
    environment = {
        **{
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PULUMI_", "SHOPRENTER_", "PIP_", "VIRTUAL_ENV", "XDG_"))
        },
        "PATH": f"{Path(sys.executable).parent}:{repo.binary.parent}:{os.environ['PATH']}",
        **job_environment(repo),
    }
    # A merge request's pipeline has no branch of its own (GitLab sets no CI_COMMIT_BRANCH).
    unset = ["--unset-variable", "CI_COMMIT_BRANCH"] if source == "merge_request_event" else []
    command = [
        gitlab_ci_local(), "--force-shell-executor", "--shell-isolation", "--no-color",
        "--concurrency", "3", *unset,
        *[arg for key, value in variables.items() for arg in ("--variable", f"{key}={value}")],
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=repo.folder, env=environment, capture_output=True, text=True, check=False,
        timeout=1800,
    )  # fmt: skip
    output = done.stdout + done.stderr
    (repo.scratch / f"gitlab-{name}.log").write_text(output, encoding="utf-8")
    pipeline = Pipeline(done.returncode, output)
    for line in output.splitlines():
        found = JOB_LINE.match(line)
        if found:
            pipeline.results[(found["job"], int(found["index"]))] = found["result"]
    for report in artifacts.glob("*/fleet.json"):
        job, index = job_of(report.parent.name)
        pipeline.reports[(job, index)] = json.loads(report.read_text(encoding="utf-8"))
    return pipeline


def job_of(folder: str) -> tuple[str, int]:
    """The job and index of an artifacts folder (gitlab-ci-local writes ``up: [2/4]`` as
    ``upOiBb2Lw4XQ``, its special characters base64-encoded)."""
    named = re.match(r"^(?P<job>[a-z-]+)OiBb(?P<index>\d+)Lw", folder)
    assert named, folder
    return named["job"], int(named["index"])


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Iterator[GitOpsRepository]:
    repository = GitOpsRepository(tmp_path_factory.mktemp("gitlab"), pulumi_binary(), wheelhouse)
    try:
        yield repository
    finally:
        repository.close()


def test_the_pipeline_applies_every_shop_in_shards_then_finds_no_drift(
    repo: GitOpsRepository,
) -> None:
    preview = run_pipeline(repo, "merge_request_event", "merge-request")
    assert preview.status == 0, preview.output[-6000:]
    assert {job for job, _ in preview.results} == {"preview"}
    assert sorted(preview.shops_in("preview")) == sorted(SHOPS)
    assert repo.writes() == dict.fromkeys(SHOPS, 0)  # a preview writes nothing

    push = run_pipeline(repo, "push", "push")
    assert push.status == 0, push.output[-6000:]
    assert push.results == {("up", index): "PASS" for index in range(1, SHARDS + 1)}
    assert repo.webhooks() == {shop: declared_on(shop) for shop in SHOPS}
    ran = push.shops_in("up")  # each shop in exactly one job: the one its name gives
    assert ran == {shop: shard_of(shop, SHARDS) for shop in SHOPS}
    entries = [entry for report in push.reports.values() for entry in report]
    assert {entry["state"] for entry in entries} == {"ok"}

    writes = repo.writes()
    nightly = run_pipeline(repo, "schedule", "schedule")
    assert nightly.status == 0, nightly.output[-6000:]
    assert {job for job, _ in nightly.results} == {"drift", "replay"}
    assert sorted(nightly.shops_in("drift")) == sorted(SHOPS)
    assert sorted(nightly.shops_in("replay")) == sorted(SHOPS)
    assert repo.writes() == writes  # the drift run writes nothing
    assert repo.webhooks() == {shop: declared_on(shop) for shop in SHOPS}
    # Each shard's cache holds the memo of its shops' validated declarations, for the next.
    caches = repo.folder / ".gitlab-ci-local" / "cache"
    memos = {path.name for path in caches.glob("*/.cache/shoprenter-webhooks/declarations/*")}
    assert len(memos) == len(SHOPS) and len(list(caches.iterdir())) == SHARDS


def test_a_shop_that_refuses_the_credentials_fails_its_job_alone(repo: GitOpsRepository) -> None:
    refusing = "shop-c"
    repo.shops[refusing].settings(credentials={"clientId": "demo-client", "clientSecret": "new"})
    try:
        push = run_pipeline(repo, "push", "refused")
    finally:
        repo.shops[refusing].settings(
            credentials={"clientId": DEFAULT_CLIENT_ID, "clientSecret": DEFAULT_CLIENT_SECRET}
        )
    assert push.status != 0
    failed = {key for key, result in push.results.items() if result == "FAIL"}
    assert failed == {("up", shard_of(refusing, SHARDS))}, push.results
    states = {e["stack"]: e["state"] for entries in push.reports.values() for e in entries}
    assert states == {shop: "failed" if shop == refusing else "ok" for shop in SHOPS}

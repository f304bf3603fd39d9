"""The pipeline examples parse, do what their comments say, and call commands that exist."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from provider import fleet

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
WORKFLOW = EXAMPLES / "github" / "shoprenter-webhooks.yml"
ACTIONLINT_VERSION = "v1.7.12"


def load(path: Path) -> dict[Any, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), path
    return document


def steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job["steps"] if str(step.get("uses", "")).startswith(action)]


def fleet_commands(scripts: list[str]) -> list[list[str]]:
    """The arguments of every ``python -m provider.fleet`` in a list of shell lines."""
    found = []
    for line in scripts:
        words = shlex.split(line.replace("$FLEET", "python -m provider.fleet"), comments=True)
        if "provider.fleet" in words:
            found.append(words[words.index("provider.fleet") + 1 :])
    return found


def test_the_github_workflow_shares_the_shops_out_over_a_matrix_of_shards() -> None:
    workflow = load(WORKFLOW)
    triggers = workflow[True]  # YAML reads the key `on` as true
    assert {"pull_request", "push", "schedule", "workflow_dispatch"} <= set(triggers)
    shard = workflow["jobs"]["shard"]
    assert shard["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.shards.outputs.shards) }}"
    assert shard["strategy"]["fail-fast"] is False
    # The job's variables as one push sets them (tests/test_act.py runs the workflow itself).
    values = {"$OPERATION": "up", "$SHARD": "2/3", "$CONCURRENCY": "4", "\\\n": " "}
    scripts = []
    for step in shard["steps"]:
        script = step.get("run", "").replace("venv/bin/shoprenter-webhooks fleet", "$FLEET")
        for name, value in values.items():
            script = script.replace(f'"{name}"', value).replace(name, value)
        scripts.append(script)
    parsed = [fleet.parse_args(command) for command in fleet_commands(scripts)]
    assert [(args.operation, args.refresh) for args in parsed] == [("up", True)]
    assert all(args.all and args.shard == (2, 3) for args in parsed)


def test_the_github_workflow_passes_actionlint() -> None:
    actionlint = shutil.which("actionlint") or str(Path.home() / "go" / "bin" / "actionlint")
    if not Path(actionlint).exists():
        pytest.skip(
            f"actionlint is not installed: go install "
            f"github.com/rhysd/actionlint/cmd/actionlint@{ACTIONLINT_VERSION} (.ci/run does)"
        )
    done = subprocess.run([actionlint, str(WORKFLOW)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_gitlab_pipeline_runs_the_fleet_per_job_over_its_shard() -> None:
    """Each job's command as GitLab expands it for the second of its parallel jobs
    (tests/test_gitlab.py runs the pipeline itself)."""
    pipeline = load(EXAMPLES / "gitlab" / ".gitlab-ci.yml")
    shards = pipeline[".shards"]
    [script] = shards["script"]
    found = {}
    for job in ("preview", "up", "drift", "replay"):
        assert pipeline[job]["extends"] == ".shards"
        values = {
            **pipeline["variables"],
            **pipeline[job]["variables"],
            "CI_NODE_INDEX": "2",
            "CI_NODE_TOTAL": str(shards["parallel"]),
        }
        line = script.replace("venv/bin/shoprenter-webhooks fleet", "$FLEET")
        for name, value in sorted(values.items(), key=lambda item: -len(item[0])):
            line = line.replace(f'"${name}"', shlex.quote(value)).replace(f"${name}", value)
        [command] = fleet_commands([line])
        args = fleet.parse_args(command)
        assert args.all and args.shard == (2, shards["parallel"]) and args.json
        found[job] = (args.operation, args.refresh, args.since)
    assert found == {
        "preview": ("preview", True, None),
        "up": ("up", True, None),
        "drift": ("drift", False, None),
        "replay": ("replay", False, "25h"),
    }
    assert pipeline["up"]["resource_group"]  # one pipeline at a time applies a shard
    # The command a repository made from the fleet template has: the pinned package's script.
    assert "venv/bin/shoprenter-webhooks fleet" in script


def test_the_operator_stack_reconciles_continuously_and_never_destroys() -> None:
    stack = load(EXAMPLES / "kubernetes" / "stack.yaml")
    assert (stack["apiVersion"], stack["kind"]) == ("pulumi.com/v1", "Stack")
    spec = stack["spec"]
    assert spec["refresh"] is True and spec["continueResyncOnCommitMatch"] is True
    assert spec["resyncFrequencySeconds"] > 0
    assert spec["destroyOnFinalize"] is False
    assert all(ref["type"] == "Secret" for ref in spec["envRefs"].values())  # no literal secret

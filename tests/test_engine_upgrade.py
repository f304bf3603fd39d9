"""An upgrade that costs nothing: a stack written by release 1.0.0 (``tests/fixtures/v1.0.0``)
makes no call to the shop at its first ``up`` with this release, and shows no change after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sandbox.local_engine import LocalStack
from sandbox.simulator.control import SimulatorControl
from tests.helpers import CallsSince, summary

pytestmark = pytest.mark.engine

FIXTURE = Path(__file__).parent / "fixtures" / "v1.0.0"


@pytest.fixture
def old_stack(tmp_path: Path, pulumi_path: Path, sim: SimulatorControl) -> LocalStack:
    """The 1.0.0 stack, its shop held again by the simulator, its address the simulator's."""
    for hook in json.loads((FIXTURE / "shop.json").read_text(encoding="utf-8")):
        made = sim.add_webhook({key: value for key, value in hook.items() if key != "id"})
        assert made["id"] == hook["id"], "the simulator numbers webhooks as it did then"
    stack = LocalStack(tmp_path, pulumi_path, stack="prod")
    stack.pulumi("stack", "init", "prod")
    document = yaml.safe_load((FIXTURE / "Pulumi.prod.yaml").read_text(encoding="utf-8"))
    document["config"]["shoprenter:apiUrl"] = sim.api_url
    document["config"]["shoprenter:tokenUrl"] = sim.token_url
    stack.config_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    stack.pulumi("stack", "import", "--file", str(FIXTURE / "state.json"))
    return stack


def test_a_stack_of_1_0_0_upgrades_with_no_call_and_no_change(
    old_stack: LocalStack, sim: SimulatorControl
) -> None:
    calls = CallsSince(sim)
    first = old_stack.up()
    assert calls.all() == []
    assert summary(first.stdout) == {"unchanged": 5}  # 3 webhooks, the inventory, the stack
    old_stack.pulumi("preview", "--expect-no-changes")
    refreshed = old_stack.pulumi("preview", "--refresh", "--expect-no-changes")
    assert "made by hand" in refreshed.stdout + refreshed.stderr  # still reported
    assert calls.writes() == {}

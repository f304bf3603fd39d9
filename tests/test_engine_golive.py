"""The go-live check through the real CLI, with each plugin set: with
``shoprenter-webhooks:verifyTargets`` a target that does not answer a test delivery stops its
webhook before anything is written; an unchanged ``up`` and every ``preview`` send nothing."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from provider.deliveries.builder import TEST_HEADER
from provider.deliveries.dedupe import SqliteStore
from sandbox.local_engine import LocalStack, PulumiError
from sandbox.simulator.control import SimulatorControl
from sandbox.simulator.orders import shop_now
from sandbox.simulator.receiver import HandledOnce, Receiver
from tests.helpers import CallsSince, labels, package_command

pytestmark = pytest.mark.engine

CLASS_NAMES = ("TargetUnready", "ShoprenterError", "Traceback")


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections while held: bound, never listening. A port
    found free and closed again can be taken meanwhile by another process of a parallel run (a
    plugin's server, a simulator), which then answers the test delivery instead."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


def test_a_dead_target_creates_nothing_and_a_live_one_goes_live(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    stack.set_config(f"{stack.namespace}:verifyTargets", True)
    with refused_port() as port:
        erp = {
            "name": "erp",
            "event": "order_confirm",
            "url": f"http://127.0.0.1:{port}/sr?key=s3cret",
        }
        stack.declare([erp])
        calls = CallsSince(sim)
        with pytest.raises(PulumiError) as caught:
            stack.up()
    said = caught.value.output
    assert (
        f"verify target of webhook erp failed: http://127.0.0.1:{port}/sr?key=*** answered a "
        "test delivery with connection refused; nothing was written to the shop" in said
    ), said
    assert "s3cret" not in said and not [name for name in CLASS_NAMES if name in said]
    assert calls.writes() == {} and sim.webhooks() == []

    with Receiver(port=port) as receiver:  # the target is fixed
        stack.up()
        assert labels(sim) == ["erp"]
        [test] = receiver.deliveries
        assert test.headers[TEST_HEADER] == "1" and test.path == "/sr?key=s3cret"

        calls = CallsSince(sim)
        stack.up()  # unchanged: nothing sent anywhere
        stack.declare([{**erp, "url": f"http://127.0.0.1:{port}/v2?key=s3cret"}])
        stack.pulumi("preview", "--diff")  # a preview never sends
        assert len(receiver.deliveries) == 1 and calls.all() == []

        stack.up()  # the changed target: one test delivery, then one PUT
        assert [d.path for d in receiver.deliveries] == ["/sr?key=s3cret", "/v2?key=s3cret"]
        assert calls.writes() == {"PUT": 1}


def trigger_in(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m provider trigger --stack`` in the stack's project, as a user runs it."""
    return package_command(
        "trigger", "--stack", stack.stack, *args, cwd=stack.project, env=stack.environment
    )


def test_trigger_sends_a_stacks_declared_targets_their_secret_urls_included(
    stack: LocalStack, sim: SimulatorControl
) -> None:
    with Receiver() as receiver:
        secret_url = f"{receiver.url}/erp?key=very-secret-key"
        stack.declare(
            [
                {"name": "erp", "event": "order_confirm", "url": "https://placeholder.example"},
                {
                    "name": "news",
                    "event": "newsletter_subscribe",
                    "targets": [
                        {"url": f"{receiver.url}/crm", "fields": ["subscriber_email"]},
                        {"url": f"{receiver.url}/archive", "format": "xml"},
                    ],
                },
            ]
        )
        stack.pulumi("config", "set", "--secret", "--path", "webhooks[0].url", secret_url)
        calls = CallsSince(sim)
        done = trigger_in(stack)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "very-secret-key" not in done.stdout and "/erp?key=***" in done.stdout
        assert sorted(d.path for d in receiver.deliveries) == [
            "/archive",
            "/crm",
            "/erp?key=very-secret-key",
        ]
        crm = next(d for d in receiver.deliveries if d.path == "/crm")
        assert crm.data == '{"newsletter":{"subscriber":[{"email":"test-delivery@example.com"}]}}'
        assert calls.all() == []  # nothing asked of the shop

        only = trigger_in(stack, "--webhook", "news")
        assert only.returncode == 0 and len(receiver.deliveries) == 5


def test_replay_sends_a_stacks_missed_orders_to_its_secret_url_once(
    stack: LocalStack, sim: SimulatorControl, tmp_path: Path
) -> None:
    """``replay --stack`` through the real CLI: the declared target's secret URL decrypted
    and masked in the report; what the receiver got live is dropped by its store."""
    handler = HandledOnce(SqliteStore(str(tmp_path / "deliveries.sqlite3")))
    with Receiver(on_delivery=handler) as receiver:
        stack.declare(
            [{"name": "erp", "event": "order_confirm", "url": "https://placeholder.example"}]
        )
        secret_url = f"{receiver.url}/order_confirm?key=very-secret-key"
        stack.pulumi("config", "set", "--secret", "--path", "webhooks[0].url", secret_url)
        stack.up()
        now = shop_now()
        sim.take_down(receiver.url)
        sim.place_order(number=1, at=(now - timedelta(minutes=30)).isoformat())
        sim.bring_up(receiver.url)
        sim.place_order(number=2, at=(now - timedelta(minutes=20)).isoformat())
        assert handler.handled == ["order_confirm:2"]
        done = package_command(
            "replay",
            "--stack",
            stack.stack,
            "--since",
            "1h",
            cwd=stack.project,
            env={**stack.environment, "XDG_CACHE_HOME": str(tmp_path / "cache")},
        )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert "very-secret-key" not in said and "/order_confirm?key=***" in done.stdout
    assert sorted(handler.handled) == ["order_confirm:1", "order_confirm:2"]
    assert [d.headers.get("webhook-id") for d in receiver.deliveries[1:]] == [
        "order_confirm:1",
        "order_confirm:2",
    ]

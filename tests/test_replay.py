"""Replay over the simulator and real HTTP: what a receiver missed while it was down reaches it,
what it already had is dropped by its store, and each order is handled exactly once, whatever
the outages, the window's overlap, or a replay killed and run again."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provider.core.declarations import Declaration
from provider.core.errors import SettingsError
from provider.core.memo import Memo
from provider.core.model import validate_declaration
from provider.deliveries.dedupe import SqliteStore
from provider.replay import (
    READ_AT_HEADER,
    REPLAY_HEADER,
    Checkpoint,
    Sender,
    Window,
    replay,
    send_all,
    window_of,
)
from provider.shoprenter.client import ShoprenterClient
from provider.shoprenter.orders import OrderReader
from provider.shoprenter.settings import ConnectionSettings
from sandbox.simulator.control import SimulatorControl
from sandbox.simulator.orders import shop_now
from sandbox.simulator.receiver import HandledOnce, Receiver
from tests.helpers import FAST, package_command

EVENTS = ("order_confirm", "order_status_change")


def declared(receiver_url: str, **overrides: Any) -> list[Declaration]:
    """Two webhooks as a stack declares them: confirmations as JSON with every field, status
    changes as XML with a few (the key's parts among them)."""
    entries: list[dict[str, Any]] = [
        {"event": "order_confirm", "url": f"{receiver_url}/order_confirm"},
        {
            "event": "order_status_change",
            "url": f"{receiver_url}/order_status_change",
            "format": "xml",
            "fields": ["order_innerId", "orderHistory_status", "orderHistory_dateAdded"],
        },
    ]
    found = []
    for entry in entries:
        webhook, failures = validate_declaration(
            {"label": entry["event"], **entry, **overrides.get(entry["event"], {})}
        )
        assert webhook is not None, failures
        found.append(Declaration(entry["event"], webhook))
    return found


def hooks_on_shop(sim: SimulatorControl, declarations: list[Declaration]) -> None:
    for declaration in declarations:
        sim.add_webhook(declaration.webhook.to_api_body())


def reader_of(sim: SimulatorControl, pace: float = FAST) -> OrderReader:
    """A reader of the simulated shop, pacing itself at ``pace`` requests a second (the
    shop's own 3 where pacing is what a test is about)."""
    connection = sim.connection(requestsPerSecond=str(pace))
    config = {f"shoprenter:{key}": value for key, value in connection.items()}
    settings = ConnectionSettings.resolve(config.get, {})
    return OrderReader(ShoprenterClient(settings))


def shop_keys(sim: SimulatorControl) -> list[str]:
    """The key of every delivery the shop made, from its own record of its orders."""
    keys = []
    for order in sim.orders():
        keys.append(f"order_confirm:{order['number']}")
        for change in order["history"][1:]:
            keys.append(f"order_status_change:{order['number']}:{change['status']}:{change['at']}")
    return sorted(keys)


def live_traffic(
    sim: SimulatorControl, receiver_url: str, start: datetime, downs: list[bool]
) -> None:
    """One event per entry of ``downs`` (an order placed, or an earlier order's status moved),
    a minute apart, the receiver down for those marked ``True``."""
    rng = random.Random(len(downs))
    placed: list[int] = []
    for step, down in enumerate(downs):
        (sim.take_down if down else sim.bring_up)(receiver_url)
        at = (start + timedelta(minutes=step)).isoformat()
        if placed and rng.random() < 0.4:
            sim.change_status(rng.choice(placed), status=rng.choice([2, 3, 4]), at=at)
        else:
            placed.append(100 + step)
            sim.place_order(number=100 + step, at=at)
    sim.bring_up(receiver_url)


@pytest.fixture
def handled(tmp_path: Path) -> Iterator[tuple[Receiver, HandledOnce]]:
    handler = HandledOnce(SqliteStore(str(tmp_path / "deliveries.sqlite3")))
    with Receiver(on_delivery=handler) as receiver:
        yield receiver, handler


def test_an_outage_is_replayed_and_every_order_handled_exactly_once(
    sim: SimulatorControl, handled: tuple[Receiver, HandledOnce], tmp_path: Path
) -> None:
    receiver, handler = handled
    sim.settings(rateLimit=3.0)  # the shop's own pace, shared with any up
    declarations = declared(receiver.url)
    hooks_on_shop(sim, declarations)
    start = shop_now() - timedelta(hours=2)
    rng = random.Random(7)
    downs = [rng.random() < 0.35 for _ in range(36)]
    live_traffic(sim, receiver.url, start, downs)
    lost = [d for d in sim.deliveries() if d["outcome"].startswith("failed")]
    assert lost and len(handler.handled) < len(shop_keys(sim))

    window = Window(start, shop_now() + timedelta(seconds=1))
    sender = Sender(backoff=0.01)
    checkpoint = Checkpoint(Memo(tmp_path / "checkpoint.json"), "run", window.since)
    _, sent = replay(
        declarations,
        reader_of(sim, pace=3.0),
        window,
        now=window.until,
        sender=sender,
        checkpoint=checkpoint,
    )
    assert all(s.delivered for s in sent) and len(sent) == len(shop_keys(sim))
    assert sorted(handler.handled) == shop_keys(sim)  # every delivery, each exactly once
    replayed = [d for d in receiver.deliveries if REPLAY_HEADER in d.headers]
    assert {d.headers["webhook-id"] for d in replayed} == set(shop_keys(sim))
    assert all(d.headers[REPLAY_HEADER] == sender.run_id for d in replayed)
    assert all(READ_AT_HEADER in d.headers and "webhook-timestamp" in d.headers for d in replayed)
    # Oldest first.
    times = [s.due.happening.at for s in sent]
    assert times == sorted(times)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    downs=st.lists(st.booleans(), min_size=1, max_size=14),
    overlap=st.integers(0, 20),
    killed_after=st.integers(0, 20),
)
def test_any_outage_any_overlap_and_a_killed_replay_still_give_exactly_once(
    sim: SimulatorControl,
    tmp_path_factory: pytest.TempPathFactory,
    downs: list[bool],
    overlap: int,
    killed_after: int,
) -> None:
    sim.reset(rateLimit=None)
    scratch = tmp_path_factory.mktemp("replay")
    handler = HandledOnce(SqliteStore(str(scratch / "deliveries.sqlite3")))
    with Receiver(on_delivery=handler) as receiver:
        declarations = declared(receiver.url)
        hooks_on_shop(sim, declarations)
        start = shop_now() - timedelta(hours=1)
        live_traffic(sim, receiver.url, start, downs)
        # The window starts at the first outage, less up to `overlap` minutes before it.
        first_down = downs.index(True) if True in downs else len(downs)
        since = start + timedelta(minutes=first_down - overlap)
        window = Window(since, shop_now() + timedelta(seconds=1))
        checkpoint_file = scratch / "checkpoint.json"

        def run(limit: int | None) -> list[Any]:
            checkpoint = Checkpoint(Memo(checkpoint_file), "run", window.since)
            planned, _ = replay(declarations, reader_of(sim), window, now=window.until)
            sent = send_all(planned.due, Sender(backoff=0.01), checkpoint)
            if limit is None:
                return list(sent)
            return [s for _, s in zip(range(limit), sent, strict=False)]

        first = run(killed_after)  # killed after some sends
        again = run(None)  # the same arguments again
        assert sorted(handler.handled) == shop_keys(sim)
        resent = [s for s in again if not s.resumed]
        assert all(s.resumed for s in again[: len(first)])  # nothing acknowledged is sent again
        assert len(first) + len(resent) == len(again)


def test_a_delayed_webhook_is_replayed_only_once_due(
    sim: SimulatorControl, handled: tuple[Receiver, HandledOnce]
) -> None:
    receiver, _ = handled
    declarations = declared(receiver.url, order_confirm={"delay": {"amount": 2, "unit": "hour"}})[
        :1
    ]
    now = shop_now()
    sim.place_order(number=1, at=(now - timedelta(hours=3)).isoformat())
    sim.place_order(number=2, at=(now - timedelta(hours=1)).isoformat())
    planned, _ = replay(
        declarations, reader_of(sim), Window(now - timedelta(hours=4), now), now=now
    )
    assert [d.happening.order for d in planned.due] == ["1"]
    assert [(d.happening.order, d.due) for d in planned.not_yet_due] == [
        ("2", now + timedelta(hours=1))
    ]


def test_newsletter_events_are_refused_with_the_reason(sim: SimulatorControl) -> None:
    webhook, _ = validate_declaration(
        {"event": "newsletter_subscribe", "label": "crm", "url": "https://crm.example.com/in"}
    )
    assert webhook is not None
    now = shop_now()
    with pytest.raises(SettingsError, match="no filter for subscribers changed since a time"):
        replay([Declaration("crm", webhook)], reader_of(sim), Window(now, now), now=now)


def test_a_window_older_than_the_retention_is_refused_unless_forced() -> None:
    now = datetime(2026, 12, 7, 3, 0)
    assert window_of("25h", None, now, timedelta(days=30), False).since == datetime(
        2026, 12, 6, 2, 0
    )
    with pytest.raises(SettingsError, match="more than 30 days ago"):
        window_of("2026-10-01T00:00:00", None, now, timedelta(days=30), False)
    assert window_of("2026-10-01T00:00:00", None, now, timedelta(days=30), True)
    with pytest.raises(SettingsError, match="is not a time"):
        window_of("yesterday", None, now, timedelta(days=30), False)


def test_a_target_that_stays_down_is_retried_then_reported(
    sim: SimulatorControl, tmp_path: Path
) -> None:
    sim.place_order(number=1)
    with Receiver() as receiver:
        dead = f"{receiver.url}/answer/503/order_confirm"
        declarations = declared(dead)[:1]
        now = shop_now() + timedelta(seconds=1)
        checkpoint = Checkpoint(Memo(tmp_path / "c.json"), "run", now - timedelta(hours=1))
        waits: list[float] = []
        sender = Sender(attempts=3, backoff=0.5, sleep=waits.append)
        _, [sent] = replay(
            declarations,
            reader_of(sim),
            Window(now - timedelta(hours=1), now),
            now=now,
            sender=sender,
            checkpoint=checkpoint,
        )
        assert len(receiver.deliveries) == 3
    assert (sent.delivered, sent.attempts, sent.answer) == (
        False,
        3,
        "HTTP 503 Service Unavailable",
    )
    assert waits == [0.5, 1.0]


def test_the_shops_429s_slow_a_replay_down_and_never_end_it(
    sim: SimulatorControl, handled: tuple[Receiver, HandledOnce], tmp_path: Path
) -> None:
    receiver, handler = handled
    sim.settings(rateLimit=3.0)
    for number in range(1, 4):
        sim.place_order(number=number)
    sim.fault("GET", "/orderExtend", status=429, count=2)
    sim.fault("GET", "/orderHistories", status=429, count=1)
    now = shop_now() + timedelta(seconds=1)
    window = Window(now - timedelta(hours=1), now)
    checkpoint = Checkpoint(Memo(tmp_path / "c.json"), "run", window.since)
    _, sent = replay(
        declared(receiver.url)[:1],
        reader_of(sim, pace=3.0),
        window,
        now=now,
        sender=Sender(),
        checkpoint=checkpoint,
    )
    assert len(sent) == 3 and sorted(handler.handled) == [f"order_confirm:{n}" for n in (1, 2, 3)]


def test_the_command_dry_run_lists_and_sends_nothing(sim: SimulatorControl, tmp_path: Path) -> None:
    sim.place_order(number=41, at=(shop_now() - timedelta(minutes=1)).isoformat())
    env = {
        f"SHOPRENTER_{name}": value
        for name, value in {
            "API_URL": sim.api_url,
            "TOKEN_URL": sim.token_url,
            "CLIENT_ID": "demo-client",
            "CLIENT_SECRET": "demo-secret",
        }.items()
    }
    with Receiver() as receiver:
        url = f"{receiver.url}/order_confirm?key=very-secret"
        args = ["replay", "order_confirm", "--url", url, "--since", "1h"]
        report = tmp_path / "report.json"
        done = package_command(*args, "--dry-run", "--json", str(report), env={**os.environ, **env})
        assert done.returncode == 0, done.stderr
        assert receiver.deliveries == []
        assert "very-secret" not in done.stdout + done.stderr + report.read_text()
        [row] = json.loads(report.read_text())["deliveries"]
        assert (row["order"], row["key"], row["answer"]) == (
            "41",
            "order_confirm:41",
            "dry run: not sent",
        )
        assert row["target"].endswith("/order_confirm?key=***")

        sent = package_command(*args, env={**os.environ, **env, "XDG_CACHE_HOME": str(tmp_path)})
        assert sent.returncode == 0, sent.stderr
        assert [d.headers["webhook-id"] for d in receiver.deliveries] == ["order_confirm:41"]
        again = package_command(*args, env={**os.environ, **env, "XDG_CACHE_HOME": str(tmp_path)})
        assert again.returncode == 0 and "acknowledged in an earlier run" in again.stdout
        assert len(receiver.deliveries) == 1

"""Both delivery stores keep one contract: one winner per key among threads and processes,
a failed handler's key released, a dead claimant's lease taken over, keys forgotten after the
retention. PostgreSQL is a real server on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from provider.deliveries.dedupe import DeliveryStore, PostgresStore, SqliteStore
from sandbox.backends import postgres
from sandbox.local_engine import ROOT


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """The server CI started (``python -m sandbox.backends``), or one of our own."""
    if os.environ.get("SANDBOX_POSTGRES_URL"):
        yield os.environ["SANDBOX_POSTGRES_URL"]
        return
    with postgres() as url:
        yield url


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """How to open one fresh store of each kind (a new table name keeps tests apart)."""
    if request.param == "sqlite":
        return {"kind": "sqlite", "where": str(tmp_path / "deliveries.sqlite3")}
    url = request.getfixturevalue("postgres_url")
    database = f"receiver_{uuid.uuid4().hex[:8]}"
    import psycopg  # noqa: PLC0415 (the optional extra, installed for the tests)

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {database}")
    return {"kind": "postgres", "where": url.replace("/pulumi?", f"/{database}?")}


def open_store(spec: dict[str, str], **options: Any) -> DeliveryStore:
    if spec["kind"] == "sqlite":
        return SqliteStore(spec["where"], **options)
    return PostgresStore(spec["where"], **options)


def test_the_first_claim_wins_and_the_copies_are_told_apart(spec: dict[str, str]) -> None:
    store = open_store(spec)
    first = store.claim("order_confirm:1")
    assert first.fresh
    assert store.claim("order_confirm:1").outcome == "busy"  # being handled right now
    assert store.done(first)
    assert store.claim("order_confirm:1").outcome == "done"  # a duplicate: drop it
    assert store.state("order_confirm:1") == "done" and store.state("other") is None


def test_a_failed_handler_releases_the_key_for_the_next_copy(spec: dict[str, str]) -> None:
    store = open_store(spec)
    with pytest.raises(RuntimeError), store.once("order_confirm:2") as claim:
        assert claim.fresh
        raise RuntimeError("the ERP is down")
    assert store.state("order_confirm:2") is None
    with store.once("order_confirm:2") as again:
        assert again.fresh
    with store.once("order_confirm:2") as copy:
        assert copy.outcome == "done"


def test_a_dead_claimants_lease_is_taken_over(spec: dict[str, str]) -> None:
    clock = Clock()
    store = open_store(spec, clock=clock, lease=60.0)
    dead = store.claim("order_confirm:3")
    clock.now += 30
    assert store.claim("order_confirm:3").outcome == "busy"
    clock.now += 31
    alive = store.claim("order_confirm:3")
    assert alive.fresh
    assert not store.done(dead)  # the dead one's late word changes nothing
    assert store.done(alive) and store.state("order_confirm:3") == "done"


def test_keys_are_forgotten_after_the_retention(spec: dict[str, str]) -> None:
    clock = Clock()
    store = open_store(spec, clock=clock, retention=timedelta(days=30))
    for key in ("old", "recent"):
        store.done(store.claim(key))
        clock.now += 20 * 86400
    assert store.purge() == 1  # "old" is 40 days old, "recent" 20
    assert store.state("old") is None and store.state("recent") == "done"
    assert store.claim("old").fresh


def test_concurrent_threads_have_one_winner_per_key(spec: dict[str, str]) -> None:
    store = open_store(spec)
    keys = [f"order_confirm:{n}" for n in range(50)]

    def claim_all(_: int) -> list[str]:
        return [key for key in keys if store.claim(key).fresh]

    with ThreadPoolExecutor(8) as pool:
        won = [key for keys_won in pool.map(claim_all, range(8)) for key in keys_won]
    assert sorted(won) == sorted(keys)


CLAIMANT = """
import json, sys
from provider.deliveries.dedupe import PostgresStore, SqliteStore
spec = json.loads(sys.argv[1])
store = (SqliteStore if spec["kind"] == "sqlite" else PostgresStore)(spec["where"])
won = []
for n in range(120):
    claim = store.claim(f"order_confirm:{n}")
    if claim.fresh:
        won.append(n)
        store.done(claim)
print(json.dumps(won))
"""


def test_concurrent_processes_have_one_winner_per_key(spec: dict[str, str]) -> None:
    open_store(spec)  # the table, before the race
    claimants = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMANT, json.dumps(spec)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    won: list[int] = []
    for claimant in claimants:
        out, err = claimant.communicate(timeout=120)
        assert claimant.returncode == 0, err
        won += json.loads(out)
    assert sorted(won) == list(range(120))

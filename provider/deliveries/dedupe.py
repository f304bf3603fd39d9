"""A receiver's memory of the deliveries it handled, so that each is handled exactly once.

Shoprenter sends a delivery once; ``replay`` sends again what a receiver may have missed. A
receiver that remembers each delivery's key (:func:`provider.deliveries.receive.delivery_key`)
takes the first copy and drops the rest::

    store = SqliteStore("deliveries.sqlite3")
    with store.once(key) as claim:
        if claim.fresh:
            handle(order)          # raises: the key is released, the next copy is handled

* :meth:`DeliveryStore.claim` before the work: of several claimants of one key (threads,
  processes, hosts) exactly one gets a fresh claim; the others learn that the key is done
  (a duplicate) or busy (being handled elsewhere right now: answer so that a sender retries).
* :meth:`DeliveryStore.done` when the work is done; :meth:`DeliveryStore.release` when it
  failed, so that the next copy is handled. A claim whose claimant died is taken over after
  ``lease`` seconds.
* Keys are kept for ``retention`` (30 days by default): a copy older than that is handled
  again, which is why ``replay`` refuses a window older than the retention it is told.

Two stores, one contract (and one set of tests): :class:`SqliteStore` (the standard library's
SQLite, safe across the threads and processes of one host) and :class:`PostgresStore` (for
receivers on several hosts; ``pip install shoprenter-webhooks[postgres]``, psycopg 3).
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, Optional

__all__ = ["RETENTION", "Claim", "DeliveryStore", "PostgresStore", "SqliteStore"]

#: How long a handled key is remembered by default.
RETENTION = timedelta(days=30)
#: How long a claim holds before another claimant may take it over (its holder presumed dead).
LEASE_SECONDS = 300.0
TABLE = "shoprenter_deliveries"
Outcome = Literal["fresh", "done", "busy"]

_CREATE = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    key TEXT PRIMARY KEY, state TEXT NOT NULL, token TEXT NOT NULL, since DOUBLE PRECISION NOT NULL
)"""
# A new key, or a claim whose lease ran out, becomes ours; a live claim or a done key stays.
_CLAIM = f"""INSERT INTO {TABLE} (key, state, token, since) VALUES (?, 'claimed', ?, ?)
ON CONFLICT (key) DO UPDATE SET token = excluded.token, since = excluded.since
WHERE {TABLE}.state = 'claimed' AND {TABLE}.since < ?"""
_STATE = f"SELECT state FROM {TABLE} WHERE key = ?"
_DONE = f"UPDATE {TABLE} SET state = 'done', since = ? WHERE key = ? AND token = ?"
_RELEASE = f"DELETE FROM {TABLE} WHERE key = ? AND token = ? AND state = 'claimed'"
_PURGE = f"DELETE FROM {TABLE} WHERE since < ?"


@dataclass(frozen=True)
class Claim:
    """The answer to a claim: ``fresh`` (handle it), ``done`` (a duplicate: drop it) or
    ``busy`` (another claimant is handling it now)."""

    key: str
    outcome: Outcome
    token: str = ""

    @property
    def fresh(self) -> bool:
        return self.outcome == "fresh"


class DeliveryStore(ABC):
    """The keys of the deliveries a receiver handled (see the module's docstring)."""

    def __init__(
        self,
        retention: timedelta = RETENTION,
        lease: float = LEASE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.retention, self.lease, self.clock = retention, lease, clock

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any]) -> tuple[int, Optional[tuple[Any, ...]]]:
        """Run one statement on its own (autocommit): the rows it changed, its first row."""

    def claim(self, key: str) -> Claim:
        """Claim ``key`` before handling its delivery; exactly one concurrent claimant wins."""
        token = secrets.token_hex(16)
        for _ in range(3):  # a key released between our insert and our look is claimed again
            now = self.clock()
            changed, _ = self._execute(_CLAIM, (key, token, now, now - self.lease))
            if changed:
                return Claim(key, "fresh", token)
            _, row = self._execute(_STATE, (key,))
            if row is not None:
                return Claim(key, "done" if row[0] == "done" else "busy")
        return Claim(key, "busy")

    def done(self, claim: Claim) -> bool:
        """Mark a fresh claim's delivery handled; ``False`` when the claim was lost (its
        lease ran out and another claimant took it over)."""
        changed, _ = self._execute(_DONE, (self.clock(), claim.key, claim.token))
        return changed == 1

    def release(self, claim: Claim) -> None:
        """Give a fresh claim back (its handling failed): the next copy is handled."""
        self._execute(_RELEASE, (claim.key, claim.token))

    def state(self, key: str) -> Optional[str]:
        """``"claimed"``, ``"done"`` or ``None`` (not known, or forgotten)."""
        _, row = self._execute(_STATE, (key,))
        return None if row is None else str(row[0])

    def purge(self) -> int:
        """Forget keys older than the retention; how many were forgotten."""
        changed, _ = self._execute(_PURGE, (self.clock() - self.retention.total_seconds(),))
        return changed

    @contextmanager
    def once(self, key: str) -> Iterator[Claim]:
        """Claim ``key`` for the ``with`` block: done when a fresh claim's block ends, released
        when it raises."""
        claim = self.claim(key)
        if not claim.fresh:
            yield claim
            return
        try:
            yield claim
        except BaseException:
            self.release(claim)
            raise
        self.done(claim)


class SqliteStore(DeliveryStore):
    """The keys in an SQLite file: safe across the threads and processes of one host (each
    statement is its own transaction; a writer waits up to ``timeout`` seconds for another)."""

    def __init__(self, path: str, *, timeout: float = 30.0, **options: Any) -> None:
        super().__init__(**options)
        self.path, self.timeout = path, timeout
        self._local = threading.local()
        self._connection().execute("PRAGMA journal_mode=WAL")
        self._execute(_CREATE, ())
        self.purge()

    def _connection(self) -> sqlite3.Connection:
        connection: Optional[sqlite3.Connection] = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            self._local.connection = connection
        return connection

    def _execute(self, sql: str, params: Sequence[Any]) -> tuple[int, Optional[tuple[Any, ...]]]:
        cursor = self._connection().execute(sql, tuple(params))
        return cursor.rowcount, cursor.fetchone()


class PostgresStore(DeliveryStore):
    """The keys in a PostgreSQL table, for receivers on several hosts (psycopg 3; ``conninfo``
    as psycopg takes it, e.g. ``postgresql://user@db/receiver``)."""

    def __init__(self, conninfo: str, **options: Any) -> None:
        try:
            import psycopg  # noqa: PLC0415 (an optional extra: only this store needs it)
        except ImportError:
            raise ImportError(
                "PostgresStore needs psycopg 3: pip install 'shoprenter-webhooks[postgres]'"
            ) from None
        super().__init__(**options)
        self._psycopg = psycopg
        self.conninfo = conninfo
        self._local = threading.local()
        self._execute(_CREATE, ())
        self.purge()

    def _execute(self, sql: str, params: Sequence[Any]) -> tuple[int, Optional[tuple[Any, ...]]]:
        connection = getattr(self._local, "connection", None)
        if connection is None or connection.closed:
            connection = self._psycopg.connect(self.conninfo, autocommit=True)
            self._local.connection = connection
        cursor = connection.execute(sql.replace("?", "%s"), tuple(params))
        row = cursor.fetchone() if cursor.description else None
        return cursor.rowcount, row

"""``make bench``: how close reconciling webhooks runs to Shoprenter's own rate limit.

Every figure is measured in this one run against the simulator on loopback, and printed
with its floor and the ratio between them:

1. provider level, shop limit 3 req/s: create, update, delete N=30 webhooks from 4 threads;
2. the real engine, shop limit 3 req/s: ``pulumi up`` of N=30, ``preview`` and ``up`` with no
   change, one edited webhook, ``destroy``; the engine's own fixed cost is measured on an
   empty stack and reported beside them;
3. no shop limit, 30 ms latency, pacing raised: ``pulumi up`` of N=100 against N x 30 ms / 4;
4. start-up: importing ``provider`` after ``pulumi.dynamic``, and the provider process's peak
   memory during row 3;
5. ``pulumi up`` creating N=60 at 3 req/s under each way a shop may count its limit (token
   bucket, sliding window, fixed window), with arrivals moved by ±30 ms: 429s (goal 0) and
   wall time against the floor of the calls needed (goal at most 1.10);
6. an unchanged ``pulumi up`` started as a background job (SIGINT ignored) against the same
   up in the foreground (it used to wait 5 s for the engine to kill its plugins);
8. the fleet: ``python -m provider.fleet up`` of 20 simulated shops x 6 hooks at 3 req/s each,
   concurrency 4: wall time against the best concurrency 4 allows (the slowest shop, or the sum
   of the shops' times / 4) and against the sum (the serial cost);
9. state backends: ``pulumi up`` creating N=30 and an unchanged ``up`` of N=200 on file://,
   postgres:// (a real server) and s3:// (moto), engine ms per resource (no shop limit);
10. ``PULUMI_SKIP_CHECKPOINTS=true``: the same create of N=100 with and without it;
11. each plugin set: an unchanged ``pulumi up`` of N=20 and N=200 with the stand-in plugins,
    with Pulumi's official ones, and with the official ones over a virtualenv of the runtime
    requirements alone; and what the official language host's dependency check (``pip list``)
    costs per program run in each virtualenv;
7. the shop's whole webhook set at 3 req/s: ``python -m provider export`` of 500 webhooks
   (pages of 200) against its calls / 3, and a refresh of 10 managed webhooks among 500 with
   the inventory against the same refresh without it plus the inventory's calls / 3.

12. refreshes read from the collection: the drift check (``preview --refresh``) and an
    unchanged ``up --refresh`` of 40 and of 200 managed webhooks at 3 req/s, against their
    pages and a token per refresh at 3 per second plus the same command without a refresh;
    and the fleet's ``drift`` over the 20 shops of row 8.

13. the go-live check (``verifyTargets``), targets on a loopback receiver, shop limit 3 req/s:
    a create of N=10, one changed target, and an unchanged ``up``, each with the check off and
    on in the same run (best of 2, alternating): the seconds each changed target adds, and the
    test deliveries sent (goal: none on an unchanged ``up``).

14. the engine's floor: an unchanged ``pulumi up`` and ``pulumi preview`` of N = 0, 20, 200
    and 2,000 webhooks against the same command on a stack of as many of the simplest dynamic
    resources (:mod:`sandbox.floor`: no I/O, inputs of the same shape; N + 1 of them, as ours
    has the inventory beside its N webhooks), alternating A B A B;
    the best and the median ratio (goal at most 1.15), and each provider process's peak memory
    during the unchanged ``up`` at the largest N. Each ``up`` and ``preview`` is measured as
    a machine that ran the stack before runs it (the program's memo of validated declarations
    kept, :mod:`provider.core.memo`) and as a fresh CI runner does (the memo cleared before
    each run).

15. a receiver under hostile bodies: :func:`provider.receive.parse` of about 1 MB of each kind
    (a real delivery of many orders, JSON nested half a million deep, XML nested 140,000 deep,
    a price of a million nines, a megabyte of orders priced ``1e999999999``), best of 3, as
    seconds per megabyte against ``json.loads`` of as many bytes of the real delivery.

16. replay (:mod:`provider.replay`) of 1,000 confirmed orders at the shop's 3 req/s, each sent
    to a loopback receiver: wall time and calls against the reads it needs (pages of 200, a
    status history per order, the status names) at 3 per second.

17. a receiver's work per delivery, 2,000 deliveries of one order: ``parse`` of the form
    Shoprenter posts against ``parse`` of the same payload as raw JSON (goal at most 1.5), and
    parse + claim + done in each store (SQLite on local disk, PostgreSQL on loopback) against
    ``json.loads`` of the payload.

``make bench ROWS=2,11`` runs only those rows (``FLOOR_SIZES=0,200`` narrows row 14). No timed
assertion anywhere: these are figures to read, not tests.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from pulumi.dynamic import Config, ConfigureRequest

from provider import WebhookProvider
from provider.core.declarations import Declaration
from provider.core.memo import Memo
from provider.core.model import validate_declaration
from provider.deliveries.builder import payload, render
from provider.deliveries.dedupe import DeliveryStore, PostgresStore, SqliteStore
from provider.deliveries.receive import DeliveryError, parse
from provider.replay import Checkpoint, Sender, Window, replay
from provider.shoprenter.client import PAGE_LIMIT, ShoprenterClient
from provider.shoprenter.orders import OrderReader
from provider.shoprenter.settings import ConnectionSettings, stack_config
from sandbox import backends, floor
from sandbox.gitops import ShopRepo
from sandbox.local_engine import (
    ROOT,
    LocalStack,
    PluginsUnavailable,
    pulumi_binary,
    shoprenter_variables,
)
from sandbox.simulator import Simulator, SimulatorControl
from sandbox.simulator.limits import LIMITERS
from sandbox.simulator.orders import shop_now
from sandbox.simulator.receiver import Receiver

SHOP_LIMIT = 3.0

ENGINE_THREADS = 4
ROW3_LATENCY_MS = 30.0


@dataclass
class Row:
    name: str
    seconds: float
    floor: float
    calls: Counter[str]
    refused: int
    note: str = ""

    def cells(self) -> list[str]:
        ratio = f"{self.seconds / self.floor:.2f}" if self.floor else "-"
        calls = " ".join(f"{method} {count}" for method, count in sorted(self.calls.items()))
        return [
            self.name,
            f"{self.seconds:.2f}",
            f"{self.floor:.2f}",
            ratio,
            calls or "none",
            str(self.refused),
            self.note,
        ]


def webhook(number: int, receiver: str = "https://hooks.example.com") -> dict[str, Any]:
    return {
        "name": f"hook-{number:03}",
        "event": "order_confirm",
        "url": f"{receiver}/{number}",
        "fields": ["order_innerId"],
    }


def webhook_props(number: int) -> dict[str, Any]:
    """The provider's property bag for :func:`webhook` (its name becomes the label)."""
    props = webhook(number)
    props["label"] = props.pop("name")
    return props


def api_calls(control: SimulatorControl, since: int) -> tuple[Counter[str], int, int]:
    """Calls to the webHooks API by method, 429 answers, and token requests, since ``since``."""
    log = control.requests()[since:]
    api = [call for call in log if "/webHooks" in call["path"]]
    tokens = sum(1 for call in log if call["path"].endswith("/app/token"))
    refused = sum(1 for call in api if call["status"] == 429)
    return Counter(call["method"] for call in api), refused, tokens


def measure(
    control: SimulatorControl, action: Callable[[], object]
) -> tuple[float, Counter[str], int, int]:
    since = len(control.requests())
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    calls, refused, tokens = api_calls(control, since)
    return seconds, calls, refused, tokens


# -- row 1 -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conditions:
    """The shop's limit and latency, and the provider's pace, for one set of rows."""

    label: str
    shop_limit: float | None
    latency_ms: float
    pace: float

    def floor(self, calls: int) -> float:
        """The least time ``calls`` can take: the shop's limit, or latency over 4 threads."""
        if self.shop_limit:
            return calls / self.shop_limit
        return calls * self.latency_ms / 1000 / ENGINE_THREADS


AT_SHOP_LIMIT = Conditions("1. provider", SHOP_LIMIT, 0.0, SHOP_LIMIT)
UNLIMITED = Conditions("3. provider, 30 ms, no limit:", None, ROW3_LATENCY_MS, 1000.0)


def provider_rows(simulator: Simulator, count: int, conditions: Conditions) -> list[Row]:
    """Create, update and delete ``count`` webhooks from 4 threads, as the engine would."""
    control = SimulatorControl(simulator.url)
    control.reset(rateLimit=conditions.shop_limit, latencyMs=conditions.latency_ms)
    config = stack_config(control.connection(requestsPerSecond=str(conditions.pace)))
    provider = WebhookProvider()
    provider.configure(ConfigureRequest(Config(config, "shoprenter-webhooks")))
    declared = [provider.check({}, webhook_props(n)).inputs for n in range(count)]
    created: list[Any] = []

    def create_all() -> None:
        created.extend(pool.map(provider.create, declared))

    def update_all() -> None:
        list(
            pool.map(lambda c: provider.update(c.id, c.outs, {**c.outs, "enabled": False}), created)
        )

    def delete_all() -> None:
        list(pool.map(lambda c: provider.delete(c.id, c.outs), created))

    rows = []
    with ThreadPoolExecutor(ENGINE_THREADS) as pool:
        for name, action in (
            ("create", create_all),
            ("update", update_all),
            ("delete", delete_all),
        ):
            seconds, calls, refused, _tokens = measure(control, action)
            floor = conditions.floor(sum(calls.values()))
            label = f"{conditions.label} {name} N={count}, 4 threads"
            rows.append(Row(label, seconds, floor, calls, refused))
    control.reset()
    return rows


# -- rows 2 and 3 ----------------------------------------------------------------------------


def engine_rows(simulator: Simulator, binary: Path, scratch: Path, count: int) -> list[Row]:
    control = SimulatorControl(simulator.url)
    control.reset(rateLimit=SHOP_LIMIT)
    stack = LocalStack(scratch / "row2", binary, stack="bench")
    stack.create(control.connection(requestsPerSecond=str(SHOP_LIMIT)))

    stack.declare([])
    stack.up()  # warm the plugin and file backend once
    empty_up = min(measure(control, stack.up)[0] for _ in range(3))
    empty_preview = min(measure(control, lambda: stack.pulumi("preview"))[0] for _ in range(3))

    hooks = [webhook(n) for n in range(count)]
    edited = [{**hooks[0], "enabled": False}, *hooks[1:]]

    def up_with(webhooks: list[dict[str, Any]]) -> Callable[[], object]:
        def run() -> object:
            stack.declare(webhooks)
            return stack.up()

        return run

    steps: list[tuple[str, Callable[[], object], float]] = [
        (f"2. pulumi up, create N={count}", up_with(hooks), empty_up),
        ("2. pulumi preview, no change", lambda: stack.pulumi("preview"), empty_preview),
        ("2. pulumi up, no change", stack.up, empty_up),
        ("2. pulumi up, 1 edited", up_with(edited), empty_up),
        (f"2. pulumi destroy N={count}", lambda: stack.pulumi("destroy", "--yes"), empty_up),
    ]
    rows = [
        Row("2. engine fixed cost: up, empty stack", empty_up, 0, Counter(), 0),
        Row("2. engine fixed cost: preview, empty", empty_preview, 0, Counter(), 0),
    ]
    for name, action, fixed in steps:
        seconds, calls, refused, tokens = measure(control, action)
        floor = sum(calls.values()) / SHOP_LIMIT + fixed
        rows.append(Row(name, seconds, floor, calls, refused, f"token {tokens}"))
    unchanged, edited_row = rows[4], rows[5]
    rows.append(same_size_row(edited_row, unchanged.seconds, count))
    return rows


def same_size_row(row: Row, unchanged_seconds: float, count: int) -> Row:
    """``row`` against a floor whose engine cost is an unchanged ``up`` of the same stack.

    The empty-stack cost leaves out what the engine spends per resource (registration,
    check, diff, state writes) even when nothing changes; this floor keeps it in.
    """
    floor = sum(row.calls.values()) / SHOP_LIMIT + unchanged_seconds
    note = f"floor: calls/3 + unchanged up of N={count} ({unchanged_seconds:.2f} s)"
    return Row(row.name + " (same-size floor)", row.seconds, floor, row.calls, row.refused, note)


def unlimited_rows(
    simulator: Simulator, binary: Path, scratch: Path, count: int
) -> tuple[list[Row], Row, int]:
    control = SimulatorControl(simulator.url)
    control.reset(rateLimit=None, latencyMs=ROW3_LATENCY_MS)
    stack = LocalStack(scratch / "row3", binary, stack="bench")
    stack.create(control.connection(requestsPerSecond="1000"))
    stack.declare([])
    stack.up()
    empty_up = min(measure(control, stack.up)[0] for _ in range(2))
    stack.declare([webhook(n) for n in range(count)])
    watcher = PeakMemory()
    with watcher:
        seconds, calls, refused, _tokens = measure(control, stack.up)
    floor = count * ROW3_LATENCY_MS / 1000 / ENGINE_THREADS
    row = Row(
        f"3. pulumi up, create N={count}, 30 ms, no limit",
        seconds - empty_up,
        floor,
        calls,
        refused,
        f"wall {seconds:.2f} s less fixed {empty_up:.2f} s",
    )
    unchanged = min(measure(control, stack.up)[0] for _ in range(3))
    background = min(
        measure(control, lambda: stack.pulumi("up", "--yes", sigint_ignored=True))[0]
        for _ in range(3)
    )
    stack.pulumi("destroy", "--yes")
    control.reset()
    same_size = Row(
        f"3. the same, less an unchanged up of N={count}",
        seconds - unchanged,
        floor,
        calls,
        refused,
        f"unchanged up of N={count}: {unchanged:.2f} s",
    )
    as_background_job = Row(
        f"6. pulumi up, no change, N={count}, SIGINT ignored (background job)",
        background,
        unchanged,
        Counter(),
        0,
        "floor: the same up in the foreground",
    )
    return [row, same_size], as_background_job, watcher.peak_kib


def limiter_rows(simulator: Simulator, binary: Path, scratch: Path, count: int) -> list[Row]:
    """``pulumi up`` of ``count`` new hooks under each limiter, with ±30 ms arrival jitter.

    The floor is the calls the up needs (one collection read, one POST per hook) at the
    shop's rate, plus the engine's fixed cost on an empty stack.
    """
    control = SimulatorControl(simulator.url)
    rows = []
    for limiter in LIMITERS:
        control.reset(rateLimit=SHOP_LIMIT, limiter=limiter, jitterMs=60.0)
        stack = LocalStack(scratch / f"row5-{limiter}", binary, stack="bench")
        stack.create(control.connection(requestsPerSecond=str(SHOP_LIMIT)))
        stack.declare([])
        stack.up()
        empty_up = min(measure(control, stack.up)[0] for _ in range(2))
        stack.declare([webhook(n) for n in range(count)])
        seconds, calls, refused, _tokens = measure(control, stack.up)
        floor = (count + 1) / SHOP_LIMIT + empty_up
        note = f"{sum(calls.values())} calls for the {count + 1} needed"
        rows.append(
            Row(f"5. pulumi up N={count}, {limiter}, ±30 ms", seconds, floor, calls, refused, note)
        )
    control.reset()
    return rows


def shop_set_rows(simulator: Simulator, binary: Path, scratch: Path) -> list[Row]:
    """Export 500 webhooks; refresh 10 managed among 500 with and without the inventory."""
    control = SimulatorControl(simulator.url)
    control.reset(rateLimit=SHOP_LIMIT)
    for number in range(500):
        control.add_webhook(hand_made(number))
    connection = control.connection(requestsPerSecond=str(SHOP_LIMIT))
    variables = {**os.environ, "PYTHONPATH": str(ROOT), **shoprenter_variables(connection)}
    command = [sys.executable, "-m", "provider", "export", "--output", str(scratch / "all.yaml")]
    seconds, calls, refused, tokens = measure(
        control, lambda: subprocess.run(command, env=variables, check=True, capture_output=True)
    )
    rows = [
        Row(
            "7. export of 500 webhooks, pages of 200",
            seconds,
            sum(calls.values()) / SHOP_LIMIT,
            calls,
            refused,
            f"token {tokens}; includes the interpreter's start-up",
        )
    ]
    stack = LocalStack(scratch / "row7", binary, stack="bench")
    stack.create(connection)
    stack.declare([webhook(n) for n in range(10)])
    stack.up()

    def refresh() -> object:
        return stack.pulumi("refresh", "--yes", "--skip-preview")

    with_inventory = measure(control, refresh)
    stack.set_config("shoprenter-webhooks:unmanaged", "ignore")
    stack.up()
    without = measure(control, refresh)
    added = sum(with_inventory[1].values()) - sum(without[1].values())
    rows.append(
        Row(
            "7. refresh, 10 managed among 510, with the inventory",
            with_inventory[0],
            without[0] + added / SHOP_LIMIT,
            with_inventory[1],
            with_inventory[2],
            f"floor: the same refresh without it ({without[0]:.2f} s) + its {added} calls / 3",
        )
    )
    control.reset()
    return rows


def drift_rows(simulator: Simulator, binary: Path, scratch: Path) -> list[Row]:
    """Row 12: the drift check (a refreshed preview) and ``up --refresh`` of 40 and of 200
    managed webhooks on a shop of 2 more, at 3 req/s, against pages and a token per refresh
    at 3 per second plus the same command's cost without a refresh."""
    control = SimulatorControl(simulator.url)
    rows = []
    for count in (40, 200):
        control.reset(rateLimit=None)
        for number in range(2):
            control.add_webhook(hand_made(number))
        stack = LocalStack(scratch / f"row12-{count}", binary, stack="bench")
        stack.create(control.connection(requestsPerSecond="1000"))
        stack.declare([webhook(n) for n in range(count)])
        stack.up()
        control.settings(rateLimit=SHOP_LIMIT)
        stack.pulumi("config", "set", "--plaintext", "shoprenter:requestsPerSecond", "3")
        stack.up()  # a refresh paces itself by the config the last up recorded, not the file
        pages = -(-(count + 2) // PAGE_LIMIT)
        commands = [
            ("drift check, preview --refresh", ("preview", "--expect-no-changes"), 1),
            ("up --refresh --yes, no change", ("up", "--yes", "--expect-no-changes"), 2),
        ]
        for name, command, refreshes in commands:
            plain = functools.partial(stack.pulumi, *command)
            fixed = min(measure(control, plain)[0] for _ in range(2))
            refreshed = functools.partial(plain, "--refresh")
            seconds, calls, refused, tokens = measure(control, refreshed)
            floor = fixed + refreshes * (pages + 1) / SHOP_LIMIT
            note = (
                f"token {tokens}; floor: {refreshes} x ({pages} pages + token) / 3 + {fixed:.2f} s"
            )
            rows.append(Row(f"12. {name}, N={count}", seconds, floor, calls, refused, note))
    control.reset()
    return rows


def hand_made(number: int) -> dict[str, Any]:
    """A webhook made in the admin, as the API takes it."""
    return {
        "event": "order_confirm",
        "status": "1",
        "label": f"hand {number}",
        "webHookParameters": [{"type": "json", "url": f"https://h.example.com/{number}"}],
    }


def fleet_rows(binary: Path, scratch: Path) -> list[Row]:
    """20 shops x 6 hooks, each shop limited to 3 req/s, four at a time: ``up`` (row 8), then
    ``drift`` (row 12)."""
    names = [f"shop-{number:02}" for number in range(20)]
    repo = ShopRepo(
        scratch / "fleet", binary, names, [webhook(n) for n in range(6)], str(SHOP_LIMIT)
    )
    try:
        repo.reset_shops(rateLimit=SHOP_LIMIT)
        return [
            fleet_row(repo, "up", "8. fleet up, 20 shops x 6 hooks, concurrency 4"),
            fleet_row(repo, "drift", "12. fleet drift, 20 shops x 6 hooks, concurrency 4"),
        ]
    finally:
        repo.close()


def fleet_row(repo: ShopRepo, operation: str, name: str) -> Row:
    """One fleet operation over every shop, against the best four at a time allow."""
    since = {shop: len(control.requests()) for shop, control in repo.shops.items()}
    started = time.perf_counter()
    code, runs, output = repo.fleet(operation, "--all", "--concurrency", "4")
    wall = time.perf_counter() - started
    counted = [api_calls(control, since[shop]) for shop, control in repo.shops.items()]
    if code != 0:
        raise RuntimeError(f"the fleet's {operation} failed:\n{output}")
    times = [float(run["seconds"]) for run in runs]
    best = max(*times, sum(times) / 4)
    note = (
        f"slowest shop {max(times):.2f} s, sum {sum(times):.2f} s: wall/sum {wall / sum(times):.2f}"
    )
    calls = sum((found[0] for found in counted), Counter())
    return Row(name, wall, best, calls, sum(found[1] for found in counted), note)


def backend_rows(simulator: Simulator, binary: Path, scratch: Path) -> list[Row]:
    """Create 30 and an unchanged up of 200 on each backend, against no shop limit."""
    control = SimulatorControl(simulator.url)
    rows = []
    with backends.postgres() as postgres_url, backends.s3(scratch) as s3_url:
        kinds = [("file", None), ("postgres", postgres_url), ("s3", s3_url)]
        for kind, url in kinds:
            control.reset(rateLimit=None)
            extra = backends.S3_ENVIRONMENT if kind == "s3" else None
            stack = LocalStack(
                scratch / f"row9-{kind}", binary, "bench", backend=url, extra_environment=extra
            )
            stack.create(control.connection(requestsPerSecond="1000"))
            stack.declare([])
            stack.up()
            stack.declare([webhook(n) for n in range(30)])
            seconds, calls, refused, _ = measure(control, stack.up)
            note = f"{seconds / 30 * 1000:.0f} ms per resource"
            rows.append(Row(f"9. {kind}: pulumi up, create N=30", seconds, 0, calls, refused, note))
            up_with_hooks(stack, 200)
            rows += unchanged_up_rows(control, stack, kind)
    control.reset()
    return rows


def unchanged_up_rows(control: SimulatorControl, stack: LocalStack, kind: str) -> list[Row]:
    """An unchanged up of the stack's 200 hooks, with its preview phase and without it."""
    rows = []
    for flags in ((), ("--skip-preview",)):

        def unchanged_up(flags: tuple[str, ...] = flags) -> object:
            return stack.up(*flags)

        runs = [measure(control, unchanged_up) for _ in range(2)]
        seconds, calls, refused, _ = min(runs, key=lambda run: run[0])
        label = " ".join(["9.", f"{kind}: pulumi up", *flags]) + ", no change, N=200"
        note = f"{seconds / 200 * 1000:.1f} ms per resource; goal under 2 s on file"
        rows.append(Row(label, seconds, 0, calls, refused, note))
    return rows


def up_with_hooks(stack: LocalStack, count: int) -> None:
    stack.declare([webhook(n) for n in range(count)])
    stack.up()


def checkpoint_rows(simulator: Simulator, binary: Path, scratch: Path) -> list[Row]:
    """The same create of 100 (30 ms latency, no limit) with and without skipped checkpoints."""
    control = SimulatorControl(simulator.url)
    seconds = {}
    for skip in (False, True):
        control.reset(rateLimit=None, latencyMs=ROW3_LATENCY_MS)
        extra = {"PULUMI_SKIP_CHECKPOINTS": "true"} if skip else None
        stack = LocalStack(scratch / f"row10-{skip}", binary, "bench", extra_environment=extra)
        stack.create(control.connection(requestsPerSecond="1000"))
        stack.declare([])
        stack.up()
        stack.declare([webhook(n) for n in range(100)])
        seconds[skip], calls, refused, _ = measure(control, stack.up)
    control.reset()
    note = f"without it: {seconds[False]:.2f} s"
    label = "10. pulumi up, create N=100, PULUMI_SKIP_CHECKPOINTS=true"
    return [Row(label, seconds[True], seconds[False], calls, refused, note)]


class PeakMemory:
    """Polls the resident-set high-water mark of the provider process (``pulumi.dynamic``,
    served directly or through the plugin's ``provider_host.py``)."""

    def __init__(self) -> None:
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(0.05):
            for status in Path("/proc").glob("[0-9]*/status"):
                try:
                    cmdline = (status.parent / "cmdline").read_bytes()
                    if b"pulumi.dynamic" not in cmdline and b"provider_host" not in cmdline:
                        continue
                    for line in status.read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            self.peak_kib = max(self.peak_kib, int(line.split()[1]))
                except OSError:
                    continue

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


# -- row 4 -----------------------------------------------------------------------------------


def import_seconds(runs: int = 7) -> tuple[float, float]:
    """Median seconds to import pulumi.dynamic, then provider on top, in fresh interpreters."""
    code = (
        "import time; t0 = time.perf_counter(); import pulumi.dynamic; t1 = time.perf_counter(); "
        "import provider; t2 = time.perf_counter(); print(t1 - t0, t2 - t1)"
    )
    samples = [
        tuple(
            map(
                float,
                subprocess.run(
                    [sys.executable, "-c", code],
                    cwd=ROOT,
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.split(),
            )
        )
        for _ in range(runs)
    ]
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def hostile_rows() -> list[Row]:
    """Row 15: what a hostile body costs ``parse``, per megabyte, beside ``json.loads``."""
    order = payload("order_confirm", [], 1)["orders"]["order"][0]
    real = render({"orders": {"order": [order] * 300}}, "json")
    priced = '{"innerId": "1", "total": "1e999999999"}, '
    bodies = {
        "a real delivery, 300 orders": (real, "application/json"),
        "JSON nested 500,000 deep": ("[" * 500_000 + "]" * 500_000, "application/json"),
        "XML nested 140,000 deep": ("<a>" * 140_000 + "</a>" * 140_000, "text/xml"),
        "a price of 1,000,000 nines": (
            '{"orders": {"order": [{"total": "' + "9" * 1_000_000 + '"}]}}',
            "application/json",
        ),
        "1 MB of orders priced 1e999999999": (
            '{"orders": {"order": [' + priced * 24_000 + "{}]}}",
            "application/json",
        ),
    }

    def best_of_3(work: Callable[[], object]) -> float:
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            work()
            timings.append(time.perf_counter() - started)
        return min(timings)

    def parsed(body: bytes, content_type: str) -> Callable[[], object]:
        def run() -> object:
            try:
                return parse(body, content_type)
            except DeliveryError as refused:
                return refused

        return run

    json_per_byte = best_of_3(lambda: json.loads(real)) / len(real)
    rows = []
    for name, (text, content_type) in bodies.items():
        body = text.encode()
        megabytes = len(body) / 1_000_000
        seconds = best_of_3(parsed(body, content_type))
        note = f"{megabytes:.2f} MB, {seconds / megabytes:.3f} s per MB"
        rows.append(
            Row(f"15. parse: {name}", seconds, json_per_byte * len(body), Counter(), 0, note)
        )
    return rows


def replay_rows(simulator: Simulator, orders: int = 1000) -> list[Row]:
    """Row 16: replaying ``orders`` confirmed orders at the shop's 3 requests a second, against
    the floor of the reads it needs (the pages, one history per order, the status names)."""
    control = SimulatorControl(simulator.url)
    control.reset(rateLimit=SHOP_LIMIT)
    start = shop_now() - timedelta(hours=2)
    for number in range(1, orders + 1):
        control.place_order(number=number, at=(start + timedelta(seconds=number)).isoformat())
    with Receiver() as receiver:
        webhook, _ = validate_declaration(
            {"event": "order_confirm", "label": "erp", "url": f"{receiver.url}/order_confirm"}
        )
        assert webhook is not None
        settings = ConnectionSettings.resolve(stack_config(control.connection()).get, {})
        reader = OrderReader(ShoprenterClient(settings))
        window = Window(start, shop_now())
        with tempfile.TemporaryDirectory() as folder:
            checkpoint = Checkpoint(Memo(Path(folder) / "checkpoint.json"), "bench", start)
            before = len(control.requests())
            started = time.monotonic()
            _, sent = replay(
                [Declaration("erp", webhook)],
                reader,
                window,
                now=window.until,
                sender=Sender(),
                checkpoint=checkpoint,
            )
            seconds = time.monotonic() - started
        delivered = len(receiver.deliveries)
    calls: Counter[str] = Counter(
        call["path"].rpartition("/")[2] for call in control.requests()[before:]
    )
    needed = -(-orders // PAGE_LIMIT) + orders + 1
    refused = sum(1 for call in control.requests()[before:] if call["status"] == 429)
    note = f"{delivered} delivered, {sum(s.delivered for s in sent)} acknowledged"
    return [
        Row(
            f"16. replay {orders} orders at 3 req/s",
            seconds,
            needed / SHOP_LIMIT,
            calls,
            refused,
            note,
        )
    ]


def receiver_rows(deliveries: int = 2000) -> list[Row]:
    """Row 17: a receiver's work per delivery (``deliveries`` of one order each): ``parse`` of
    the form Shoprenter posts against the raw JSON path, and parse + claim + done in each
    store, against ``json.loads`` of the same payload."""
    document = payload("order_confirm", [], 1)
    raw = render(document, "json").encode()
    boundary = "------------------------d74496d66958873e"
    form = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="data"\r\n\r\n'.encode()
        + raw
        + f"\r\n--{boundary}--\r\n".encode()
    )
    form_type = f"multipart/form-data; boundary={boundary}"

    def timed(work: Callable[[int], object]) -> float:
        started = time.perf_counter()
        for number in range(deliveries):
            work(number)
        return time.perf_counter() - started

    def handled(store: DeliveryStore) -> Callable[[int], object]:
        def work(number: int) -> object:
            parse(form, form_type)
            claim = store.claim(f"order_confirm:{number}")  # as if each were another order
            return store.done(claim) if claim.fresh else None

        return work

    loads = timed(lambda _n: json.loads(raw))
    raw_parse = timed(lambda _n: parse(raw, "application/json"))
    form_parse = timed(lambda _n: parse(form, form_type))
    per = 1000 / deliveries
    rows = [
        Row(
            f"17. parse raw JSON x{deliveries}",
            raw_parse,
            loads,
            Counter(),
            0,
            f"{raw_parse * per:.3f} ms each",
        ),
        Row(
            f"17. parse the form x{deliveries} (vs raw JSON)",
            form_parse,
            raw_parse,
            Counter(),
            0,
            f"{form_parse * per:.3f} ms each",
        ),
    ]
    with tempfile.TemporaryDirectory() as folder, backends.postgres() as url:
        stores: dict[str, DeliveryStore] = {
            "SQLite": SqliteStore(str(Path(folder) / "deliveries.sqlite3")),
            "PostgreSQL": PostgresStore(url),
        }
        for name, store in stores.items():
            seconds = timed(handled(store))
            note = f"{seconds * per:.3f} ms each"
            rows.append(
                Row(
                    f"17. parse + claim + done x{deliveries}, {name}",
                    seconds,
                    loads,
                    Counter(),
                    0,
                    note,
                )
            )
    return rows


def golive_rows(simulator: Simulator, binary: Path, scratch: Path, count: int = 10) -> list[Row]:
    """Row 13: each step of a stack with ``verifyTargets`` off and on, side by side."""
    control = SimulatorControl(simulator.url)
    with Receiver() as receiver:
        hooks = [webhook(n, receiver=f"{receiver.url}/in") for n in range(count)]
        changed = [{**hooks[0], "url": f"{receiver.url}/moved"}, *hooks[1:]]
        steps = [(f"create N={count}", hooks, count), ("1 changed target", changed, 1)]
        steps.append(("no change", changed, 0))
        timings: dict[tuple[str, bool], list[float]] = {}
        sent: dict[tuple[str, bool], int] = {}
        calls: dict[tuple[str, bool], Counter[str]] = {}
        for attempt in range(2):
            for verify in (False, True) if attempt == 0 else (True, False):
                control.reset(rateLimit=SHOP_LIMIT)
                stack = LocalStack(scratch / f"row13-{attempt}-{verify}", binary, stack="bench")
                stack.create(control.connection(requestsPerSecond=str(SHOP_LIMIT)))
                stack.set_config(f"{stack.namespace}:verifyTargets", verify)
                for name, declared, _changed in steps:
                    stack.declare(declared)
                    before = len(receiver.deliveries)
                    seconds, made, _refused, _tokens = measure(control, stack.up)
                    timings.setdefault((name, verify), []).append(seconds)
                    sent[(name, verify)] = len(receiver.deliveries) - before
                    calls[(name, verify)] = made
    rows = []
    for name, _declared, targets in steps:
        off, on = min(timings[(name, False)]), min(timings[(name, True)])
        added = f"{(on - off) / targets * 1000:.0f} ms per changed target; " if targets else ""
        note = f"{added}test deliveries {sent[(name, True)]}"
        rows.append(
            Row(f"13. up, {name}: verifyTargets on vs off", on, off, calls[(name, True)], 0, note)
        )
    return rows


# -- row 14 ----------------------------------------------------------------------------------

FLOOR_SIZES = (0, 20, 200, 2000)
FLOOR_REPEATS = 3


def floor_stack(workdir: Path, binary: Path) -> LocalStack:
    """A stack of :mod:`sandbox.floor`: this project's manifest, a ``__main__.py`` that runs
    the floor program, and the floor module beside it, importable by the provider process."""
    with tempfile.TemporaryDirectory(prefix="floor-template-") as template:
        source = Path(template)
        shutil.copy(ROOT / "Pulumi.yaml", source)
        (source / "__main__.py").write_text("from floor import main\n\nmain()\n", "utf-8")
        stack = LocalStack(workdir, binary, "floor", project_dir=source)
    shutil.copy(Path(floor.__file__), stack.project / "floor.py")
    stack.pulumi("stack", "init", "floor")
    return stack


def floor_rows(simulator: Simulator, binary: Path, scratch: Path) -> list[Row]:
    """Row 14: each size's unchanged up and preview, ours (A) against the floor's (B)."""
    control = SimulatorControl(simulator.url)
    control.reset(rateLimit=None)
    sizes = [int(n) for n in os.environ.get("FLOOR_SIZES", "").split(",") if n] or FLOOR_SIZES
    rows = []
    for count in sizes:
        ours = LocalStack(scratch / f"row14-ours-{count}", binary, "bench")
        ours.create(control.connection(requestsPerSecond="1000"))
        ours.declare([webhook(n) for n in range(count)])
        theirs = floor_stack(scratch / f"row14-floor-{count}", binary)
        # As many resources: ours has the inventory beside its webhooks.
        theirs.set_config(f"{theirs.namespace}:count", str(count + 1))
        for stack in (ours, theirs):
            up_at_once(stack)
        for command in (("up", "--yes"), ("preview",)):
            for fresh in (False, True):
                rows.append(floor_row(control, ours, theirs, command, count, fresh=fresh))
        if count == max(sizes):
            rows.append(peak_memory_row(ours, theirs, count))
    return rows


def up_at_once(stack: LocalStack) -> None:
    """Create the stack's resources with one state write at the end, not one per resource
    (which makes a create of 2,000 take many minutes on a file backend); only the measured
    commands after it count."""
    stack.environment["PULUMI_SKIP_CHECKPOINTS"] = "true"
    try:
        stack.up()
    finally:
        del stack.environment["PULUMI_SKIP_CHECKPOINTS"]


def floor_row(
    control: SimulatorControl,
    ours: LocalStack,
    theirs: LocalStack,
    command: tuple[str, ...],
    count: int,
    *,
    fresh: bool,
) -> Row:
    """One command on both stacks, A B A B: the best ratio is the row's, the median noted.
    ``fresh``: each of our runs starts without the program's memo, as on a new CI runner."""
    timings: dict[str, list[float]] = {"ours": [], "floor": []}
    since = len(control.requests())
    for _ in range(FLOOR_REPEATS):
        for name, stack in (("ours", ours), ("floor", theirs)):
            if fresh and stack is ours:
                shutil.rmtree(stack.environment["XDG_CACHE_HOME"], ignore_errors=True)
            started = time.perf_counter()
            stack.pulumi(*command)
            timings[name].append(time.perf_counter() - started)
    calls, refused, _tokens = api_calls(control, since)
    ratios = [a / b for a, b in zip(timings["ours"], timings["floor"], strict=True)]
    best, floor_best = min(timings["ours"]), min(timings["floor"])
    over = (best - floor_best) * 1000
    share = f"{over / count:.1f} ms per webhook" if count else f"{over:.0f} ms"
    note = (
        f"best-of ratio {best / floor_best:.2f}, pair ratios best {min(ratios):.2f} median "
        f"{statistics.median(ratios):.2f}; {share} over the floor; goal at most 1.15"
    )
    memo = "memo cleared" if fresh else "memo kept"
    label = f"14. pulumi {command[0]}, no change, N={count}, {memo}, vs the floor"
    return Row(label, best, floor_best, calls, refused, note)


def peak_memory_row(ours: LocalStack, theirs: LocalStack, count: int) -> Row:
    """The provider process's peak resident memory during an unchanged up, each stack."""
    peaks = {}
    for name, stack in (("ours", ours), ("floor", theirs)):
        with PeakMemory() as memory:
            stack.up()
        peaks[name] = memory.peak_kib / 1024
    note = f"provider process peak RSS {peaks['ours']:.1f} MiB, floor {peaks['floor']:.1f} MiB"
    return Row(
        f"14. peak memory, unchanged up, N={count}",
        peaks["ours"],
        peaks["floor"],
        Counter(),
        0,
        note + " (the columns are MiB, not seconds)",
    )


def describe_machine(binary: Path) -> str:
    """Cores, processor, memory, Python and Pulumi versions: what the figures depend on."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown processor",
    )
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    pulumi = subprocess.run([str(binary), "version"], capture_output=True, text=True, check=True)
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory_kib / 1024**2:.0f} GiB, "
        f"Python {sys.version.split()[0]}, pulumi {pulumi.stdout.strip()}"
    )


def print_table(rows: list[Row]) -> None:
    header = ["row", "measured s", "floor s", "ratio", "API calls", "429s", "note"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row.cells()) + " |")


def plugin_rows(simulator: Simulator, scratch: Path) -> list[Row]:
    """Row 11: an unchanged up of 20 and of 200 with each plugin set, and with the official
    set over a virtualenv of the runtime requirements alone (what a GitOps repository has)."""
    control = SimulatorControl(simulator.url)
    control.reset(rateLimit=None)
    lean = runtime_virtualenv(scratch / "runtime-venv")
    setups = [("stand-ins", Path(sys.prefix)), ("official", Path(sys.prefix)), ("official", lean)]
    rows = []
    for count in (20, 200):
        measured: list[tuple[str, float]] = []
        for plugins, virtualenv in setups:
            try:
                binary = pulumi_binary(plugins)
            except PluginsUnavailable as missing:
                print(f"row 11: {missing}", flush=True)
                continue
            venv = "runtime-only venv" if virtualenv == lean else "dev venv"
            folder = scratch / f"row11-{plugins}-{venv.replace(' ', '-')}-{count}"
            stack = LocalStack(folder, binary, "bench", virtualenv=virtualenv)
            stack.create(control.connection(requestsPerSecond="1000"))
            up_with_hooks(stack, count)
            seconds = min(measure(control, stack.up)[0] for _ in range(3))
            measured.append((f"11. pulumi up, no change, N={count}, {plugins}, {venv}", seconds))
        floor = measured[0][1]  # the stand-ins' same up
        note = "floor: the same up with the stand-ins"
        rows += [Row(name, seconds, floor, Counter(), 0, note) for name, seconds in measured]
    return rows


def runtime_virtualenv(folder: Path) -> Path:
    """A virtualenv with requirements.txt only, at the pip of this one."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    pip = [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    ours = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    subprocess.run([*pip, f"pip=={ours}"], check=True)
    subprocess.run([*pip, "-r", str(ROOT / "requirements.txt")], check=True)
    return folder


def dependency_check_seconds(virtualenv: Path, runs: int = 3) -> float:
    """What the official language host's dependency check costs per program run: it lists
    the virtualenv's packages with pip (the scan of each for a pulumi-plugin.json follows)."""
    python = str(virtualenv / "bin" / "python")
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [python, "-m", "pip", "list", "--format", "json"], check=True, capture_output=True
        )
        samples.append(time.perf_counter() - started)
    return min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description="make bench: figures against the call floor")
    parser.add_argument("--rows", help="only these rows, e.g. 2,11 (default: all)")
    chosen = parser.parse_args().rows
    wanted = {int(n) for n in chosen.split(",")} if chosen else set(range(1, 18))
    print("Finding or building the Pulumi CLI...", flush=True)
    binary = pulumi_binary()
    rows: list[Row] = []
    peak_kib = 0
    with Simulator() as simulator, tempfile.TemporaryDirectory(prefix="shoprenter-bench-") as tmp:
        scratch = Path(tmp)

        def unlimited() -> list[Row]:
            nonlocal peak_kib
            row3, row6, peak_kib = unlimited_rows(simulator, binary, scratch, 100)
            return [*row3, *provider_rows(simulator, 100, UNLIMITED), row6]

        groups: list[tuple[set[int], str, Callable[[], list[Row]]]] = [
            ({1}, "provider level", lambda: provider_rows(simulator, 30, AT_SHOP_LIMIT)),
            ({2}, "real engine at 3 req/s", lambda: engine_rows(simulator, binary, scratch, 30)),
            ({3, 4, 6}, "no limit, 30 ms latency; start-up; SIGINT ignored", unlimited),
            (
                {5},
                "pulumi up N=60 under each limiter",
                lambda: limiter_rows(simulator, binary, scratch, 60),
            ),
            ({7}, "export and the inventory", lambda: shop_set_rows(simulator, binary, scratch)),
            ({8, 12}, "the fleet, 20 shops: up, drift", lambda: fleet_rows(binary, scratch)),
            ({9}, "state backends", lambda: backend_rows(simulator, binary, scratch)),
            ({10}, "PULUMI_SKIP_CHECKPOINTS", lambda: checkpoint_rows(simulator, binary, scratch)),
            ({11}, "each plugin set", lambda: plugin_rows(simulator, scratch)),
            ({12}, "refresh from the collection", lambda: drift_rows(simulator, binary, scratch)),
            ({13}, "the go-live check", lambda: golive_rows(simulator, binary, scratch)),
            ({14}, "the engine's floor", lambda: floor_rows(simulator, binary, scratch)),
            ({15}, "a receiver under hostile bodies", hostile_rows),
            ({16}, "replay of 1,000 orders", lambda: replay_rows(simulator)),
            ({17}, "a receiver's throughput, each store", receiver_rows),
        ]
        for numbers, title, measure_rows in groups:
            if numbers & wanted:
                print(f"rows {', '.join(map(str, sorted(numbers)))}: {title}...", flush=True)
                rows += measure_rows()
        if 11 in wanted:
            for name, venv in (
                ("dev", Path(sys.prefix)),
                ("runtime-only", scratch / "runtime-venv"),
            ):
                seconds = dependency_check_seconds(venv)
                print(f"11. pip list in the {name} virtualenv: {seconds * 1000:.0f} ms", flush=True)
    print(f"\nMachine: {describe_machine(binary)}\n")
    print_table(rows)
    if wanted & {3, 4, 6}:
        base, ours = import_seconds()
        print()
        print(
            f"4. import pulumi.dynamic: {base * 1000:.0f} ms; provider on top: {ours * 1000:.0f} ms"
        )
        print(f"4. provider process peak RSS during row 3: {peak_kib / 1024:.1f} MiB")


if __name__ == "__main__":
    main()

"""``make stress``: kill ``pulumi up`` midway, many times, on a machine with every core busy.

The promise: once the engine is gone, nothing more reaches the shop and no process of the run
lives on, whichever plugin set started the provider and however loaded the machine is. Each
try, per plugin set: an ``up`` of 16 webhooks at the shop's own 3 requests/s, its process group
killed with SIGKILL after the third create (a lost CI runner), while a CPU hog keeps every core
busy and other engine runs (two loops of previews of stacks of their own) run beside it.

It counts, per try: *late calls* (requests that arrived at the shop after the kernel reaped
the CLI) and *survivors* (processes of the run alive 10 s after the kill). It prints a table
per plugin set and exits 1 when any try had either. Not part of ``make test``: a kill test
there runs under a CPU hog once per plugin set.

``python -m scripts.stress_kill --tries 20 --plugins stand-ins,official``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sandbox.load import cpu_hog
from sandbox.local_engine import PLUGIN_SETS, LocalStack, pulumi_binary
from sandbox.simulator import Simulator, SimulatorControl

WEBHOOKS = 16
KILL_AFTER_CREATES = 3
SURVIVOR_SECONDS = 10.0


@dataclass
class Try:
    late: int
    survivors: int
    seconds_to_reap: float


@contextlib.contextmanager
def engines_beside(binary: Path, scratch: Path, simulator: Simulator, count: int) -> Iterator[None]:
    """``count`` loops of previews, each of a stack of its own, one preview after another,
    until the block ends: other engine runs (a CLI, its language and provider plugins) on the
    same machine."""
    control = SimulatorControl(simulator.url)
    stopping = threading.Event()

    def loop(stack: LocalStack) -> None:
        while not stopping.is_set():
            stack.pulumi("preview", check=False)

    workers = []
    for number in range(count):
        stack = LocalStack(scratch / f"beside-{number}", binary, "beside")
        stack.create(control.connection(requestsPerSecond="1000"))
        stack.declare(declared(8, "beside"))
        workers.append(threading.Thread(target=loop, args=(stack,), daemon=True))
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        stopping.set()
        for worker in workers:
            worker.join(timeout=600)


def declared(count: int, prefix: str = "hook") -> list[dict[str, str]]:
    return [
        {"name": f"{prefix}-{n:02}", "event": "order_confirm", "url": f"https://h.example.com/{n}"}
        for n in range(count)
    ]


def one_try(binary: Path, scratch: Path, simulator: Simulator) -> Try:
    """An up killed after the third create: its late calls and its survivors."""
    control = SimulatorControl(simulator.url)
    control.reset()  # the shop's own pace: 3 requests/s
    stack = LocalStack(scratch, binary, "killed")
    stack.create(control.connection(requestsPerSecond="3"))
    stack.declare(declared(WEBHOOKS))
    run = stack.start("up", "--yes")
    deadline = time.monotonic() + 120
    while len(control.webhooks()) < KILL_AFTER_CREATES and time.monotonic() < deadline:
        time.sleep(0.02)
    killed_at = time.time()
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=60)
    died_at = time.time()  # the engine is gone once the kernel reaped it
    deadline = time.monotonic() + SURVIVOR_SECONDS
    while stack.processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    survivors = stack.processes()
    for pid in survivors:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    late = [call for call in control.requests() if call["arrived"] > died_at]
    return Try(len(late), len(survivors), died_at - killed_at)


def run_set(plugins: str, tries: int, hogs: int, beside: int) -> list[Try]:
    binary = pulumi_binary(plugins)
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="shoprenter-stress-") as folder,
        Simulator() as shop,
        Simulator() as beside_shop,
    ):
        scratch = Path(folder)
        with cpu_hog(hogs), engines_beside(binary, scratch, beside_shop, beside):
            for number in range(1, tries + 1):
                result = one_try(binary, scratch / f"try-{number}", shop)
                results.append(result)
                print(
                    f"{plugins} try {number}: {result.late} late calls, "
                    f"{result.survivors} survivors (reaped {result.seconds_to_reap:.2f} s "
                    f"after the signal); load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=20, help="kills per plugin set")
    parser.add_argument("--plugins", default=",".join(PLUGIN_SETS), help="plugin sets, a,b")
    parser.add_argument(
        "--hogs", type=int, default=os.cpu_count() or 2, help="busy loops beside the runs"
    )
    parser.add_argument("--beside", type=int, default=2, help="engine runs beside, at once")
    args = parser.parse_args()
    table = []
    for plugins in args.plugins.split(","):
        results = run_set(plugins, args.tries, args.hogs, args.beside)
        late = sum(r.late for r in results)
        tries_late = sum(1 for r in results if r.late)
        survivors = sum(r.survivors for r in results)
        table.append((plugins, len(results), late, tries_late, survivors))
    print("\n| plugin set | kills | late calls | tries with a late call | survivors |")
    print("|---|---|---|---|---|")
    for plugins, kills, late, tries_late, survivors in table:
        print(f"| {plugins} | {kills} | {late} | {tries_late} | {survivors} |")
    return 1 if any(row[2] or row[4] for row in table) else 0


if __name__ == "__main__":
    sys.exit(main())

"""``shoprenter-webhooks fleet`` (or ``python -m provider.fleet``): one command for many shops,
one stack per shop.

An agency keeps one GitOps repository: the shared declarations and defaults in ``Pulumi.yaml``,
and one ``Pulumi.<shop>.yaml`` per shop. This runs ``preview``, ``up``, ``refresh``, ``drift`` (a
refreshed preview that must show no change) or ``recover`` over the chosen stacks through
Pulumi's Automation API, a few at a time, with a live line per shop, a summary table and a JSON
report. ``replay --since T`` runs ``shoprenter-webhooks replay --stack`` for each shop (see
:mod:`provider.replay`; it reads orders and touches no state, so it takes no stack lock).
The exit status is 1 when any shop failed or stayed locked (or a replay left a delivery
unacknowledged), 2 when ``drift`` found a change and nothing failed, else 0.

Each stack gets a workspace of its own (a folder linking the project's files), because
concurrent ``stack select`` in one workspace races on its settings file (pulumi/pulumi#8186).
A stack locked by a live run is retried with backoff, then reported; never forced. ``recover``
is the one command after an interrupted run: it removes a lock only when its holder is gone.

Past one machine, ``--shard K/N`` keeps the shops of shard K of N, so that N CI jobs (a GitHub
Actions matrix) share the shops out, each running its slice a few at a time. A shop's shard
depends on its name and N alone: adding a shop never moves another one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Optional
from urllib.parse import unquote, urlsplit

from pulumi import automation as auto
from rich.console import Console
from rich.live import Live
from rich.table import Table

OPERATIONS = ("preview", "up", "refresh", "drift", "recover", "replay")
LOCK_RETRY_SECONDS = (2.0, 5.0, 10.0)
# "created by root@runner-7 (pid 4123) at 2026-11-29T17:05:34Z", in the lock refusal.
LOCK_HOLDER = re.compile(r"created by (?P<user>[^@\s]+)@(?P<host>\S+) \(pid (?P<pid>\d+)\)")
EXIT_FAILED, EXIT_DRIFTED = 1, 2
# What a stack's workspace never needs from the repository.
NOT_LINKED = frozenset({".git", ".pulumi"})


@dataclass
class ShopRun:
    """One shop's run: a line of the live display and an entry of the JSON report."""

    stack: str
    operation: str
    state: str = "waiting"
    seconds: float = 0.0
    changes: dict[str, int] = field(default_factory=dict)
    message: str = ""
    steps: list[str] = field(default_factory=list)
    started: float = field(default=0.0, repr=False)

    def elapsed(self) -> float:
        return time.monotonic() - self.started if self.state == "running" else self.seconds

    def describe_changes(self) -> str:
        shown = {op: n for op, n in self.changes.items() if op != "same" and n}
        return ", ".join(f"{op} {n}" for op, n in sorted(shown.items())) or "no change"


def project_stacks(project_dir: Path) -> list[str]:
    """The stacks of a GitOps repository: one ``Pulumi.<stack>.yaml`` each (not the example)."""
    names = [
        path.name[len("Pulumi.") : -len(".yaml")] for path in project_dir.glob("Pulumi.*.yaml")
    ]
    return sorted(name for name in names if name != "example")


def shard_of(stack: str, shards: int) -> int:
    """The shard (1 to ``shards``) a stack belongs to: by a digest of its name, so stable as
    shops come and go, and the same on every machine (unlike Python's ``hash``)."""
    digest = hashlib.sha256(stack.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards + 1


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` as (K, N), for argparse; an error that says what is expected otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise argparse.ArgumentTypeError(
            f"expected K/N with 1 <= K <= N (such as 3/20), got {text!r}"
        )
    return int(match[1]), int(match[2])


def own_workspace(
    project_dir: Path, stack: str, scratch: Path, cli: auto.PulumiCommand
) -> auto.LocalWorkspace:
    """A workspace of its own for ``stack``: ``Pulumi.yaml`` copied, every other entry linked
    (the virtualenv too: the project's ``virtualenv`` option is relative to its folder).
    ``cli``: the run's one checked CLI (a workspace made without one runs ``pulumi version``)."""
    folder = scratch / stack
    folder.mkdir(parents=True)
    for entry in project_dir.iterdir():
        if entry.name == "Pulumi.yaml":
            (folder / entry.name).write_bytes(entry.read_bytes())
        elif entry.name not in NOT_LINKED:
            (folder / entry.name).symlink_to(entry.resolve())
    return auto.LocalWorkspace(work_dir=str(folder), pulumi_command=cli)


def changes_of(counts: Optional[Mapping[Any, int]]) -> dict[str, int]:
    """An operation's change counts by kind (``create``, ``same``, ...), as plain strings."""
    return {str(getattr(op, "value", op)): int(n) for op, n in (counts or {}).items()}


def run_operation(stack: auto.Stack, run: ShopRun, refresh: bool = False) -> None:
    """Do ``run.operation`` on ``stack`` and record its changes and outcome; ``refresh``: an
    ``up`` or ``preview`` reads the shop first (``drift`` always does), so that it puts back
    (or shows) what people changed in the admin.

    A result's summary is read without secrets (``show_secrets=False``): the report needs its
    change counts alone, and showing secrets costs each shop a derivation of the stack's key."""
    if run.operation == "recover":
        recover(stack, run)
        return
    if run.operation in ("preview", "drift"):
        preview = stack.preview(refresh=refresh or run.operation == "drift")
        run.changes = changes_of(preview.change_summary)
        drifted = run.operation == "drift" and run.describe_changes() != "no change"
        run.state = "drifted" if drifted else "ok"
        return
    result = (
        stack.up(refresh=refresh, show_secrets=False)
        if run.operation == "up"
        else stack.refresh(show_secrets=False)
    )
    run.changes = changes_of(result.summary.resource_changes)
    run.state = "ok"


def replay_shop(project_dir: Path, run: ShopRun, arguments: tuple[str, ...], scratch: Path) -> None:
    """``replay --stack`` for one shop, as a person runs it in the project; its report's
    counts as the run's changes (``sent``, ``unacknowledged``, ``resumed``)."""
    report = scratch / f"replay-{run.stack}.json"
    command = [sys.executable, "-m", str(__package__), "replay", "--stack", run.stack]
    done = subprocess.run(
        [*command, *arguments, "--json", str(report)],
        cwd=project_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        rows = json.loads(report.read_text(encoding="utf-8"))["deliveries"]
    except (OSError, ValueError, KeyError):
        rows = []
    sent = [row for row in rows if row["attempts"]]
    run.changes = {
        "sent": len(sent),
        "unacknowledged": sum(1 for row in sent if not row["acknowledged"]),
        "resumed": sum(1 for row in rows if row["resumed"]),
    }
    if done.returncode == 0:
        run.state = "ok"
    else:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        run.state, run.message = (
            "failed",
            (lines[-1] if lines else "replay failed")[:MESSAGE_LENGTH],
        )


def recover(stack: auto.Stack, run: ShopRun) -> None:
    """After an interrupted run: clear a dead run's lock, finish the update, drop pending
    creates. A lock whose holder may still be running is left alone."""
    try:
        result = stack.up(show_secrets=False)
    except auto.ConcurrentUpdateError as error:
        holder = LOCK_HOLDER.search(str(error))
        if holder is None or not holder_is_gone(holder):
            who = holder.group(0) if holder else "an unknown holder"
            run.state, run.message = "locked", f"lock {who} is live or elsewhere: not forced"
            return
        stack.cancel()
        run.steps.append(f"removed the lock {holder.group(0)}: that process is gone")
        result = stack.up(show_secrets=False)
    run.changes = changes_of(result.summary.resource_changes)
    run.steps.append(f"up: {run.describe_changes()}")
    stack.refresh(clear_pending_creates=True, show_secrets=False)
    run.steps.append("refresh --clear-pending-creates: the state holds no pending operation")
    run.state, run.message = "ok", "; ".join(run.steps)


def mend_cut_off_metadata(workspace: auto.LocalWorkspace, stack: str) -> list[str]:
    """Delete a file backend's metadata sidecar of ``stack`` that a killed run cut off.

    Returns what was done, as the run's steps; nothing on any other backend.
    """
    url = urlsplit(workspace.who_am_i().url or "")
    if url.scheme != "file":
        return []
    root = Path.home() if url.netloc == "~" else Path("/")
    stacks = root / unquote(url.path).lstrip("/") / ".pulumi" / "stacks"
    deleted = delete_cut_off_sidecars(stacks, workspace.project_settings().name, stack)
    return [
        f"removed {name}, cut off by a killed run (the checkpoint is intact)" for name in deleted
    ]


def delete_cut_off_sidecars(stacks: Path, project: str, stack: str) -> list[str]:
    """Delete the cut-off metadata sidecars of ``stack`` in a file backend's ``stacks`` folder.

    The file backend writes a checkpoint atomically (a temporary file, renamed), but the small
    sidecar beside it (``<stack>.json.attrs``, the checkpoint's content type) by truncating and
    writing: a run killed between the two leaves it empty, and every command on the stack then
    fails with ``failed to load checkpoint: EOF``. Without its sidecar the intact checkpoint
    reads as before. Returns the names of the files deleted.
    """
    deleted = []
    for folder in (stacks / project, stacks):  # the project-scoped layout first
        for sidecar in folder.glob(f"{stack}.json*.attrs"):
            try:
                json.loads(sidecar.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                sidecar.unlink()
                deleted.append(sidecar.name)
    return deleted


def holder_is_gone(holder: re.Match[str]) -> bool:
    """Whether the process that holds a lock is gone: only decidable on this machine."""
    if holder["host"] != socket.gethostname():
        return False
    try:
        cmdline = Path(f"/proc/{holder['pid']}/cmdline").read_bytes()
    except OSError:
        return True
    return b"pulumi" not in cmdline  # the pid now belongs to another program


class Fleet:
    """Runs one operation over many stacks of one project, a few at a time."""

    def __init__(
        self,
        project_dir: Path,
        stacks: list[str],
        concurrency: int,
        refresh: bool = False,
        replay_arguments: tuple[str, ...] = (),
    ) -> None:
        self.project_dir = project_dir
        self.stacks = stacks
        self.concurrency = max(1, concurrency)
        self.refresh = refresh
        self.replay_arguments = replay_arguments

    @cached_property
    def cli(self) -> auto.PulumiCommand:
        """The ``pulumi`` on PATH, its version checked once for every shop (not once per
        shop's workspace). Made by the first shop that needs it, so that a missing or too old
        CLI fails each shop with its message, as any other failure does."""
        return auto.PulumiCommand()

    def plan(self, operation: str) -> list[ShopRun]:
        return [ShopRun(stack, operation) for stack in self.stacks]

    def run(self, runs: list[ShopRun], on_change: Callable[[ShopRun], None]) -> None:
        """Run each shop's operation; ``on_change(run)`` is told when one starts and ends."""
        with (
            tempfile.TemporaryDirectory(prefix="shoprenter-fleet-") as scratch,
            ThreadPoolExecutor(self.concurrency) as pool,
        ):
            futures = [pool.submit(self._run_one, run, Path(scratch), on_change) for run in runs]
            for future in futures:
                future.result()

    def _run_one(self, run: ShopRun, scratch: Path, on_change: Callable[[ShopRun], None]) -> None:
        run.state, run.started = "running", time.monotonic()
        on_change(run)
        try:
            if run.operation == "replay":
                replay_shop(self.project_dir, run, self.replay_arguments, scratch)
                run.seconds = time.monotonic() - run.started
                on_change(run)
                return
            create = run.operation in ("preview", "up")
            workspace = own_workspace(self.project_dir, run.stack, scratch, self.cli)
            if run.operation == "recover":
                run.steps += mend_cut_off_metadata(workspace, run.stack)
            select = auto.Stack.create_or_select if create else auto.Stack.select
            self._with_lock_retries(
                lambda: run_operation(select(run.stack, workspace), run, self.refresh), run
            )
        except auto.CommandError as error:
            run.state, run.message = "failed", error_message(str(error))
        except Exception as error:  # a shop's failure must not stop the others
            run.state, run.message = "failed", str(error) or f"failed ({type(error).__name__})"
        run.seconds = time.monotonic() - run.started
        on_change(run)

    def _with_lock_retries(self, attempt: Callable[[], None], run: ShopRun) -> None:
        for wait in (*LOCK_RETRY_SECONDS, None):
            try:
                attempt()
                return
            except auto.ConcurrentUpdateError as error:
                if wait is None or run.operation == "recover":
                    run.state, run.message = "locked", error_message(str(error))
                    return
                run.message = f"locked by another run; tried again after {wait:.0f} s"
                run.steps.append(run.message)
                time.sleep(wait)


# The engine's closing line after a program's own error, and how much of an error a run keeps.
GENERIC_ERROR = "error: an unhandled error occurred"
MESSAGE_LENGTH = 300


def error_message(text: str) -> str:
    """What a CLI failure says went wrong: its first error that is more than the engine's
    generic closing line, with the problems listed under it (a bad declaration's entries)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    blocks: list[list[str]] = []
    for line in lines:
        if line.startswith("error:"):
            blocks.append([line])
        elif blocks and line.startswith("- "):
            blocks[-1].append(line)
    specific = [block for block in blocks if not block[0].startswith(GENERIC_ERROR)]
    chosen = (specific or blocks or [[(lines or ["failed"])[-1]]])[0 if specific else -1]
    return " ".join(chosen)[:MESSAGE_LENGTH]


def table(runs: list[ShopRun], title: str) -> Table:
    view = Table(title=title)
    for column in ("shop", "state", "elapsed", "changes", "message"):
        view.add_column(column)
    for run in runs:
        elapsed = f"{run.elapsed():.1f} s" if run.state != "waiting" else ""
        changes = run.describe_changes() if run.changes else ""
        view.add_row(run.stack, run.state, elapsed, changes, run.message)
    return view


def exit_status(runs: list[ShopRun]) -> int:
    if any(run.state in ("failed", "locked") for run in runs):
        return EXIT_FAILED
    return EXIT_DRIFTED if any(run.state == "drifted" for run in runs) else 0


def parse_args(argv: Optional[list[str]], prog: Optional[str] = None) -> argparse.Namespace:
    """The command line; ``prog`` is how the user called it (default: ``python -m``)."""
    prog = prog or f"python -m {__package__}.fleet"
    parser = argparse.ArgumentParser(prog=prog, description=" ".join(__doc__.split("\n")[:2]))
    parser.add_argument("operation", choices=OPERATIONS)
    chosen = parser.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--stacks", help="comma-separated stack names")
    chosen.add_argument("--all", action="store_true", help="every Pulumi.<stack>.yaml here")
    parser.add_argument(
        "--shard",
        type=parse_shard,
        metavar="K/N",
        help="only the stacks of shard K of N (one CI job each; a shop's shard never moves)",
    )
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="up, preview: read each shop first (drift always does), to put back (or show) "
        "what people changed in the admin",
    )
    parser.add_argument(
        "--since", help="replay: from this time, or a span back (25h); see replay --help"
    )
    parser.add_argument("--until", help="replay: up to this time (default now)")
    parser.add_argument("--dry-run", action="store_true", help="replay: list, send nothing")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--json", type=Path, help="write the report to this file")
    parser.add_argument("--project-dir", type=Path, default=Path.cwd())
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None, prog: Optional[str] = None) -> int:
    args = parse_args(argv, prog)
    if (args.operation == "replay") != bool(args.since):
        print("fleet: --since goes with replay, and replay needs it", file=sys.stderr)
        return EXIT_FAILED
    listed = project_stacks(args.project_dir) if args.all else args.stacks.split(",")
    stacks = [stack.strip() for stack in listed if stack.strip()]
    title = f"{args.operation} over {len(stacks)} shops"
    if args.shard:
        (shard, shards), total = args.shard, len(stacks)
        stacks = [stack for stack in stacks if shard_of(stack, shards) == shard]
        title = f"{args.operation} over {len(stacks)} of {total} shops (shard {shard}/{shards})"
    replaying = ("--since", args.since, *(("--until", args.until) if args.until else ()))
    if args.dry_run:
        replaying += ("--dry-run",)
    fleet = Fleet(args.project_dir.resolve(), stacks, args.concurrency, args.refresh, replaying)
    console = Console(stderr=True)
    runs = report_live(fleet, args.operation, console, title)
    console.print(table(runs, title))
    if args.json:
        args.json.write_text(json.dumps([asdict(run) for run in runs], indent=2), encoding="utf-8")
    return exit_status(runs)


def report_live(fleet: Fleet, operation: str, console: Console, title: str) -> list[ShopRun]:
    """Run with a live table on a terminal, and a line per finished shop elsewhere (CI logs)."""
    runs = fleet.plan(operation)
    if console.is_terminal:  # redrawn 4 times a second; it gives way to the summary at the end
        live_table = partial(table, runs, title)
        with Live(console=console, refresh_per_second=4, transient=True, get_renderable=live_table):
            fleet.run(runs, lambda _run: None)
        return runs

    def log_finished(run: ShopRun) -> None:
        if run.state != "running":
            console.print(
                f"{run.stack}: {run.state} in {run.seconds:.1f} s, {run.describe_changes()}"
            )

    fleet.run(runs, log_finished)
    return runs


if __name__ == "__main__":
    sys.exit(main())

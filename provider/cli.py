"""``shoprenter-webhooks`` (or ``python -m`` and the package): commands beside the program.

``export`` writes the shop's webhooks as declarations (see :mod:`provider.shoprenter.export`). It
reaches the shop with the same settings as the provider: the ``SHOPRENTER_*`` variables, or with
``--stack NAME`` that stack's ``shoprenter:*`` config, read through the ``pulumi`` CLI. ``fleet``
runs one operation over many shops' stacks (see :mod:`provider.fleet`). ``trigger`` sends test
deliveries (:mod:`provider.deliveries.trigger`): to each declared target of a stack's webhooks (read
through the ``pulumi`` CLI, secrets included; no call to the shop), or to one URL. ``replay``
sends again, rebuilt from the shop's orders, the deliveries of a window (:mod:`provider.replay`).
``listen`` prints what arrives on this machine (:mod:`provider.deliveries.listen`).

Each command's modules load when it runs, not before: ``listen``, ``trigger --url`` and
``export`` never load the Pulumi SDK, and ``--help`` loads none of them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import yaml

from .core.errors import SettingsError, ShoprenterError
from .core.ownership import OWNER_KEY
from .core.payload import EVENTS
from .deliveries.builder import DEFAULT_TIMEOUT_SECONDS

if TYPE_CHECKING:
    from .core.declarations import Declaration
    from .replay import Plan, Sent, Window

DEFAULT_PROJECT = "shoprenter-webhooks"


def program_name() -> str:
    """How the user called us: the console script, or ``python -m`` and the package."""
    called = Path(sys.argv[0]).name
    return f"python -m {__package__}" if called == "__main__.py" else called


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=program_name(), description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "fleet", help="one operation over many shops' stacks (fleet --help)", add_help=False
    )
    add_export_arguments(
        commands.add_parser(
            "export", help="write the shop's webhooks as declarations (usable as webhooksFile)"
        )
    )
    add_trigger_arguments(
        commands.add_parser(
            "trigger",
            help="send test deliveries: to a stack's declared targets, or EVENT to one --url",
        )
    )
    add_replay_arguments(
        commands.add_parser(
            "replay",
            help="send again, rebuilt from the shop's orders, what targets may have missed",
        )
    )
    listening = commands.add_parser("listen", help="print each delivery arriving on this machine")
    listening.add_argument("--port", type=int, default=8000)
    listening.add_argument("--host", default="127.0.0.1")
    return parser.parse_args(argv)


def add_export_arguments(exporting: argparse.ArgumentParser) -> None:
    exporting.add_argument(
        "--output", "-o", help="write to this file (mode 0600) instead of stdout"
    )
    exporting.add_argument("--stack", help="read shoprenter:* settings from this stack's config")
    exporting.add_argument(
        "--owner",
        action="append",
        default=[],
        metavar="OWNER|any",
        help="also export webhooks this owner marks (any: every owner's); repeatable",
    )
    exporting.add_argument(
        "--format",
        default="webhooks-file",
        metavar="webhooks-file|stack-config",
        help="a webhooksFile document, or the config block for Pulumi.<stack>.yaml",
    )


def add_trigger_arguments(triggering: argparse.ArgumentParser) -> None:
    triggering.add_argument("event", nargs="?", choices=EVENTS, help="with --url: the event")
    triggering.add_argument("--stack", help="the stack whose declared targets get a delivery")
    triggering.add_argument(
        "--webhook", action="append", default=[], metavar="NAME", help="only this entry; repeatable"
    )
    triggering.add_argument("--url", help="one target, instead of a stack's")
    triggering.add_argument("--format", choices=("json", "xml"), default="json")
    triggering.add_argument("--fields", default="", help="with --url: field names, a,b,...")
    triggering.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS)


def add_replay_arguments(replaying: argparse.ArgumentParser) -> None:
    add_trigger_arguments(replaying)
    replaying.add_argument(
        "--since", required=True, help="from this time (shop's local time) or span back: 25h"
    )
    replaying.add_argument("--until", help="up to this time (default: now)")
    replaying.add_argument(
        "--dry-run", action="store_true", help="list what would be sent; send nothing"
    )
    replaying.add_argument("--json", metavar="FILE", help="also write the report to FILE")
    replaying.add_argument(
        "--retention",
        type=float,
        default=30,
        metavar="DAYS",
        help="how long receivers keep keys; an older --since is refused (default 30)",
    )
    replaying.add_argument("--force", action="store_true", help="replay beyond --retention")
    replaying.add_argument("--attempts", type=int, default=4, help="sends per delivery")
    replaying.add_argument(
        "--backoff", type=float, default=1.0, help="seconds before the 2nd send (doubling)"
    )
    replaying.add_argument("--checkpoint", metavar="FILE", help="keep acknowledgements here")
    replaying.add_argument(
        "--timezone", default="Europe/Budapest", help="the shop's time zone (default Budapest)"
    )


class StackConfig:
    """A stack's config as the program reads it
    (:class:`provider.core.declarations.ConfigSource`)."""

    def __init__(self, config: dict[str, Any], namespace: str) -> None:
        self.config, self.namespace = config, namespace

    def get(self, key: str) -> Optional[str]:
        value = self.config.get(f"{self.namespace}:{key}")
        return None if value is None else str(value)

    def get_object(self, key: str) -> Any:
        value = self.config.get(f"{self.namespace}:{key}")
        try:
            return json.loads(value) if isinstance(value, str) else value
        except ValueError:
            return value


def stack_config(stack: str, project_dir: Path) -> dict[str, Any]:
    """The stack's decrypted config as ``{"namespace:key": value}``, from the ``pulumi`` CLI."""
    command = ["pulumi", "config", "--stack", stack, "--show-secrets", "--json"]
    try:
        done = subprocess.run(
            command, cwd=project_dir, capture_output=True, text=True, check=False, timeout=120
        )
    except OSError as error:
        raise SettingsError(f"--stack needs the pulumi CLI on PATH: {error}") from None
    if done.returncode != 0:
        raise SettingsError(f"`pulumi config --stack {stack}` failed: {done.stderr.strip()}")
    return {key: item.get("value") for key, item in json.loads(done.stdout or "{}").items()}


def project_name(project_dir: Path) -> str:
    """The Pulumi project's name: the namespace of its own config keys."""
    try:
        document = yaml.safe_load((project_dir / "Pulumi.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return DEFAULT_PROJECT
    return (
        str(document.get("name") or DEFAULT_PROJECT)
        if isinstance(document, dict)
        else DEFAULT_PROJECT
    )


def owners_to_export(
    args: argparse.Namespace, config: dict[str, Any], namespace: str
) -> Optional[frozenset[str]]:
    """The owners whose marked webhooks are exported: those named with ``--owner`` (``any``:
    all), and with ``--stack`` that stack's own (its orphans)."""
    if "any" in args.owner:
        return None
    owners = set(args.owner)
    if args.stack:
        owners.add(config.get(f"{namespace}:{OWNER_KEY}") or f"{namespace}/{args.stack}")
    return frozenset(owners)


def show_progress(pages: int, webhooks: int) -> None:
    end = "\r" if sys.stderr.isatty() else "\n"
    print(f"listing the shop's webhooks: page {pages}, {webhooks} so far", end=end, file=sys.stderr)


def run_export(args: argparse.Namespace) -> int:
    from .core.rules import Rules  # noqa: PLC0415 (each command's modules when it runs)
    from .shoprenter.client import ShoprenterClient  # noqa: PLC0415
    from .shoprenter.export import FORMATS, export  # noqa: PLC0415
    from .shoprenter.settings import ConnectionSettings  # noqa: PLC0415

    if args.format not in FORMATS:
        raise SettingsError(f"--format must be one of {', '.join(FORMATS)}, not {args.format!r}")
    project_dir = Path.cwd()
    config = stack_config(args.stack, project_dir) if args.stack else {}
    namespace = project_name(project_dir)
    settings = ConnectionSettings.resolve(config.get, os.environ)
    rules = Rules.from_config(lambda key: config.get(f"{namespace}:{key}"))
    listing = ShoprenterClient(settings).list(on_page=show_progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    result = export(listing, rules, owners_to_export(args, config, namespace))
    text = result.render(args.format)
    if args.output:
        descriptor = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    where = args.output or "stdout"
    print(f"exported {len(result.entries)} webhooks to {where}", file=sys.stderr)
    for reason in result.left_out:
        print(f"left out {reason}", file=sys.stderr)
    for reason in result.skipped:
        print(f"skipped {reason} (--owner OWNER or --owner any to include)", file=sys.stderr)
    if result.extra_fields and args.format != "stack-config":
        fields = json.dumps(sorted(result.extra_fields))
        print(f"their fields need shoprenter-webhooks:extraFields: {fields}", file=sys.stderr)
    return 0


def chosen_declarations(
    args: argparse.Namespace, project_dir: Path, config: dict[str, Any]
) -> list[Declaration]:
    """The declarations ``trigger`` and ``replay`` send to: one ``--url``, or the stack's
    chosen webhooks (``config``: the stack's), validated as ``preview`` validates them (so
    never outside ``allowedTargets``)."""
    from .core.declarations import Declaration, load_declarations, load_rules  # noqa: PLC0415
    from .core.model import validate_declaration  # noqa: PLC0415

    source = StackConfig(config, project_name(project_dir))
    if args.url:
        if not args.event:
            raise SettingsError(f"{args.command} --url needs the EVENT, e.g. order_confirm")
        fields = [name.strip() for name in args.fields.split(",") if name.strip()]
        props = {"event": args.event, "label": "--url", "url": args.url, "format": args.format}
        webhook, failures = validate_declaration(
            {**props, "fields": fields}, rules=load_rules(source)
        )
        if webhook is None:
            raise SettingsError("; ".join(f"--{key}: {reason}" for key, reason in failures))
        return [Declaration("--url", webhook)]
    if not args.stack:
        raise SettingsError(
            f"{args.command} needs --stack STACK (its declared targets) or EVENT --url URL"
        )
    declared = load_declarations(source, project_dir)
    unknown = sorted(set(args.webhook) - {d.name for d in declared})
    if unknown:
        raise SettingsError(f"--webhook {', '.join(unknown)}: no such entry in {args.stack}")
    return [d for d in declared if not args.webhook or d.name in args.webhook]


def run_trigger(args: argparse.Namespace) -> int:
    """One delivery to each target, a row each; 0 only when every target answered 2xx."""
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from .deliveries.trigger import send  # noqa: PLC0415

    view = Table(title="test deliveries")
    for column in ("webhook", "target", "format", "answer", "time"):
        view.add_column(column)
    delivered = True
    config = stack_config(args.stack, Path.cwd()) if args.stack else {}
    for declaration in chosen_declarations(args, Path.cwd(), config):
        event = declaration.webhook.event
        for target in declaration.webhook.targets:
            outcome = send(target.url, event, target.format, target.fields, timeout=args.timeout)
            delivered &= outcome.delivered
            view.add_row(
                declaration.name,
                outcome.target,
                target.format,
                outcome.answer,
                f"{outcome.seconds:.2f} s",
            )
    Console(width=200).print(view)
    return 0 if delivered else 1


def run_replay(args: argparse.Namespace) -> int:
    """Rebuild the window's deliveries and send them; 0 only when every due delivery was
    acknowledged (a dry run: when it could be planned)."""
    from datetime import datetime, timedelta  # noqa: PLC0415
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    from .replay import Checkpoint, Sender, Sent, replay, window_of  # noqa: PLC0415
    from .shoprenter.client import ShoprenterClient  # noqa: PLC0415
    from .shoprenter.orders import OrderReader  # noqa: PLC0415
    from .shoprenter.settings import ConnectionSettings  # noqa: PLC0415

    project_dir = Path.cwd()
    config = stack_config(args.stack, project_dir) if args.stack else {}
    declared = chosen_declarations(args, project_dir, config)
    now = datetime.now(ZoneInfo(args.timezone)).replace(tzinfo=None, microsecond=0)
    window = window_of(args.since, args.until, now, timedelta(days=args.retention), args.force)
    reader = OrderReader(ShoprenterClient(ConnectionSettings.resolve(config.get, os.environ)))
    if args.dry_run:
        planned, _ = replay(declared, reader, window, now=now)
        say_planned(window, planned)
        dry = [Sent(due, "dry run: not sent", False) for due in planned.due]
        show_replay(dry + waiting(planned), args.json)
        return 0
    identity = (
        str(project_dir),
        args.stack,
        args.url,
        args.since,
        args.until,
        sorted(args.webhook),
    )
    checkpoint = Checkpoint.for_run(
        identity, window.since, Path(args.checkpoint) if args.checkpoint else None
    )
    sender = Sender(
        attempts=max(1, args.attempts), backoff=args.backoff, timeout=args.timeout, read_at=now
    )
    planned, results = replay(
        declared, reader, window, now=now, sender=sender, checkpoint=checkpoint, on_sent=progress
    )
    say_planned(window, planned)
    show_replay(results + waiting(planned), args.json, sender.run_id)
    return 0 if all(result.delivered for result in results) else 1


def progress(done: int, total: int) -> None:
    """A progress line on a terminal (overwritten in place), nothing in a pipeline's log."""
    if sys.stderr.isatty():
        print(
            f"replay: sent {done} of {total}", end="\r" if done < total else "\n", file=sys.stderr
        )


def waiting(planned: Plan) -> list[Sent]:
    """The deliveries whose webhook's delay has not run out, as report rows (never sent)."""
    from .replay import Sent  # noqa: PLC0415

    return [Sent(due, f"not due until {due.due}", False) for due in planned.not_yet_due]


def say_planned(window: Window, planned: Plan) -> None:
    print(
        f"replay {window.since} to {window.until}: {len(planned.due)} deliveries due, "
        f"{len(planned.not_yet_due)} not due yet (a delay)",
        file=sys.stderr,
    )


def show_replay(results: list[Sent], json_file: Optional[str], run_id: str = "") -> None:
    """A table of what was (or would be) sent; with ``json_file``, the report there too."""
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    from .replay import report  # noqa: PLC0415

    rows = [report(result) for result in results]
    view = Table(title=f"replay {run_id}".strip())
    columns = ("webhook", "event", "order", "target", "happened", "due", "answer")
    for column in columns:
        view.add_column(column)
    for row in rows:
        view.add_row(*(str(row[column]) for column in columns))
    Console(width=200).print(view)
    if json_file:
        Path(json_file).write_text(
            json.dumps({"run": run_id, "deliveries": rows}, indent=2) + "\n", encoding="utf-8"
        )


def run_listen(args: argparse.Namespace) -> int:
    from .deliveries.listen import Listener  # noqa: PLC0415

    with Listener(args.host, args.port) as listener:
        print(f"listening on {listener.url}: each delivery is printed (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            listener.serve_forever()
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "export": run_export,
    "trigger": run_trigger,
    "replay": run_replay,
    "listen": run_listen,
}


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["fleet"]:
        from .fleet import main as fleet  # noqa: PLC0415 (the Automation API only when asked)

        return fleet(argv[1:], prog=f"{program_name()} fleet")
    args = parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ShoprenterError, SettingsError, ValueError) as error:
        print(f"{program_name()} {args.command}: {error}", file=sys.stderr)
        return 1

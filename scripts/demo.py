"""``make demo``: the whole story on loopback, with the real ``pulumi`` CLI.

Starts the simulated shop (3 requests/second, as Shoprenter) and a webhook receiver,
declares four webhooks in a scratch stack, runs ``pulumi up``, lists the shop's webhooks,
places an order that the shop delivers to the receiver, and shows that a second
``pulumi up`` changes nothing. Then the ERP's receiver goes down, two orders are placed and
lost, it comes back, ``replay`` sends them, and its store shows each order handled exactly
once. Everything it starts is stopped and removed at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional
from xml.dom import minidom

from provider.deliveries.dedupe import SqliteStore
from provider.replay import REPLAY_HEADER
from provider.shoprenter.client import ShoprenterClient
from provider.shoprenter.settings import ConnectionSettings, stack_config
from sandbox.local_engine import (
    PLUGIN_SETS,
    ROOT,
    LocalStack,
    PluginsUnavailable,
    pulumi_binary,
)
from sandbox.simulator import Simulator, SimulatorControl
from sandbox.simulator.orders import shop_now
from sandbox.simulator.receiver import Delivery, HandledOnce, Receiver


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def show(text: str) -> None:
    print(textwrap.indent(text.rstrip(), "    "), flush=True)


def declarations(receiver_url: str) -> list[dict[str, Any]]:
    """Four webhooks: two events, a delay, selected fields, an XML target, a newsletter."""
    return [
        {
            "name": "erp-orders",
            "label": "ERP: new orders",
            "event": "order_confirm",
            "url": f"{receiver_url}/erp/order_confirm",
            "fields": ["order_innerId", "order_email", "orderProduct_sku", "orderProduct_quantity"],
        },
        {
            "name": "warehouse-xml",
            "event": "order_confirm",
            "url": f"{receiver_url}/warehouse",
            "format": "xml",
        },
        {
            "name": "review-request",
            "label": "Ask for a review two days later",
            "event": "order_confirm",
            "url": f"{receiver_url}/reviews",
            "delay": {"amount": 2, "unit": "day"},
        },
        {
            "name": "crm-newsletter",
            "event": "newsletter_subscribe",
            "url": f"{receiver_url}/crm",
            "fields": ["subscriber_email", "subscriber_firstname"],
        },
    ]


class DemoReceiver:
    """The receiver's side: the ERP (``/erp/...``) hands each order on once, through its own
    store of handled keys; every other system just prints what arrives."""

    def __init__(self, scratch: Path) -> None:
        self.erp = HandledOnce(SqliteStore(str(scratch / "erp-deliveries.sqlite3")))

    def __call__(self, delivery: Delivery) -> Optional[int]:
        if REPLAY_HEADER in delivery.headers:
            before = len(self.erp.handled)
            status = self.erp(delivery)
            fate = "handled" if len(self.erp.handled) > before else "a copy: dropped"
            show(f"ERP got replayed {delivery.headers['webhook-id']}: {fate}")
            return status
        print_delivery(delivery)
        return self.erp(delivery) if delivery.path.startswith("/erp/") else None


def print_delivery(delivery: Delivery) -> None:
    print(
        f"    receiver got POST {delivery.path} from {delivery.user_agent!r} "
        f"({delivery.content_type.split(';')[0]}), form field data =",
        flush=True,
    )
    show(textwrap.indent(_pretty(delivery.data), "  "))


def _pretty(data: str) -> str:
    if data.lstrip().startswith("<"):
        return minidom.parseString(data).toprettyxml(indent="  ").strip()
    return json.dumps(json.loads(data), indent=2, ensure_ascii=False)


def list_shop(control: SimulatorControl) -> None:
    """List the shop's webhooks through the API, as any client of the shop would."""
    settings = ConnectionSettings.resolve(stack_config(control.connection()).get, {})
    for live in ShoprenterClient(settings).list().webhooks:
        state = live.state
        delay = f"after {state.delay.amount} {state.delay.unit}" if state.delay else "at once"
        show(f"{state.event:22} {delay:13} {state.label!r} (id {live.id})")
        for target in state.targets:
            fields = ", ".join(target.fields) or "all fields"
            show(f"{'':22} -> {target.url} ({target.format}; sends {fields})")


def say_outcomes(report: list[dict[str, Any]]) -> None:
    for entry in report:
        print(f"    {entry['label']!r}: {entry['outcome']}", flush=True)


def replay_command(stack: LocalStack, scratch: Path) -> subprocess.CompletedProcess[str]:
    """``shoprenter-webhooks replay`` in the stack's project, as a person runs it there."""
    command = [sys.executable, "-m", "provider", "replay", "--stack", stack.stack]
    return subprocess.run(
        [*command, "--webhook", "erp-orders", "--since", "1h"],
        cwd=stack.project,
        env={**stack.environment, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(scratch)},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )


def engine(plugins: str) -> Path:
    """The CLI with this plugin set; ``auto``: Pulumi's official plugins, which users run,
    where they can be built here, else the stand-ins."""
    if plugins != "auto":
        return pulumi_binary(plugins)
    try:
        return pulumi_binary("official")
    except PluginsUnavailable as missing:
        show(f"{missing}: using the stand-in plugins")
        return pulumi_binary("stand-ins")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugins", choices=("auto", *PLUGIN_SETS), default="auto")
    plugins = parser.parse_args().plugins
    step("Finding or building the Pulumi CLI (the first build takes several minutes)")
    binary = engine(plugins)
    show(f"using {binary}")
    with (
        tempfile.TemporaryDirectory(prefix="shoprenter-demo-") as scratch,
        Simulator() as simulator,
        Receiver(on_delivery=(systems := DemoReceiver(Path(scratch)))) as receiver,
    ):
        control = SimulatorControl(simulator.url)
        step(f"Simulated Shoprenter shop on {simulator.url} (3 requests/second, like the real one)")
        show(f"webhook receiver on {receiver.url}")

        step("Creating the demo stack on a local file backend (passphrase, no cloud)")
        stack = LocalStack(Path(scratch), binary, stack="demo")
        stack.create(control.connection())
        stack.declare(declarations(receiver.url))
        show(stack.config_file.read_text(encoding="utf-8"))

        step("pulumi up --yes")
        show(stack.up().stdout)

        step("The shop's webhooks, listed through its API")
        list_shop(control)

        step("A customer places an order: the shop delivers order_confirm")
        ten_minutes_ago = shop_now() - timedelta(minutes=10)
        say_outcomes(control.place_order(number=1001, at=ten_minutes_ago.isoformat()))

        step("pulumi up --yes again: nothing to change, and no call to the shop")
        before = len(control.requests())
        show(stack.up("--expect-no-changes").stdout)
        show(f"API calls made by the second up: {len(control.requests()) - before}")

        step("The ERP's receiver goes down; two orders are placed, and the ERP misses them")
        control.take_down(f"{receiver.url}/erp/")
        for number, minutes in ((1002, 5), (1003, 4)):
            at = shop_now() - timedelta(minutes=minutes)
            say_outcomes(control.place_order(number=number, at=at.isoformat()))
        control.bring_up(f"{receiver.url}/erp/")
        show(f"the ERP has handled: {', '.join(systems.erp.handled)}")

        step("It is back: replay --stack demo --webhook erp-orders --since 1h")
        show(replay_command(stack, Path(scratch)).stdout)
        step("Each order handled exactly once: the ERP's store says so")
        handled = systems.erp.handled
        for key in sorted(set(handled)):
            times = handled.count(key)
            show(f"{key}: {systems.erp.store.state(key)}, handled {times} time{'s' * (times > 1)}")

        step("Cleaning up: destroying the stack, stopping the shop and the receiver")
        stack.pulumi("destroy", "--yes")
        show(f"webhooks left on the simulated shop: {len(control.webhooks())}")
    print("\nDone.", flush=True)


if __name__ == "__main__":
    main()

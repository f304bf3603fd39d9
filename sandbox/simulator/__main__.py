"""``python -m sandbox.simulator``: serve a simulated Shoprenter shop until interrupted."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from typing import Optional

from ..loopback import is_loopback
from .limits import LIMITERS
from .seed import SEEDS, seed
from .server import Simulator


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.simulator",
        description="Serve Shoprenter's token endpoint and webHooks API on loopback.",
    )
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (0: any free)")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=3.0,
        help="requests per second per app before 429 (0: no limit; default 3, as Shoprenter)",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to answers")
    parser.add_argument(
        "--limiter", choices=LIMITERS, default="token-bucket", help="how the limit is counted"
    )
    parser.add_argument(
        "--jitter-ms", type=float, default=0.0, help="requests arrive 0..N ms late, at random"
    )
    parser.add_argument(
        "--seed", choices=sorted(SEEDS), help="start with these webhooks (shared: several owners)"
    )
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> None:
    args = parse_args(argv)
    if not is_loopback(args.host):
        sys.exit(f"--host {args.host}: the simulator listens on loopback addresses only")
    simulator = Simulator(port=args.port, host=args.host)
    simulator.shop.configure(
        {
            "rateLimit": args.rate_limit or None,
            "latencyMs": args.latency_ms,
            "limiter": args.limiter,
            "jitterMs": args.jitter_ms,
        }
    )
    if args.seed:
        seed(simulator.shop, args.seed)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with simulator:
        print(f"Shoprenter simulator on {simulator.url}", flush=True)
        print(f"  apiUrl   {simulator.api_url}", flush=True)
        print(f"  tokenUrl {simulator.token_url()}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stopped.wait()
    sys.exit(0)


if __name__ == "__main__":
    main()

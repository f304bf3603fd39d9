"""Client-side pacing to Shoprenter's documented limit of 3 requests per second per shop.

Waiting *before* each request is cheaper than being refused with 429 and backing off, and
one pacer is shared by every thread of the process: the Pulumi engine calls the provider
from four threads at once, and the limit counts them all.

How the shop counts is not documented, so the spacing must satisfy the strictest reading: at
most ``rate`` arrivals in *any* one-second span, after the network has moved each request
a little early or late. ``rate`` starts spaced ``d`` apart span ``rate * d`` seconds;
with arrivals shifted by up to ``JITTER_MARGIN_SECONDS`` either way they still span more
than a second when ``d = (1 + 2 * margin) / rate``: 0.357 s at 3 req/s, 7 % above the floor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Optional

from .lifeline import pause

# How far the network may move one request's arrival, either way.
JITTER_MARGIN_SECONDS = 0.035
# After refusals the spacing at most grows to this multiple of the normal one ...
MAX_SLOWDOWN = 8.0
# ... and each accepted request takes it back by this factor, down to normal.
RECOVERY = 0.85


class Pacer:
    """Spaces the starts of requests so that no limiter of ``per_second`` refuses them.

    A slot is reserved under the lock and slept for outside it, so waiting threads queue in arrival
    order without holding the lock. The default sleep is :func:`provider.shoprenter.lifeline.pause`:
    once the engine is gone, no waiting call starts. No burst is allowed. After a 429 the spacing
    doubles (and no slot comes before the shop's ``Retry-After``); each accepted request then
    narrows it again, gradually.
    """

    def __init__(
        self,
        per_second: float,
        margin: float = JITTER_MARGIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = pause,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.normal_interval = (1.0 + 2.0 * margin) / per_second
        self.interval = self.normal_interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0

    def wait(self) -> None:
        """Block until this caller's slot comes (``sleep`` may refuse: the engine is gone)."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        self._sleep(slot - now)

    def refused(self, retry_after: Optional[float] = None) -> None:
        """The shop answered 429: slow down, and wait at least ``retry_after`` seconds."""
        with self._lock:
            self.interval = min(self.interval * 2.0, self.normal_interval * MAX_SLOWDOWN)
            resume = self._clock() + max(retry_after or 0.0, self.interval)
            self._next_slot = max(self._next_slot, resume)

    def accepted(self) -> None:
        """The shop took a request: move the spacing back towards normal."""
        with self._lock:
            self.interval = max(self.normal_interval, self.interval * RECOVERY)

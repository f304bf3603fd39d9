"""Client-side pacing to Shoprenter's documented limit of 3 requests per second per shop.

Waiting *before* each request is cheaper than being refused with 429 and backing off, and
one pacer is shared by every thread of the process: the Pulumi engine calls the provider
from four threads at once, and the limit counts them all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Pacer:
    """Spaces the starts of requests at least ``1 / per_second`` seconds apart.

    A slot is reserved under the lock and slept for outside it, so waiting threads queue in
    arrival order without holding the lock. No burst is allowed: an even spacing stays under
    any window-based or token-bucket limit of the same rate.
    """

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0

    def wait(self) -> None:
        """Block until this caller's slot comes."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        if slot > now:
            self._sleep(slot - now)

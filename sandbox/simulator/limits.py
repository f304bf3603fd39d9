"""Three readings of "3 requests per second", each as strict as a shop could be.

Shoprenter documents the rate, not how it is counted. A client is right only if no limiter
of that rate refuses it:

* ``token-bucket``: ``rate`` tokens refill continuously, bursts up to ``rate``;
* ``sliding-window``: at most ``rate`` arrivals in any one-second span;
* ``fixed-window``: at most ``rate`` arrivals in each calendar second.

Refused requests are not counted as arrivals.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Protocol

LIMITERS = ("token-bucket", "sliding-window", "fixed-window")


class Limiter(Protocol):
    def admit(self, now: float) -> bool:
        """Count an arrival at ``now`` (seconds); ``False`` means refuse it with 429."""
        ...


class TokenBucket:
    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.stamp = now

    def admit(self, now: float) -> bool:
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class SlidingWindow:
    def __init__(self, rate: float) -> None:
        self.capacity = max(1, math.floor(rate))
        self.arrivals: deque[float] = deque()

    def admit(self, now: float) -> bool:
        while self.arrivals and self.arrivals[0] <= now - 1.0:
            self.arrivals.popleft()
        if len(self.arrivals) >= self.capacity:
            return False
        self.arrivals.append(now)
        return True


class FixedWindow:
    def __init__(self, rate: float) -> None:
        self.capacity = max(1, math.floor(rate))
        self.second = -1
        self.count = 0

    def admit(self, now: float) -> bool:
        second = math.floor(now)
        if second != self.second:
            self.second, self.count = second, 0
        if self.count >= self.capacity:
            return False
        self.count += 1
        return True


def make_limiter(kind: str, rate: float, now: float) -> Limiter:
    """The limiter named ``kind`` (one of :data:`LIMITERS`) at ``rate`` requests a second."""
    if kind == "sliding-window":
        return SlidingWindow(rate)
    if kind == "fixed-window":
        return FixedWindow(rate)
    if kind == "token-bucket":
        return TokenBucket(rate, now)
    raise ValueError(f"limiter must be one of {', '.join(LIMITERS)}, got {kind!r}")

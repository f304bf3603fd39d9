"""The pacer spaces request starts evenly, across threads, and slows down after a 429."""

from __future__ import annotations

import threading

import pytest

from provider.shoprenter.pacing import JITTER_MARGIN_SECONDS, MAX_SLOWDOWN, Pacer
from sandbox.simulator.limits import LIMITERS, make_limiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:  # the pacer also calls it with 0, to look whether the engine is gone
            with self.lock:
                self.slept.append(round(seconds, 6))


def test_slots_are_one_interval_apart_without_a_burst() -> None:
    clock = FakeClock()
    pacer = Pacer(3.0, margin=0.0, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        pacer.wait()
    assert clock.slept == [round(1 / 3, 6), round(2 / 3, 6), 1.0]


def test_an_idle_pacer_lets_the_next_request_go_at_once() -> None:
    clock = FakeClock()
    pacer = Pacer(3.0, margin=0.0, clock=clock, sleep=clock.sleep)
    pacer.wait()
    clock.now += 5
    pacer.wait()
    assert clock.slept == []


def test_threads_share_one_schedule() -> None:
    clock = FakeClock()
    pacer = Pacer(2.0, margin=0.0, clock=clock, sleep=clock.sleep)
    threads = [threading.Thread(target=pacer.wait) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(clock.slept) == [0.5 * n for n in range(1, 8)]


@pytest.mark.parametrize("kind", LIMITERS)
def test_the_paced_starts_pass_every_limiter_after_the_worst_jitter(kind: str) -> None:
    clock = FakeClock()
    pacer = Pacer(3.0, clock=clock, sleep=clock.sleep)
    starts = [clock.now]
    for _ in range(30):
        pacer.wait()
    starts += [clock.now + seconds for seconds in clock.slept]
    # The worst the network can do: alternate requests late and early by the margin.
    for shift in (JITTER_MARGIN_SECONDS, -JITTER_MARGIN_SECONDS):
        arrivals = [t + (shift if n % 2 else -shift) for n, t in enumerate(starts)]
        limiter = make_limiter(kind, 3.0, now=arrivals[0] - 10)
        refused = [t for t in arrivals if not limiter.admit(t)]
        assert refused == [], f"{kind} refused {len(refused)} of {len(arrivals)}"
    # ... and the pace stays within 10 % of the limit.
    assert (starts[-1] - starts[0]) / (len(starts) - 1) <= 1.10 / 3.0


def test_a_429_slows_down_honours_retry_after_and_recovers_gradually() -> None:
    clock = FakeClock()
    pacer = Pacer(3.0, clock=clock, sleep=clock.sleep)
    normal = pacer.interval
    pacer.wait()
    pacer.refused(retry_after=2.0)
    assert pacer.interval == pytest.approx(2 * normal)
    pacer.wait()
    assert clock.slept == [2.0]  # no request before the shop's Retry-After
    for _ in range(3):
        pacer.refused()
    assert pacer.interval == pytest.approx(normal * MAX_SLOWDOWN)  # capped
    steps = 0
    while pacer.interval > normal:
        pacer.accepted()
        steps += 1
    assert pacer.interval == normal
    assert steps > 5  # gradually, not at once

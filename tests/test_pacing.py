"""The pacer spaces request starts evenly, across threads, and slows down after a 429."""

from __future__ import annotations

import threading

import pytest

from provider.pacing import JITTER_MARGIN_SECONDS, MAX_SLOWDOWN, Pacer


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


def test_the_spacing_leaves_room_for_network_jitter_within_ten_percent() -> None:
    pacer = Pacer(3.0)
    # Four starts (the 4th must fall outside any one-second window with the 1st) span more
    # than a second even if the 1st arrives late and the 4th early by the margin.
    assert 3 * pacer.interval - 2 * JITTER_MARGIN_SECONDS >= 1.0
    assert pacer.interval * 3.0 <= 1.10


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

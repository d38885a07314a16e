"""The adaptive concurrency limit (regserver/limiter.py), driven by an injected clock."""

from __future__ import annotations

import itertools

import pytest

from regserver.limiter import AdaptiveLimit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def window(limit: AdaptiveLimit, clock: Clock, latency: float, busy: int = 10**6) -> None:
    """One window's worth of answers, each taking ``latency``, with up to ``busy`` requests in flight at once
    (as many as the limit admits by default)."""
    n = max(min(busy, int(limit.limit)), limit.min_samples)
    step = limit.window / n * 1.001
    answered = 0
    while answered < n:
        admitted = 0
        while admitted < busy and limit.try_acquire():
            admitted += 1
        for _ in range(admitted):
            clock.now += step
            limit.release(latency)
            answered += 1


def make(**kw: float) -> tuple[AdaptiveLimit, Clock]:
    clock = Clock()
    return AdaptiveLimit(clock=clock, **kw), clock  # type: ignore[arg-type]


def test_refuses_beyond_the_limit_and_admits_again_after_a_release() -> None:
    limit, _ = make(initial=3, min_limit=1)
    assert [limit.try_acquire() for _ in range(4)] == [True, True, True, False]
    limit.release(0.001)
    assert limit.try_acquire()
    assert limit.in_flight == 3


def test_grows_while_on_time_and_used_up_to_the_hard_cap() -> None:
    limit, clock = make(target=0.05, initial=10, max_limit=60)
    seen = [limit.limit]
    for _ in range(40):
        window(limit, clock, latency=0.005)
        seen.append(limit.limit)
    assert all(b >= a for a, b in itertools.pairwise(seen))
    assert limit.limit == 60  # the hard cap, never beyond


def quiet(limit: AdaptiveLimit, clock: Clock, latency: float = 0.002) -> None:
    """A quiet start: a few requests at a time, answered fast (the baseline is learned from it)."""
    window(limit, clock, latency=latency, busy=2)


def test_shrinks_in_proportion_while_late_down_to_the_floor() -> None:
    limit, clock = make(target=0.05, initial=100, max_limit=200, min_limit=4)
    quiet(limit, clock)
    window(limit, clock, latency=0.06)  # a little late: a small cut
    small_cut = 100 - limit.limit
    assert 0 < small_cut < 15
    for _ in range(30):
        window(limit, clock, latency=1.0)  # very late: halving at worst each window, smoothed
    assert limit.limit == 4


def test_settles_where_latency_meets_the_target() -> None:
    # A server answering in 5 ms per request in flight beyond 10 (a queue): the limit should settle
    # near the concurrency whose latency is the 50 ms target, about 19, and stay there.
    limit, clock = make(target=0.05, initial=100, max_limit=500)
    quiet(limit, clock)
    for _ in range(200):
        window(limit, clock, latency=0.005 * max(int(limit.limit) - 10, 1))
    late = []
    for _ in range(50):
        window(limit, clock, latency=0.005 * max(int(limit.limit) - 10, 1))
        late.append(limit.limit)
    assert min(late) >= 12 and max(late) <= 30


def test_an_idle_server_keeps_its_limit() -> None:
    limit, clock = make(target=0.05, initial=20)
    for _ in range(20):
        window(limit, clock, latency=0.001, busy=2)  # far below half the limit
    assert limit.limit == 20


def test_no_update_before_the_window_and_enough_samples() -> None:
    limit, clock = make(target=0.05, initial=20, window=0.1, min_samples=10)
    quiet(limit, clock)
    for _ in range(9):
        limit.try_acquire()
    for _ in range(9):
        clock.now += 1.0
        limit.release(5.0)  # very late, but only 9 samples
    assert limit.limit == 20
    limit.try_acquire()
    limit.release(5.0)
    assert limit.limit < 20


def test_starts_at_the_hard_cap() -> None:
    limit, _ = make(max_limit=200)
    assert limit.limit == 200
    assert sum(limit.try_acquire() for _ in range(250)) == 200


def test_a_workload_slow_even_when_quiet_is_not_shed_for_missing_the_target() -> None:
    # 80 ms per request on a quiet server (a slow disk): the goal becomes twice that, not 50 ms.
    limit, clock = make(target=0.05, initial=40, max_limit=200)
    quiet(limit, clock, latency=0.08)
    assert limit.goal == pytest.approx(0.16)
    for _ in range(20):
        window(limit, clock, latency=0.09)
    assert limit.limit >= 40
    for _ in range(20):
        window(limit, clock, latency=0.4)  # now really late for it
    assert limit.limit < 20

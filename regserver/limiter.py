"""An adaptive concurrency limit for load shedding, driven by the latency of admitted requests.

A fixed in-flight limit sized for the worst case queues far too much work when each request is slow
(200 bookings in flight at ~400/s is half a second of waiting for every one of them). This limit is a
gradient rule in the manner of Netflix's concurrency-limits (Gradient2), with an absolute latency
target in place of Gradient2's drifting long-term average:

* every ``window`` seconds (and at least ``min_samples`` answers), take the mean time to answer of the
  requests admitted and finished in that window;
* the goal is ``max(target, tolerance * baseline)``, where ``baseline`` is the lowest window mean seen
  (drifting up by ``drift`` per window, so it follows a workload that really got slower): requests
  that take 80 ms on a quiet server (a slow disk's fsync) are not shed for missing a 50 ms target;
* ``gradient = clamp(goal / mean, 0.5, 1.0)``: 1 while answers are on time, down to 0.5 when late;
* a late window shrinks the limit in proportion to how late it is (``new = limit * gradient``, halving
  at worst); an on-time one grows it by ``sqrt(limit)`` (fast from small limits, gentle near large
  ones), so the mean time to answer hovers around the target;
* growing only while the limit is actually used (peak in flight at least half of it), so a quiet
  server does not end the day with a limit nobody tested;
* ``limit = smoothed toward new by `smoothing```, then clamped to ``[min_limit, max_limit]``
  (``max_limit`` is ``--max-in-flight``, the hard cap).

The limit starts at the hard cap, so a fresh server admits what it always did, and comes down within
a second of answers running late (at worst by a quarter per window). A request arriving with
``limit`` requests already in flight is refused at once (503 with
``Retry-After``): refusing costs a few tens of microseconds, queueing costs everyone's latency.

The clock is injected so the rule can be tested deterministically.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class AdaptiveLimit:
    """Concurrency limit of one worker. ``target`` in seconds; times from ``clock`` (seconds)."""

    target: float = 0.05
    max_limit: int = 200
    min_limit: int = 16  # a handful of requests in flight is never overload (Gradient2 starts at 20)
    initial: int | None = None  # None: start at max_limit (a fresh server admits what the cap allows)
    window: float = 0.1
    min_samples: int = 10
    smoothing: float = 0.5
    tolerance: float = 2.0
    drift: float = 0.002
    clock: Callable[[], float] = time.perf_counter
    limit: float = field(init=False)
    in_flight: int = field(init=False, default=0)
    _peak: int = field(init=False, default=0)
    _total: float = field(init=False, default=0.0)
    _count: int = field(init=False, default=0)
    _window_start: float = field(init=False)
    baseline: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.min_limit = max(1, min(self.min_limit, self.max_limit))
        start = self.max_limit if self.initial is None else self.initial
        self.limit = float(min(max(start, self.min_limit), self.max_limit))
        self._window_start = self.clock()

    def try_acquire(self) -> bool:
        """Admit one more request (True) or refuse it (False); admitted ones must call :meth:`release`."""
        if self.in_flight >= int(self.limit):
            return False
        self.in_flight += 1
        self._peak = max(self._peak, self.in_flight)
        return True

    def release(self, seconds: float) -> None:
        """One admitted request answered after ``seconds``; may end the window and move the limit."""
        self.in_flight -= 1
        self._total += seconds
        self._count += 1
        now = self.clock()
        if now - self._window_start >= self.window and self._count >= self.min_samples:
            self._update(self._total / self._count)
            self._window_start = now
            self._total = 0.0
            self._count = 0
            self._peak = self.in_flight

    @property
    def goal(self) -> float:
        """The mean time to answer the limit steers to (seconds)."""
        return max(self.target, self.tolerance * self.baseline) if self.baseline is not None else self.target

    def _update(self, mean: float) -> None:
        self.baseline = mean if self.baseline is None else min(mean, self.baseline * (1 + self.drift))
        goal = self.goal
        gradient = max(0.5, min(1.0, goal / mean)) if mean > 0 else 1.0
        if gradient >= 1.0 and self._peak < self.limit / 2:
            return  # not using the limit: no evidence that more would be on time
        new = self.limit * gradient if gradient < 1.0 else self.limit + math.sqrt(self.limit)
        new = self.limit * (1 - self.smoothing) + new * self.smoothing
        self.limit = max(float(self.min_limit), min(float(self.max_limit), new))

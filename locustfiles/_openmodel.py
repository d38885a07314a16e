"""The open model inside Locust: an arrival gate per user class, and the shapes.

Locust's users are a closed loop. For an open model, :class:`ArrivalGate` turns a target rate
into scheduled arrival times (:class:`vaxdrill.loadtest.shapes.ArrivalClock`, seeded); a pool of
pre-allocated users takes arrivals from the gate. When every user is busy (the server is slow),
arrivals wait: the wait is recorded as ``start_delay``, an arrival that waited longer than
``drop_after`` is dropped and counted. A slow server therefore shows up as late and dropped
iterations instead of silently lowering the load (coordinated omission).

Shapes: :class:`LaunchDayShape` (closed), :class:`StepShape` and :class:`OpenModelShape` (open;
they only keep the pool of users alive, the gates set the pace).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gevent
import numpy as np
from gevent.queue import Queue
from locust import LoadTestShape

from locustfiles import _drill
from vaxdrill.loadtest.shapes import ArrivalClock, OpenModelAccount, ladder, launch_day_users


class ArrivalGate:
    """Arrivals of one user class in this process. Users call :meth:`acquire` then :meth:`done`."""

    def __init__(self, name: str, rate: Callable[[float], float], rng: np.random.Generator) -> None:
        load = _drill.STATE.load
        self.name = name
        self.clock = ArrivalClock(rate=rate, rng=rng, poisson=load.open.poisson)
        self.account = OpenModelAccount()
        self.queue: Queue[float | None] = Queue()
        self.t0 = time.time()
        self.inflight = 0
        self._area = 0.0  # integral of in-flight iterations over time (Little's law)
        self._last = time.monotonic()
        self.completed = 0
        self.busy_s = 0.0
        self._producer = gevent.spawn(self._produce)

    def _produce(self) -> None:
        while not _drill.STATE.draining:
            elapsed = time.time() - self.t0
            t = self.clock.next_arrival(horizon=elapsed + 1.0)
            if t is None:
                gevent.sleep(max(self.t0 + self.clock._t - time.time(), 0.01))
                continue
            wait = self.t0 + t - time.time()
            if wait > 0:
                gevent.sleep(wait)
            self.account.scheduled += 1
            _drill.STATE.count("arrivals")
            self.queue.put(self.t0 + t)

    def acquire(self) -> float | None:
        """Block until an arrival is due; its scheduled wall time, or ``None`` when draining."""
        load = _drill.STATE.load.open
        while True:
            due = self.queue.get()
            if due is None or _drill.STATE.draining:
                self.queue.put(None)  # wake the next waiting user too
                return None
            delay = time.time() - due
            if delay > load.drop_after:
                self.account.dropped += 1
                _drill.STATE.count("dropped")
                continue
            self.account.start(delay, load.late_after)
            _drill.STATE.count("started")
            if delay > load.late_after:
                _drill.STATE.count("late")
            _drill.STATE.observe("start_delay", max(delay, 0.0) * 1000.0)
            self._tick(+1)
            return due

    def done(self, due: float, started: float) -> None:
        now = time.time()
        self._tick(-1)
        self.completed += 1
        self.busy_s += now - started
        # Latency as the arrival saw it: from its scheduled time, start delay included (wrk2).
        _drill.STATE.observe("iteration_from_schedule", (now - due) * 1000.0)

    def _tick(self, change: int) -> None:
        now = time.monotonic()
        self._area += self.inflight * (now - self._last)
        self._last = now
        self.inflight += change

    def snapshot(self) -> tuple[float, int, float, int, int]:
        """(in-flight area, completed, busy seconds, dropped, late) for step statistics."""
        self._tick(0)
        return self._area, self.completed, self.busy_s, self.account.dropped, self.account.late

    def close(self) -> None:
        """End of the run: arrivals still queued could not start; they count as dropped."""
        left = sum(1 for x in list(self.queue.queue) if x is not None)
        self.account.dropped += left
        _drill.STATE.count("dropped", left)
        self.queue.put(None)
        self._producer.kill(block=False)


class LaunchDayShape(LoadTestShape):
    """Closed model: the compressed launch day (quiet, opening surge, flash crowd, decay)."""

    def tick(self) -> tuple[int, float] | None:
        load = _drill.STATE.load
        t = self.get_run_time()
        if t >= load.duration or _drill.STATE.aborted:
            return None
        return launch_day_users(load.launch_day, load.users, load.duration, t), load.spawn_rate


class OpenModelShape(LoadTestShape):
    """Open model: keeps ``open.max_users`` users ready; the arrival gates set the pace."""

    def duration(self) -> float:
        return _drill.STATE.load.duration

    def tick(self) -> tuple[int, float] | None:
        state = _drill.STATE
        t = self.get_run_time()
        if state.aborted or state.capacity_done or (state.mode != "capacity" and t >= self.duration()):
            return None
        pool = state.load.open.max_users
        return pool, max(state.load.spawn_rate, float(pool))


class StepShape(OpenModelShape):
    """Open model ladder: ``steps.start_rate`` rising by ``steps.step_rate`` every ``step_duration``."""

    def duration(self) -> float:
        plan = _drill.STATE.load.steps
        return len(ladder(plan)) * plan.step_duration

"""The open model inside Locust: an arrival gate per user class, and the shapes.

Locust's users are a closed loop. For an open model, :class:`ArrivalGate` turns a target rate
into scheduled arrival times (:class:`vaxdrill.loadtest.shapes.ArrivalClock`, seeded); a pool of
pre-allocated users takes arrivals from the gate. When every user is busy (the server is slow),
arrivals wait: the wait is recorded as ``start_delay``, an arrival that waited longer than
``drop_after`` is dropped and counted. A slow server therefore shows up as late and dropped
iterations instead of silently lowering the load (coordinated omission).

:func:`pace_requests` holds requests to the run's cap (``load.max_rps``, a share per worker).

Shapes: :class:`LaunchDayShape` (closed), :class:`StepShape` and :class:`OpenModelShape` (open;
they only keep the pool of users alive, the gates set the pace). :func:`shape_for` picks one for
the run; :func:`locustfiles.lifecycle.install` gives it to Locust.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent
import numpy as np
from gevent.queue import Queue
from locust import LoadTestShape

from locustfiles.run_context import RunContext
from vaxdrill.loadtest.shapes import ArrivalClock, OpenModelAccount, ladder, launch_day_users


class ArrivalGate:
    """Arrivals of one user class in this process. Users call :meth:`acquire` then :meth:`done`."""

    def __init__(self, ctx: RunContext, name: str, rate: Callable[[float], float], rng: np.random.Generator) -> None:
        self.ctx = ctx
        load = ctx.load
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
        while not self.ctx.draining:
            elapsed = time.time() - self.t0
            t = self.clock.next_arrival(horizon=elapsed + 1.0)
            if t is None:
                gevent.sleep(max(self.t0 + self.clock._t - time.time(), 0.01))
                continue
            wait = self.t0 + t - time.time()
            if wait > 0:
                gevent.sleep(wait)
            self.account.scheduled += 1
            self.ctx.count("arrivals")
            self.queue.put(self.t0 + t)

    def acquire(self) -> float | None:
        """Block until an arrival is due; its scheduled wall time, or ``None`` when draining."""
        load = self.ctx.load.open
        while True:
            due = self.queue.get()
            if due is None or self.ctx.draining:
                self.queue.put(None)  # wake the next waiting user too
                return None
            delay = time.time() - due
            if delay > load.drop_after:
                self.account.dropped += 1
                self.ctx.count("dropped")
                continue
            self.account.start(delay, load.late_after)
            self.ctx.count("started")
            if delay > load.late_after:
                self.ctx.count("late")
            self.ctx.observe("start_delay", max(delay, 0.0) * 1000.0)
            self._tick(+1)
            return due

    def done(self, due: float, started: float) -> None:
        now = time.time()
        self._tick(-1)
        self.completed += 1
        self.busy_s += now - started
        # Latency as the arrival saw it: from its scheduled time, start delay included (wrk2).
        self.ctx.observe("iteration_from_schedule", (now - due) * 1000.0)

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
        self.ctx.count("dropped", left)
        self.queue.put(None)
        self._producer.kill(block=False)


def pace_requests(client: Any, ctx: RunContext) -> None:
    """Hold each request of ``client`` (a Locust HTTP session) until its slot under ``load.max_rps``.

    The cap is the generator's own choice, so the wait happens before Locust starts timing the
    request; in the open model an arrival held here shows in ``iteration_from_schedule``.
    """
    send = client.request

    def paced(*args: Any, **kwargs: Any) -> Any:
        pacer = ctx.pacer
        if pacer is not None:
            wait = pacer.reserve(time.monotonic())
            if wait > 0:
                gevent.sleep(wait)
        return send(*args, **kwargs)

    client.request = paced


class DrillShape(LoadTestShape):
    """A shape that reads the run's context (given at install, not found by Locust in the locustfile)."""

    abstract = True

    def __init__(self, ctx: RunContext) -> None:
        super().__init__()
        self.ctx = ctx


class LaunchDayShape(DrillShape):
    """Closed model: the compressed launch day (quiet, opening surge, flash crowd, decay)."""

    def tick(self) -> tuple[int, float] | None:
        load = self.ctx.load
        t = self.get_run_time()
        if t >= load.duration or self.ctx.aborted:
            return None
        return launch_day_users(load.launch_day, load.users, load.duration, t), load.spawn_rate


class OpenModelShape(DrillShape):
    """Open model: keeps ``open.max_users`` users ready; the arrival gates set the pace."""

    def duration(self) -> float:
        return self.ctx.load.duration

    def tick(self) -> tuple[int, float] | None:
        ctx = self.ctx
        t = self.get_run_time()
        if ctx.aborted or ctx.capacity_done or (ctx.mode != "capacity" and t >= self.duration()):
            return None
        pool = ctx.load.open.max_users
        return pool, max(ctx.load.spawn_rate, float(pool))


class StepShape(OpenModelShape):
    """Open model ladder: ``steps.start_rate`` rising by ``steps.step_rate`` every ``step_duration``."""

    def duration(self) -> float:
        plan = self.ctx.load.steps
        return len(ladder(plan)) * plan.step_duration


def shape_for(ctx: RunContext) -> DrillShape | None:
    """The shape of the run: capacity and ``open`` -> open model, ``steps`` -> ladder, ``launch_day`` ->
    closed; ``constant`` -> none (Locust's ``-u/-r/-t``)."""
    if ctx.mode == "capacity" or ctx.load.shape == "open":
        return OpenModelShape(ctx)
    if ctx.load.shape == "steps":
        return StepShape(ctx)
    if ctx.load.shape == "launch_day":
        return LaunchDayShape(ctx)
    return None

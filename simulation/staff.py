"""Staff at a station: a lean FIFO resource on top of SimPy's event loop.

``simpy.Resource`` makes a request event for every service, even when a staff member is free,
and triggers put/get queues on every request and release. Most beneficiaries at a session site
find someone free, so :class:`Staff` grants a free member without any event and creates one
only for those who must queue. Semantics are SimPy's: first come, first served; a released
member goes to the longest waiter.

Patience is handled lazily, which saves a timeout and a condition event per queued beneficiary:
a waiter carries the clock time at which they give up; when a member is released, waiters whose
time has passed are told (their event fires with ``False``) and skipped. In a FIFO queue this
serves exactly the beneficiaries an eager model would serve, at the same times; the model books a
skipped waiter as having left at their deadline.
"""

from __future__ import annotations

import math
from collections import deque
from heapq import heappush
from typing import Any

import simpy
from simpy.events import NORMAL

from vaxdrill.core.scenario.flow import FlowStation
from vaxdrill.core.scenario.sites import Station


class Staff:
    __slots__ = ("capacity", "env", "free", "queue")

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.free = capacity
        self.queue: deque[tuple[simpy.Event, float]] = deque()

    def acquire(self) -> bool:
        """Take a free member now; False when all are busy (then :meth:`wait`)."""
        if self.free:
            self.free -= 1
            return True
        return False

    def wait(self, deadline: float = math.inf) -> simpy.Event:
        """An event that fires True when a member is handed over, False if ``deadline`` passed first."""
        ev = simpy.Event(self.env)
        self.queue.append((ev, deadline))
        return ev

    def release(self) -> None:
        queue = self.queue
        if not queue:
            self.free += 1
            return
        env = self.env
        now = env._now
        while queue:
            ev, deadline = queue.popleft()
            # Env.wake inlined (an event as ev.succeed(...) would, or a process that joined the queue).
            ev._ok = True
            ev._value = served = deadline >= now  # False: gave up before their turn came
            heappush(env._queue, (now, NORMAL, next(env._eid), ev))
            if served:
                return
        self.free += 1

    def send_all_home(self) -> None:
        """Every waiter leaves now (session closed with ``at_close: send_home``)."""
        env = self.env
        while self.queue:
            ev = self.queue.popleft()[0]
            ev._ok = True  # as Env.wake: an event, or a process that joined the queue
            ev._value = False
            heappush(env._queue, (env._now, NORMAL, next(env._eid), ev))


class StationState:
    """A station at run time: its resource, pre-drawn times and what it measured."""

    __slots__ = (
        "area",
        "blocked_time",
        "busy",
        "last",
        "latency",
        "name",
        "needs_system",
        "paper_service",
        "q",
        "res",
        "service",
        "staff",
        "transactions",
        "waits",
    )

    def __init__(self, env: simpy.Environment, name: str, station: Station | FlowStation, draws: Any) -> None:
        self.name = name
        self.staff = station.staff
        self.res = Staff(env, station.staff)
        self.needs_system = station.needs_system
        self.service: list[float] = draws.service
        self.paper_service: list[float] = draws.paper_service
        self.latency: list[float] = draws.latency
        self.waits: list[float] = []
        self.transactions: list[float] = []  # when each online transaction completed
        self.busy = 0.0
        self.blocked_time = 0.0
        self.q = 0  # beneficiaries waiting in this station's queue
        self.area = 0.0  # integral of q over time (time-weighted queue length)
        self.last = 0.0

    def queue_change(self, now: float, delta: int) -> None:
        self.area += self.q * (now - self.last)
        self.last = now
        self.q += delta

"""Staff at a station: a lean FIFO resource on top of SimPy's event loop.

``simpy.Resource`` makes a request event for every service, even when a staff member is free,
and triggers put/get queues on every request and release. Most beneficiaries at a session site
find someone free, so :class:`Staff` grants a free member without any event and creates one
only for those who must queue. Semantics are SimPy's: first come, first served; a released
member goes straight to the longest waiter.
"""

from __future__ import annotations

from collections import deque

import simpy


class Staff:
    __slots__ = ("capacity", "env", "free", "queue")

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.free = capacity
        self.queue: deque[simpy.Event] = deque()

    def acquire(self) -> bool:
        """Take a free member now; False when all are busy (then :meth:`wait`)."""
        if self.free:
            self.free -= 1
            return True
        return False

    def wait(self) -> simpy.Event:
        """An event that fires when a member is handed to this waiter."""
        ev = simpy.Event(self.env)
        self.queue.append(ev)
        return ev

    def cancel(self, ev: simpy.Event) -> None:
        """A waiter gives up before being served."""
        self.queue.remove(ev)

    def release(self) -> None:
        if self.queue:
            self.queue.popleft().succeed()
        else:
            self.free += 1

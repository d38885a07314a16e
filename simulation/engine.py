"""A leaner SimPy environment for the site model: the same events in the same order, less overhead.

A national day runs about nine SimPy events per beneficiary, and SimPy's per-event bookkeeping
(``step`` as a method call, the ``now`` property, ``Timeout.__init__`` going through
``schedule``, a :class:`simpy.Process` per beneficiary that schedules one more event when it ends)
costs more than the model's own code. :class:`Env` keeps SimPy's event queue and its order, key
for key ``(time, priority, event id)``, and trims the overhead:

- :meth:`Env.run` pops and dispatches events in one loop instead of calling ``step``;
- :meth:`Env.timeout` builds the :class:`simpy.Timeout` and pushes it in place;
- :meth:`Env.start` runs a generator like :meth:`simpy.Environment.process` (started by an urgent
  event, as SimPy's ``Initialize``) but returns nothing and schedules no event when the generator
  ends: nobody waits on a beneficiary's process, and an event with no callbacks changes nothing
  (the ids of later events all shift by one, so their order is kept).

Events are still SimPy's, so ``any_of``, ``Event.succeed`` and yielding an already processed
event behave as in SimPy. Failed events are not supported by :meth:`Env.start` (the model never
fails an event).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.events import NORMAL, URGENT, AnyOf, Event, Process, Timeout

Proc = Generator[Event, Any, Any]


class _Driver:
    """Resumes one generator with the value of each event it yields (a callback-only process)."""

    __slots__ = ("gen",)

    def __init__(self, gen: Proc) -> None:
        self.gen = gen

    def resume(self, event: Event) -> None:
        gen = self.gen
        while True:
            try:
                event = gen.send(event._value)
            except StopIteration:
                return
            callbacks = event.callbacks
            if callbacks is not None:
                callbacks.append(self.resume)
                return
            # Already processed: go on at once with its value, as SimPy does.


class Env(simpy.Environment):
    """:class:`simpy.Environment` with a leaner loop, timeout and process start; see the module docstring."""

    def timeout(self, delay: float = 0, value: Any | None = None) -> Timeout:
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        t = Timeout.__new__(Timeout)  # Timeout.__init__ inlined, schedule included
        t.env = self
        t.callbacks = []
        t._value = value
        t._delay = delay
        t._ok = True
        heappush(self._queue, (self._now + delay, NORMAL, next(self._eid), t))
        return t

    def event(self) -> Event:
        return Event(self)

    def any_of(self, events: Iterable[Event]) -> AnyOf:
        return AnyOf(self, events)

    def process(self, generator: Proc) -> Process:
        return Process(self, generator)

    def start(self, generator: Proc) -> None:
        """Run ``generator`` as a process nobody waits on (see the module docstring)."""
        init = Event(self)
        init._ok = True
        init._value = None
        init.callbacks = [_Driver(generator).resume]
        heappush(self._queue, (self._now, URGENT, next(self._eid), init))

    def run(self, until: Any | None = None) -> Any:
        """Process events until the clock time ``until`` (a number), as :meth:`simpy.Environment.run`."""
        if until is None or isinstance(until, Event):
            return super().run(until)
        at = float(until)
        if at <= self._now:
            raise ValueError(f"until ({at}) must be greater than the current simulation time")
        stop = Event(self)
        stop._ok = True
        stop._value = None
        queue = self._queue
        heappush(queue, (self._now + (at - self._now), URGENT, next(self._eid), stop))
        while queue:
            self._now, _, _, event = heappop(queue)
            if event is stop:
                stop.callbacks = None  # type: ignore[assignment]  # processed, as SimPy marks it
                return None
            callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
        return None

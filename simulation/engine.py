"""A leaner SimPy environment for the site model: the same events in the same order, less overhead.

A national day runs about eight SimPy events per beneficiary, and SimPy's per-event bookkeeping
(``step`` as a method call, the ``now`` property, a :class:`simpy.Timeout` object per delay, a
:class:`simpy.Process` per beneficiary with an ``Initialize`` event to start it and one more
event when it ends) costs more than the model's own code. :class:`Env` keeps SimPy's event queue
and its order, key for key ``(time, priority, event id)``, and trims the overhead:

- :meth:`Env.run` pops and dispatches events in one loop instead of calling ``step``;
- :meth:`Env.timeout` builds the :class:`simpy.Timeout` and pushes it in place;
- :meth:`Env.start` runs a generator like :meth:`simpy.Environment.process` but returns nothing
  and schedules no event when the generator ends: nobody waits on a beneficiary's process, and an
  event with no callbacks changes nothing (the ids of later events all shift by one, so their
  order is kept). The process itself is queued where SimPy queues its ``Initialize`` event
  (urgent, now), with no event object;
- a process started with :meth:`Env.start` may yield a plain delay (a ``float`` of seconds) instead
  of ``env.timeout(delay)``: the process is queued where the timeout would have been (now + delay,
  normal priority, the next event id) and resumed with ``None``, as the timeout would resume it,
  with no event object and no callback list;
- such a process may also yield ``(fifo, key)``: it appends ``(itself, key)`` to ``fifo`` (a deque
  or list) and sleeps until someone takes it out and calls :meth:`Env.wake` on it, which queues it
  exactly as ``event.succeed(value)`` would queue an event, and resumes it with ``value``. A staff
  hand-over (:mod:`simulation.staff`) then costs no event object either.

Events are still SimPy's, so ``any_of``, ``Event.succeed`` and yielding an already processed
event behave as in SimPy. Failed events are not supported by :meth:`Env.start` (the model never
fails an event).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import NORMAL, URGENT, AnyOf, Event, EventPriority, Process, Timeout

Proc = Generator[Any, Any, Any]
"""A process for :meth:`Env.start`: it yields events, plain delays in seconds, or ``(fifo, key)``."""


class _Driver:
    """Resumes one generator with the value of each event it yields (a callback-only process).

    The driver is itself what the event queue holds while its process sleeps for a plain delay,
    waits to start, or has been woken from a FIFO (:meth:`Env.wake`, with ``_value``).
    """

    __slots__ = ("_ok", "_value", "env", "gen")

    def __init__(self, env: Env, gen: Proc) -> None:
        self.env = env
        self.gen = gen
        self._ok = True
        self._value: Any = None

    def step(self, value: Any) -> None:
        try:
            event = self.gen.send(value)
        except StopIteration:
            return
        self.wait_on(event)

    def wait_on(self, event: Any) -> None:
        """Sleep for a plain delay, join a FIFO, or wait for ``event`` (at once if it was processed)."""
        gen = self.gen
        while True:
            cls = event.__class__
            if cls is float or cls is int:
                if event < 0:
                    raise ValueError(f"Negative delay {event}")
                env = self.env
                self._value = None
                queue: list[Any] = env._queue  # it holds processes as well as events
                heappush(queue, (env._now + event, NORMAL, next(env._eid), self))
                return
            if cls is tuple:
                fifo, key = event
                fifo.append((self, key))  # woken by Env.wake
                return
            callbacks = event.callbacks
            if callbacks is not None:
                callbacks.append(self.resume)
                return
            # Already processed: go on at once with its value, as SimPy does.
            try:
                event = gen.send(event._value)
            except StopIteration:
                return

    def resume(self, event: Event) -> None:
        self.step(event._value)


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

    def process(self, generator: Generator[Event, Any, Any]) -> Process:
        return Process(self, generator)

    def start(self, generator: Proc) -> None:
        """Run ``generator`` as a process nobody waits on (see the module docstring)."""
        queue: list[Any] = self._queue  # it holds processes as well as events
        heappush(queue, (self._now, URGENT, next(self._eid), _Driver(self, generator)))

    def wake(self, waiter: Event | _Driver, value: Any) -> None:
        """Trigger ``waiter`` now with ``value``: an event (as ``succeed``), or a process that joined a FIFO."""
        waiter._ok = True
        waiter._value = value
        queue: list[Any] = self._queue
        heappush(queue, (self._now, NORMAL, next(self._eid), waiter))

    def step(self) -> None:
        """Process the next event (or resume the next process queued by itself), as SimPy's ``step``."""
        queue: list[Any] = self._queue
        event: Any
        try:
            self._now, _, _, event = heappop(queue)
        except IndexError:
            raise EmptySchedule from None
        cls = event.__class__
        if cls is _Driver:
            event.step(event._value)
            return
        callbacks, event.callbacks = event.callbacks, None
        try:
            for callback in callbacks:
                callback(event)
        except StopSimulation:
            # As SimPy: keep the remaining callbacks and process the event first when resumed.
            event.callbacks = callbacks[callbacks.index(callback) + 1 :]
            self.schedule(event, EventPriority(-1))
            raise
        if not event._ok and not hasattr(event, "_defused"):
            exc = type(event._value)(*event._value.args)
            exc.__cause__ = event._value
            raise exc

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
        queue: list[Any] = self._queue
        event: Any
        heappush(queue, (self._now + (at - self._now), URGENT, next(self._eid), stop))
        eid = self._eid
        while queue:
            self._now, _, _, event = heappop(queue)
            if event.__class__ is _Driver:
                # _Driver.step inlined for its commonest case: the process sleeps for a plain delay.
                try:
                    nxt = event.gen.send(event._value)
                except StopIteration:
                    continue
                if nxt.__class__ is float and nxt >= 0.0:
                    event._value = None
                    heappush(queue, (self._now + nxt, NORMAL, next(eid), event))
                else:
                    event.wait_on(nxt)
                continue
            if event is stop:
                stop.callbacks = None  # processed, as SimPy marks it
                return None
            callbacks, event.callbacks = event.callbacks, None
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
        return None

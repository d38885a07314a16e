"""Availability of the registration system as one site sees it: up, degraded or down over the day.

Two layers (issue 3, model point 3):

- the **central server**, shared by every site, so its failures are correlated: scripted windows
  (``11:15-17:30 down``) and/or an alternating stochastic process (time between failures, time to
  repair) drawn once per replication;
- each **site's connectivity**, with its own scripted or stochastic outages.

A site sees the system *down* when either layer is down, *degraded* (latency multiplied) when the
server or its link is degraded and nothing is down, *up* otherwise. Both layers are realised before
the day is simulated, so a :class:`Timeline` is a plain piecewise-constant function of time: the
model looks states up instead of running outage processes, and every policy of a replication sees
the same realisation (common random numbers).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from vaxdrill.core.scenario.sites import FailureProcess, OutageWindow

UP, DEGRADED, DOWN = 0, 1, 2
STATE_NAMES = ("up", "degraded", "down")
HORIZON = 24 * 3600.0
"""Every simulated day ends at midnight; whoever is still waiting then is counted as still inside."""

Interval = tuple[float, float, int]
"""(start, end, state) with state DEGRADED or DOWN."""


def scripted(windows: Iterable[OutageWindow]) -> list[Interval]:
    return [(w.start, w.end, DOWN if w.state == "down" else DEGRADED) for w in windows]


def alternating(
    process: FailureProcess, rng: np.random.Generator, start: float, end: float = HORIZON
) -> list[Interval]:
    """Realise an alternating up/failed process from ``start`` (up) until ``end``.

    Durations are drawn in small batches from the stream, in a fixed order, so the realisation
    depends only on the stream.
    """
    state = DOWN if process.state == "down" else DEGRADED
    out: list[Interval] = []
    t = start
    while t < end:
        ups = process.time_between_failures.sample(rng, 8)
        repairs = process.time_to_repair.sample(rng, 8)
        for up, repair in zip(ups.tolist(), repairs.tolist(), strict=True):
            t += up
            if t >= end:
                break
            out.append((t, min(t + max(repair, 1e-9), end), state))
            t += max(repair, 1e-9)
            if t >= end:
                break
    return out


class Timeline:
    """Piecewise-constant system state: ``states[k]`` holds from ``times[k]`` to ``times[k+1]``."""

    __slots__ = ("_next_up", "states", "times")

    def __init__(self, intervals: Sequence[Interval]) -> None:
        # A sweep over the cut points: an interval holds on the segment from cut c to the next
        # when start <= c < end, so count the intervals of each state open after each cut.
        delta: dict[float, dict[int, int]] = {0.0: {}}
        for s, e, st in intervals:
            at_s = delta.setdefault(s, {})
            at_s[st] = at_s.get(st, 0) + 1
            at_e = delta.setdefault(e, {})
            at_e[st] = at_e.get(st, 0) - 1
        open_: dict[int, int] = {}
        times: list[float] = []
        states: list[int] = []
        for t in sorted(delta):
            for st, d in delta[t].items():
                open_[st] = open_.get(st, 0) + d
            state = max((st for st, n in open_.items() if n > 0), default=UP)
            if not states or states[-1] != state:
                times.append(t)
                states.append(state)
        self.times = times
        self.states = states
        # For each segment, the start of the first segment at or after it that is not down.
        nxt_up = [math.inf] * len(states)
        following = math.inf
        for k in range(len(states) - 1, -1, -1):
            if states[k] != DOWN:
                following = times[k]
            nxt_up[k] = following
        self._next_up = nxt_up

    @property
    def always_up(self) -> bool:
        return len(self.states) == 1 and self.states[0] == UP

    def state_at(self, t: float) -> int:
        if len(self.times) == 1:
            return self.states[0]
        return self.states[bisect.bisect_right(self.times, t) - 1]

    def states_at(self, t: NDArray[np.float64]) -> NDArray[np.int64]:
        """:meth:`state_at` for an array of times."""
        idx = np.searchsorted(np.asarray(self.times), t, side="right") - 1
        states: NDArray[np.int64] = np.asarray(self.states, dtype=np.int64)[np.maximum(idx, 0)]
        return states

    def next_up(self, t: float) -> float:
        """The first moment at or after ``t`` when the system is not down (inf if never)."""
        k = bisect.bisect_right(self.times, t) - 1
        if self.states[k] != DOWN:
            return t
        return self._next_up[k]

    def down_intervals(self, start: float = 0.0, end: float = HORIZON) -> list[tuple[float, float]]:
        """Maximal down windows clipped to [start, end]."""
        out: list[tuple[float, float]] = []
        for k, state in enumerate(self.states):
            if state != DOWN:
                continue
            s = self.times[k]
            e = self.times[k + 1] if k + 1 < len(self.times) else HORIZON
            s, e = max(s, start), min(e, end)
            if e > s:
                out.append((s, e))
        return out

    def stable_from(self, t: float, hold: float) -> float:
        """The first moment at or after ``t`` when the system has been not-down for ``hold``."""
        times, states = self.times, self.states
        while True:
            u = self.next_up(t)
            if u == math.inf:
                return math.inf
            k = bisect.bisect_right(times, u) - 1
            j = k
            while j > 0 and states[j - 1] != DOWN:
                j -= 1
            m = k + 1
            while m < len(times) and states[m] != DOWN:
                m += 1
            end = times[m] if m < len(times) else math.inf
            ready = max(t, times[j] + hold)
            if ready <= end:
                return ready
            t = end

    def share_down(self, grid: NDArray[np.float64]) -> NDArray[np.float64]:
        """1.0 where the system is down at each grid time, else 0.0."""
        idx = np.searchsorted(np.asarray(self.times), grid, side="right") - 1
        down: NDArray[np.float64] = (np.asarray(self.states)[idx] == DOWN).astype(float)
        return down

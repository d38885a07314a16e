"""A step that needs the registration system: one attempt, then retries, then holding on.

Every attempt's outcome is decided by the system's state when the attempt starts (an
approximation): up, it answers after the drawn latency; degraded, after the latency times
``degraded_factor``; down, or slower than ``timeout``, the attempt fails after the timeout. A failed
transaction is retried after a backoff that doubles (``backoff``, ``2 x backoff``, ...) up to
``retries`` times; then the operator holds until the system answers again and starts over. Each
retry draws its latency from the site's pool of retry latencies (:attr:`SitePlan.retry_latency`),
in turn.

With a measured server profile (``server.profile``, :mod:`simulation.serverload`) an attempt's
latency, or its failure, follows the profile at the offered load when it starts; a failure takes
the same timeout/retry/backoff path as an attempt that finds the system down.

:class:`SystemLink` answers two questions for the site model: does the first attempt of a step
succeed now (the common case, a plain call), and if not, when does the transaction complete.
"""

from __future__ import annotations

import math
from bisect import bisect_right

import simpy

from simulation.availability import DEGRADED, DOWN, HORIZON, UP, Timeline
from simulation.plan import SitePlan
from simulation.serverload import ServerLoad
from simulation.staff import StationState
from vaxdrill.core.scenario.system import Server


class SystemLink:
    """One site's line to the registration system over the day."""

    __slots__ = ("always_up", "env", "load", "retry_i", "retry_latency", "seg", "server", "timeline")

    def __init__(
        self, env: simpy.Environment, server: Server, timeline: Timeline, plan: SitePlan, load: ServerLoad | None
    ) -> None:
        self.env, self.server, self.timeline, self.load = env, server, timeline, load
        self.always_up = timeline.always_up
        self.retry_latency = plan.retry_latency
        self.retry_i = 0  # the next retry latency to use
        # The timeline's segment last looked up, (start, end, state): the clock only moves forward,
        # so most lookups fall in the same segment as the last one and need no search.
        self.seg = (0.0, -1.0, UP)

    def state_now(self, now: float) -> int:
        """The system's state at ``now``, as :meth:`Timeline.state_at`, remembering the segment."""
        start, end, state = self.seg
        if start <= now < end:
            return state
        times = self.timeline.times
        k = bisect_right(times, now) - 1
        state = self.timeline.states[k]
        self.seg = (times[k], times[k + 1] if k + 1 < len(times) else math.inf, state)
        return state

    def attempt(self, latency: float) -> tuple[float, int]:
        """Latency of an attempt starting now (load, then degradation applied) and the system's state."""
        now = self.env._now
        lat = latency
        if self.load is not None:
            lat = self.load.latency(lat, now)
        state = UP if self.always_up else self.state_now(now)
        if state == DEGRADED:
            lat *= self.server.degraded_factor
        return lat, state

    def quick(self, st: StationState, i: int, paper: bool | None) -> float:
        """Service time of a step that needs no waiting for the system; -1.0 when it must wait.

        The common case (no system needed, on paper, or the system answering within the timeout)
        is a plain call rather than a sub-generator: it runs for almost every beneficiary.
        """
        if not st.needs_system:
            return st.service[i]
        if paper:
            return st.paper_service[i]
        # attempt() inlined: this runs for almost every beneficiary.
        now = self.env._now
        lat = st.latency[i]
        if self.load is not None:
            lat = self.load.latency(lat, now)
        state = UP if self.always_up else self.state_now(now)
        if state == DEGRADED:
            lat *= self.server.degraded_factor
        if state != DOWN and lat <= self.server.timeout:
            st.transactions.append(now + lat)
            return st.service[i] + lat
        return -1.0

    def completion(self, t: float, lat: float, state: int, tries: list[float]) -> float:
        """When a transaction that failed its first attempt at ``t`` completes (inf if never).

        ``tries`` receives the start time of every failed attempt.
        """
        server, tl, load = self.server, self.timeline, self.load
        retries, timeout, backoff = server.retries, server.timeout, server.backoff
        draws = self.retry_latency
        k = 0
        while True:
            if state != DOWN:
                eff = lat * server.degraded_factor if state == DEGRADED else lat
                if eff <= timeout:
                    return t + eff
            tries.append(t)
            t += timeout
            k += 1
            if k > retries:
                t = tl.next_up(t)  # the operator tries again once the system answers
                if t == math.inf or t >= HORIZON:
                    return math.inf
                k = 0
            else:
                t += backoff * 2 ** (k - 1)
            lat = draws[self.retry_i % len(draws)]
            if load is not None:
                lat = load.latency(lat, t)
            self.retry_i += 1
            state = tl.state_at(t)

"""Load shapes as plain functions of time, and the open model's arrival clock.

Two workload models (BRIEF.md section 6):

- **closed** (``launch_day``, ``constant``): a number of users, each waiting for its answer and
  thinking before the next request. A slow server slows its own load, which hides latency
  (coordinated omission). ``LaunchDayShape`` is closed, like every Locust ``LoadTestShape``.
- **open** (``open``, ``steps``): journeys *arrive* at a target rate whatever the server does; a
  pool of pre-allocated users runs them. An arrival that no user can start on time is counted late,
  and dropped after ``drop_after`` (k6's ``dropped_iterations``), so the slowness shows.

The Locust classes in ``locustfiles/`` only wrap these functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vaxdrill.core.scenario.loadplan import LaunchDayPlan, LoadProfile, StepPlan


def launch_day_users(plan: LaunchDayPlan, peak: int, duration: float, t: float) -> int:
    """Concurrent users at ``t`` seconds of a compressed launch day of ``duration`` seconds.

    Quiet until opening; a surge to ``surge_users`` at opening; the flash crowd at the slot release
    (every user); then a linear afternoon decay to ``afternoon_users``.
    """
    if t < 0 or t >= duration:
        return 0
    x = t / duration
    quiet = max(1, round(plan.quiet_users * peak))
    surge = max(1, round(plan.surge_users * peak))
    end = max(1, round(plan.afternoon_users * peak))
    if x < plan.opening_at:
        return quiet
    if x < plan.slot_release_at:
        return surge
    crowd_end = plan.slot_release_at + plan.flash_crowd_length
    if x < crowd_end:
        return peak
    if crowd_end >= 1.0:
        return end
    frac = (x - crowd_end) / (1.0 - crowd_end)
    return max(1, round(surge + (end - surge) * frac))


def step_rate(plan: StepPlan, t: float) -> float:
    """The ladder's arrival rate at ``t`` seconds (0 past ``max_rate``'s step)."""
    if t < 0:
        return 0.0
    k = int(t // plan.step_duration)
    rate = plan.start_rate + k * plan.step_rate
    return rate if rate <= plan.max_rate + 1e-9 else 0.0


def ladder(plan: StepPlan) -> list[float]:
    """Every rate of the ladder, lowest first."""
    n = math.floor((plan.max_rate - plan.start_rate) / plan.step_rate + 1e-9) + 1
    return [plan.start_rate + k * plan.step_rate for k in range(max(n, 1))]


def rate_function(load: LoadProfile) -> Callable[[float], float]:
    """Target arrival rate (journeys per second) against time, for the open shapes."""
    if load.shape == "steps":
        return lambda t: step_rate(load.steps, t)
    if load.curve is not None:
        times = np.array([p[0] for p in load.curve])
        rates = np.array([p[1] for p in load.curve])
        end = float(times[-1])
        # Piecewise constant on whole seconds, as ArrivalClock expects.
        return lambda t: float(np.interp(math.floor(t), times, rates)) if 0 <= t < end else 0.0
    rate = load.arrival_rate if load.arrival_rate is not None else float(load.users)
    return lambda t: rate if 0 <= t < load.duration else 0.0


@dataclass
class ArrivalClock:
    """Scheduled arrival times for a rate piecewise constant on whole seconds: Poisson or evenly spaced.

    ``share`` is this process's part of the total rate (1/N on each of N workers); ``rng`` is a
    seeded stream, so the same seed gives the same schedule.
    """

    rate: Callable[[float], float]
    rng: np.random.Generator
    poisson: bool = True
    share: float = 1.0
    _t: float = 0.0

    def next_arrival(self, horizon: float) -> float | None:
        """The next arrival time after the previous one, or ``None`` if none before ``horizon``."""
        t = self._t
        while t < horizon:
            lam = self.rate(t) * self.share
            if lam <= 0:
                t = math.floor(t + 1.0)  # rate changes at whole seconds at most; step ahead
                continue
            if self.poisson:
                nxt = t + float(self.rng.exponential(1.0 / lam))
                edge = math.floor(t) + 1.0
                if nxt > edge and self.rate(edge) * self.share != lam:
                    # the rate changes at a whole second; memorylessness lets us restart there
                    t = edge
                    continue
                t = nxt
            else:
                t += 1.0 / lam
            if t < horizon:
                self._t = t
                return t
        self._t = horizon
        return None


@dataclass
class OpenModelAccount:
    """What the open model promised and what it delivered (coordinated-omission report)."""

    scheduled: int = 0
    started: int = 0
    late: int = 0
    dropped: int = 0
    start_delay_max_s: float = 0.0

    def start(self, delay_s: float, late_after: float) -> None:
        self.started += 1
        if delay_s > late_after:
            self.late += 1
        self.start_delay_max_s = max(self.start_delay_max_s, delay_s)

    def as_json(self) -> dict[str, float]:
        return {
            "scheduled": self.scheduled,
            "started": self.started,
            "late": self.late,
            "dropped": self.dropped,
            "start_delay_max_s": round(self.start_delay_max_s, 4),
        }

"""Performance triggers: a site goes to paper because the system is slow, not only because it is down.

On launch day the registration system mostly answered slowly or failed per beneficiary (5-10 min
per beneficiary online in Gurugram against 3-5 by hand; 10 min per authentication in Beed; issue
19). ``offline_when_slow`` watches what a transaction started at each minute would meet:

- **time per attempt**: the attempt's latency (times ``degraded_factor`` while degraded), capped at
  the timeout (a failed attempt costs the timeout);
- **failure share**: the share of attempts that fail (system down, or slower than the timeout).

Both are averaged over the site's own first-attempt latency draws (common random numbers) for
each availability state, so the signal is a piecewise-constant function of the site's
:class:`~simulation.availability.Timeline`, known before the day is simulated, like every other
policy's switches. Over a sliding ``window`` (only from opening: nobody watches before) the mean
signal is compared with the threshold:

- to paper when the signal reaches the threshold;
- back online when it has fallen to ``back_at`` x the threshold (hysteresis), never with
  ``stay_on_paper``;
- a decision takes effect ``escalation`` later, and no decision is taken until ``min_dwell`` has
  passed since the last switch took effect: every episode lasts at least ``min_dwell`` (except one
  cut by midnight), so there are no zero-length episodes.

Decisions are taken on a one-minute grid (a supervisor looking at the counter, not an alarm).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simulation.availability import DEGRADED, DOWN, HORIZON, UP, Timeline
from simulation.policies import Switch
from simulation.serverload import BIN, ServerLoad
from vaxdrill.core.scenario.policies import OfflineWhenSlow
from vaxdrill.core.scenario.system import Server

CHECK_EVERY = 60.0
"""Seconds between two looks at the signal."""
SIGNAL_DRAWS = 256
"""At most this many of the site's first-attempt latencies estimate the per-state signal."""


def state_signals(
    latencies: list[float], server: Server, load: ServerLoad | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean time per attempt (s) and failure share, shape (state UP/DEGRADED/DOWN, 5-minute bin).

    Without a server profile the latencies are seconds and there is one bin; with one they are
    standard-normal quantiles, turned into each 5-minute bin's latency (or failure) at its load.
    """
    draws = np.asarray(latencies[:SIGNAL_DRAWS], dtype=float)
    if draws.size == 0:
        draws = np.zeros(1)
    if load is None:
        lat = draws[None, :]
    else:
        mu, sigma, zfail = (np.asarray(a)[:, None] for a in (load.mu, load.sigma, load.zfail))
        lat = np.where(draws[None, :] > zfail, math.inf, np.exp(mu + sigma * draws[None, :]))
    timeout = server.timeout
    time_per = np.empty((3, lat.shape[0]))
    fail = np.empty((3, lat.shape[0]))
    for state, factor in ((UP, 1.0), (DEGRADED, server.degraded_factor)):
        eff = lat * factor
        failed = eff > timeout
        time_per[state] = np.where(failed, timeout, eff).mean(axis=1)
        fail[state] = failed.mean(axis=1)
    time_per[DOWN], fail[DOWN] = timeout, 1.0
    return time_per, fail


def window_signal(
    per_state: NDArray[np.float64], timeline: Timeline, grid: NDArray[np.float64], window: float
) -> NDArray[np.float64]:
    """The signal's mean over the last ``window`` (from ``grid[0]``, the opening) at each grid time."""
    start = np.maximum(grid - CHECK_EVERY, grid[0])  # each value covers the minute ending at its time
    bins = np.minimum((start // BIN).astype(np.int64), per_state.shape[1] - 1)
    value = per_state[timeline.states_at(start), bins]
    k = max(1, round(window / CHECK_EVERY))
    csum = np.concatenate(([0.0], np.cumsum(value)))
    idx = np.arange(1, grid.size + 1)
    lo = np.maximum(idx - k, 0)
    mean: NDArray[np.float64] = (csum[idx] - csum[lo]) / (idx - lo)
    return mean


def slow_switches(
    policy: OfflineWhenSlow,
    timeline: Timeline,
    opens: float,
    latencies: list[float],
    server: Server,
    load: ServerLoad | None = None,
) -> list[Switch]:
    """The site's switches under ``offline_when_slow``, in time order."""
    time_per, fail = state_signals(latencies, server, load)
    grid = np.arange(opens, HORIZON, CHECK_EVERY)
    # Each signal normalised by its threshold; the trigger fires when either reaches 1.
    ratio = np.zeros(grid.size)
    if policy.slower_than is not None:
        ratio = np.maximum(ratio, window_signal(time_per, timeline, grid, policy.window) / policy.slower_than)
    if policy.failing_share is not None:
        ratio = np.maximum(ratio, window_signal(fail, timeline, grid, policy.window) / policy.failing_share)
    return hysteresis(grid, ratio, policy.back_at, policy.min_dwell, policy.escalation, policy.stay_on_paper)


def hysteresis(
    grid: NDArray[np.float64],
    ratio: NDArray[np.float64],
    back_at: float,
    min_dwell: float,
    escalation: float,
    stay: bool,
) -> list[Switch]:
    """Switches from a normalised signal: paper at ratio >= 1, back at ratio <= ``back_at``."""
    out: list[Switch] = []
    paper = False
    ready = -math.inf  # no decision before this time (the last switch took effect min_dwell ago)
    eps = 1e-9
    up_hit = ratio >= 1.0 - eps
    down_hit = ratio <= back_at + eps
    while True:
        hits = down_hit if paper else up_hit
        cand = np.flatnonzero(hits & (grid >= ready))
        if cand.size == 0:
            return out
        at = float(grid[cand[0]]) + escalation
        if at >= HORIZON:
            return out
        paper = not paper
        out.append((at, paper))
        if paper and stay:
            return out
        ready = at + min_dwell


def episodes(switches: list[Switch], end: float = HORIZON) -> list[tuple[float, float]]:
    """Paper episodes ``(start, end)`` of a switch list (an episode still open ends at ``end``)."""
    out: list[tuple[float, float]] = []
    start: float | None = None
    for t, paper in switches:
        if paper and start is None:
            start = t
        elif not paper and start is not None:
            out.append((start, t))
            start = None
    if start is not None:
        out.append((start, end))
    return out


def hopeless(server: Server, t0: float, tries: list[float]) -> float:
    """Attempts for a beneficiary the system cannot select: the first, then ``retries`` retries.

    ``tries`` receives each attempt's start; returns when the last one has timed out (the operator
    then gives up on this person, unless the policy put them on paper before).
    """
    t = t0
    for k in range(server.retries + 1):
        tries.append(t)
        t += server.timeout
        if k < server.retries:
            t += server.backoff * 2**k
    return t


def first_system_latencies(stations: dict[str, Any]) -> list[float]:
    """First-attempt latency draws of the site's first station that needs the system."""
    for draws in stations.values():
        if draws.latency:
            latency: list[float] = draws.latency
            return latency
    return []

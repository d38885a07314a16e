"""A measured server profile applied to the simulation's registration-system transactions.

With ``server.profile`` set, a transaction's latency and failure follow what the load test measured
at the offered load of the moment, ``L(t)`` (``server.load``, piecewise-linear over the day; default
the profile's ``day_load``, else its knee). At each profile point the latency is a lognormal fitted
to its p50 and p95 (``mu = ln p50``, ``sigma = ln(p95 / p50) / 1.645``); between points ``mu``,
``sigma`` and the failure probability ``p`` are interpolated linearly in offered load, and held at
the first or last point outside the measured range.

Each transaction attempt has a pre-drawn uniform ``u`` (:mod:`simulation.plan`, stored as its
standard-normal quantile ``z``, so common random numbers hold across loads and policies). The
attempt fails when ``u > 1 - p`` (the slow tail times out: it goes through the site's
timeout/retry/backoff path), else its latency is the lognormal quantile at ``u``. Everything is
precomputed per 5-minute bin of the day, so an attempt costs one index and one ``exp``.
"""

from __future__ import annotations

import functools
import math
import os

import numpy as np

from vaxdrill.core.profile import ServerProfile, read_profile
from vaxdrill.core.scenario.system import Server

BIN = 300.0
Z95 = 1.6448536269514722
_BINS = 24 * 12 + 1


@functools.lru_cache(maxsize=8)
def _cached(path: str, stamp: tuple[int, int]) -> ServerProfile:
    return read_profile(path)


def _profile(path: str) -> ServerProfile:
    """Read once per process and file version (a rewritten profile is read again)."""
    try:
        st = os.stat(path)
    except OSError:
        return read_profile(path)  # raises ProfileError with the path
    return _cached(path, (st.st_mtime_ns, st.st_size))


def offered_load(server: Server, profile: ServerProfile, t: np.ndarray) -> np.ndarray:
    """``L(t)``: the scenario's ``server.load``, else the profile's ``day_load``, else its knee."""
    if server.load:
        xs, ys = [p.at for p in server.load], [p.rps for p in server.load]
    elif profile.day_load:
        xs, ys = [c for c, _ in profile.day_load], [r for _, r in profile.day_load]
    else:
        assert profile.knee_rps is not None  # the scenario loader checks this
        return np.full(t.shape, profile.knee_rps)
    out: np.ndarray = np.interp(t, xs, ys)
    return out


class ServerLoad:
    """Per 5-minute bin: log-latency ``mu`` and ``sigma`` (seconds) and the failure threshold on ``z``."""

    __slots__ = ("load", "mu", "sigma", "zfail")

    def __init__(self, server: Server, profile: ServerProfile) -> None:
        from scipy.special import ndtri

        mids = (np.arange(_BINS) + 0.5) * BIN
        load = offered_load(server, profile, mids)
        pts = profile.points
        x = np.array([p.offered_rps for p in pts])
        p50 = np.array([float(p.p50_ms or 0.0) for p in pts]) / 1000.0
        p95 = np.array([float(p.p95_ms or 0.0) for p in pts]) / 1000.0
        mu = np.log(p50)
        sigma = np.maximum(np.log(p95 / p50) / Z95, 0.0)
        fail = np.array([p.failure_rate for p in pts])
        self.load: list[float] = load.tolist()
        self.mu: list[float] = np.interp(load, x, mu).tolist()
        self.sigma: list[float] = np.interp(load, x, sigma).tolist()
        p = np.clip(np.interp(load, x, fail), 0.0, 1.0)
        self.zfail: list[float] = ndtri(1.0 - p).tolist()  # u > 1 - p  <=>  z > ndtri(1 - p)

    def latency(self, z: float, t: float) -> float:
        """Latency in seconds of an attempt started at ``t`` with quantile ``z`` (inf: it fails)."""
        b = int(t // BIN)
        if b >= _BINS:
            b = _BINS - 1
        if z > self.zfail[b]:
            return math.inf
        return math.exp(self.mu[b] + self.sigma[b] * z)


def server_load(server: Server) -> ServerLoad | None:
    """The profile's effect for this scenario's server, or ``None`` without a profile."""
    if server.profile is None:
        return None
    return ServerLoad(server, _profile(server.profile))


def quantiles(u: np.ndarray) -> list[float]:
    """Standard-normal quantiles of pre-drawn uniforms (kept away from 0 so ``z`` stays finite)."""
    from scipy.special import ndtri

    z: list[float] = ndtri(np.clip(u, 1e-12, 1.0 - 1e-12)).tolist()
    return z

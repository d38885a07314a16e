"""The run's target: which hosts may be loaded, the load planned for them, and the request-rate cap.

A host on this machine (127.0.0.0/8, ::1, ``localhost``) may always be loaded. Any other host must
be named in an opt-in (``--allow-host HOST`` or the scenario's ``target.allow_hosts``) by exactly the
name used in the URL: names are never resolved here, so ``staging.example.org`` is allowed only by
``staging.example.org``, even if it resolves to loopback. :func:`check_target` runs before any server
or Locust process starts, so a refused host has been sent nothing.

:class:`RatePacer` spaces requests so that one process sends at most its share of ``load.max_rps``
(GCRA, as a token bucket holding one token: each request reserves the next free slot).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from vaxdrill.core.errors import HostNotAllowed
from vaxdrill.core.scenario.loadplan import LoadProfile


def is_local(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and ``localhost`` (no DNS lookup)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def host_name(entry: str) -> str:
    """The host an opt-in names: ``HOST``, ``HOST:PORT``, ``[v6]`` or a whole URL, lower case."""
    text = entry.strip()
    parts = urlsplit(text if "://" in text else f"//{text}")
    try:
        return (parts.hostname or text).lower()
    except ValueError:
        return text.lower()


def check_target(url: str, allow_hosts: Iterable[str] = ()) -> str:
    """Return ``url`` without a trailing slash if it may be loaded, else raise :class:`HostNotAllowed`.

    ``allow_hosts``: the opt-ins (``--allow-host`` and the scenario's ``target.allow_hosts``).
    """
    parts = urlsplit(url)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise HostNotAllowed(f"--host {url!r}: expected a URL such as http://127.0.0.1:8000")
    host = parts.hostname.lower()
    if not is_local(host) and host not in {host_name(h) for h in allow_hosts}:
        raise HostNotAllowed(
            f"--host {url!r}: {host} is outside this machine; to load it, opt in with "
            f"--allow-host {host} (or `target: {{allow_hosts: [{host}]}}` in the scenario)"
        )
    return url.rstrip("/")


@dataclass(frozen=True)
class PlannedLoad:
    """The peak a run plans: journeys per second (open model) or users (closed), and the rate cap."""

    peak: float
    unit: str  # "journeys/s" or "users"
    max_rps: float | None = None

    def __str__(self) -> str:
        text = f"planned peak {self.peak:g} {self.unit}"
        if self.max_rps is not None:
            text += f", capped at {self.max_rps:g} requests/s across all workers"
        return text


def planned_load(load: LoadProfile, mode: str = "loadtest") -> PlannedLoad:
    """The peak of ``load``'s shape: the open model's highest arrival rate, or the closed model's users."""
    if mode == "capacity" or load.shape == "steps":
        return PlannedLoad(load.steps.max_rate, "journeys/s", load.max_rps)
    if load.shape == "open":
        if load.curve is not None:
            peak = max(rate for _, rate in load.curve)
        else:
            peak = load.arrival_rate if load.arrival_rate is not None else float(load.users)
        return PlannedLoad(peak, "journeys/s", load.max_rps)
    return PlannedLoad(float(load.users), "users", load.max_rps)


@dataclass
class RatePacer:
    """At most ``rate`` requests per second from one process: :meth:`reserve` says how long to wait.

    Requests are spaced ``1/rate`` apart; a request arriving when the line is free goes at once, so
    over ``T`` seconds at most ``rate * T + 1`` requests leave.
    """

    rate: float
    _next: float = 0.0

    def reserve(self, now: float) -> float:
        """Reserve the next free slot for a request wanting to go at ``now``; seconds to wait for it."""
        slot = max(now, self._next)
        self._next = slot + 1.0 / self.rate
        return slot - now

"""The central registration system as the simulation sees it, and the SMS it sends.

The central server is shared by every site of a scenario, so its failures hit all sites at once
(correlated); each site's own connectivity (``Site.connectivity``) adds independent outages.
"""

from __future__ import annotations

import itertools

from pydantic import Field, model_validator

from vaxdrill.core.scenario.base import Strict
from vaxdrill.core.scenario.distributions import Dist, Distribution
from vaxdrill.core.scenario.sites import FailureProcess, OutageWindow
from vaxdrill.core.scenario.units import ClockTime, Duration, Share


class LoadPoint(Strict):
    """Offered load on the central server at a clock time (requests per second, in the profile's unit)."""

    at: ClockTime
    rps: float = Field(ge=0)


class Server(Strict):
    """Transaction latency, timeout and retries, and the server's up/degraded/down states."""

    latency: Dist = Field(default_factory=lambda: Distribution.model_validate("lognormal(2s, 1s)"))
    timeout: Duration = Field(30.0, gt=0)
    retries: int = Field(2, ge=0)
    backoff: Duration = Field(10.0, ge=0, description="First retry delay; doubles each retry.")
    degraded_factor: float = Field(5.0, ge=1.0, description="Latency multiplier while degraded.")
    outages: list[OutageWindow] = Field(default_factory=list)
    failures: FailureProcess | None = None
    profile: str | None = Field(
        None,
        description="A measured server profile (server_profile.json, relative to the scenario file) whose latency "
        "and failure rate at the offered load replace `latency`.",
    )
    load: list[LoadPoint] = Field(
        default_factory=list,
        description="Offered load on the central server over the day, piecewise-linear between points (used with "
        "`profile`); default: the profile's day_load, else its knee_rps.",
    )

    @model_validator(mode="after")
    def _load_order(self) -> Server:
        ats = [p.at for p in self.load]
        if any(b <= a for a, b in itertools.pairwise(ats)):
            raise ValueError("server.load: `at` times must increase from point to point")
        return self


class Sms(Strict):
    """Reminder SMS: delivered with this probability while the server is up, never while down."""

    delivery: Share = 0.97
    delivery_when_down: Share = 0.0
    send_before: Duration = Field(3600.0, ge=0, description="The reminder goes out this long before the booked time.")

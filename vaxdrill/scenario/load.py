"""Load-test sections: the load profile, SLOs and the fault plan.

Times here are load-test times (seconds after the test starts), not clock times of the day: a
launch day is replayed compressed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from vaxdrill.scenario.base import Strict
from vaxdrill.scenario.distributions import Dist, Distribution
from vaxdrill.scenario.units import Duration, Share


def _dist(text: str) -> Distribution:
    return Distribution.model_validate(text)


class UserMix(Strict):
    """Relative weights of the Locust user classes."""

    citizen: int = Field(8, ge=0)
    vaccinator: int = Field(1, ge=0)
    slot_watcher: int = Field(1, ge=0)


class ThinkTimes(Strict):
    citizen: Dist = Field(default_factory=lambda: _dist("uniform(1s, 5s)"))
    vaccinator: Dist = Field(default_factory=lambda: _dist("uniform(2s, 6s)"))
    slot_watcher: Dist = Field(default_factory=lambda: _dist("uniform(3s, 15s)"))


class LoadProfile(Strict):
    """How the load test drives the server."""

    shape: Literal["launch_day", "steps", "open", "constant"] = "launch_day"
    duration: Duration = Field(120.0, gt=0)
    users: int = Field(50, ge=1, description="Peak concurrent users (closed shapes).")
    spawn_rate: float = Field(10.0, gt=0)
    arrival_rate: float | None = Field(None, gt=0, description="Journeys started per second (open shape).")
    compression: float = Field(240.0, ge=1, description="Day seconds per load-test second.")
    mix: UserMix = Field(default_factory=UserMix)
    think_time: ThinkTimes = Field(default_factory=ThinkTimes)
    request_timeout: Duration = Field(10.0, gt=0)


class Slo(Strict):
    """One service-level objective; give exactly one limit."""

    name: str | None = None
    endpoint: str | None = Field(None, description="Locust request name; none = all requests.")
    p50: Duration | None = None
    p95: Duration | None = None
    p99: Duration | None = None
    error_rate: Share | None = None
    min_rps: float | None = Field(None, gt=0)
    max_sync_lag: Duration | None = None

    @model_validator(mode="after")
    def _one_limit(self) -> Slo:
        limits = [
            n for n in ("p50", "p95", "p99", "error_rate", "min_rps", "max_sync_lag") if getattr(self, n) is not None
        ]
        if len(limits) != 1:
            raise ValueError("an SLO needs exactly one of p50, p95, p99, error_rate, min_rps, max_sync_lag")
        return self


class Fault(Strict):
    """A fault injected into the server at ``at`` after the start, for ``duration``.

    ``outage``: matching routes answer ``mode`` (503, a reset connection, or a hang until the fault
    ends, so clients time out). ``latency``: each matching request waits a draw of ``latency``.
    ``error_rate``: a share ``rate`` of matching requests answers ``status``. ``slow_db``: every
    database transaction waits a draw of ``latency``. ``sms_drop``: a share ``rate`` (default all) of
    OTP SMS is dropped. ``sms_delay``: each SMS is delivered a draw of ``latency`` late.
    """

    kind: Literal["outage", "latency", "error_rate", "slow_db", "sms_drop", "sms_delay"]
    at: Duration = Field(0.0, ge=0)
    duration: Duration = Field(gt=0)
    routes: list[str] = Field(default_factory=lambda: ["*"], description="Path globs; * = every API route.")
    mode: Literal["503", "reset", "hang"] = "503"
    latency: Dist | None = None
    rate: Share | None = None
    status: int = Field(500, ge=500, le=599, description="Status an error_rate fault answers.")

    @model_validator(mode="after")
    def _needs(self) -> Fault:
        if self.kind in ("latency", "slow_db", "sms_delay") and self.latency is None:
            raise ValueError(f"a {self.kind} fault needs `latency` (a distribution such as 'exp(200ms)')")
        if self.kind == "error_rate" and self.rate is None:
            raise ValueError("an error_rate fault needs `rate` (a share such as 5%)")
        return self

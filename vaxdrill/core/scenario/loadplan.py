"""Load-test sections: the load profile, SLOs and the fault plan.

Times here are load-test times (seconds after the test starts), not clock times of the day: a
launch day is replayed compressed.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from vaxdrill.core.scenario.base import Strict
from vaxdrill.core.scenario.distributions import Dist, Distribution
from vaxdrill.core.scenario.units import Duration, Share


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


class LaunchDayPlan(Strict):
    """The compressed launch day of ``LaunchDayShape`` (closed model), as shares of the run.

    Quiet before registration opens, the surge at opening (BRIEF.md section 5: 28 Apr 2021, 55,000
    hits/s at 16:00), a flash crowd when the day's slots are released, then the afternoon decay.
    """

    opening_at: Share = Field(0.15, description="Share of the run before registration opens.")
    quiet_users: Share = Field(0.1, description="Users before opening, as a share of `users`.")
    surge_users: Share = Field(0.7, description="Users after the opening surge.")
    slot_release_at: Share = Field(0.5, description="When the slots are released (flash crowd).")
    flash_crowd_length: Share = Field(0.15, description="Length of the flash crowd (at 100% of `users`).")
    afternoon_users: Share = Field(0.3, description="Users at the end of the afternoon decay.")

    @model_validator(mode="after")
    def _order(self) -> LaunchDayPlan:
        if not self.opening_at < self.slot_release_at < 1.0:
            raise ValueError("opening_at < slot_release_at < 100% is needed")
        if self.slot_release_at + self.flash_crowd_length > 1.0:
            raise ValueError("slot_release_at + flash_crowd_length must stay within the run (<= 100%)")
        return self


class StepPlan(Strict):
    """An open-model ladder of arrival rates (``StepShape``, ``vaxdrill capacity``)."""

    start_rate: float = Field(5.0, gt=0, description="Arrivals per second of the first step.")
    step_rate: float = Field(5.0, gt=0, description="Added per step.")
    max_rate: float = Field(200.0, gt=0, description="The ladder stops here even without a breach.")
    step_duration: Duration = Field(10.0, gt=0, description="Length of a step, warm-up included.")
    warmup: Duration = Field(2.0, ge=0, description="Start of each step left out of its statistics.")
    bisections: int = Field(3, ge=0, le=10, description="Refinements between the last good and first bad step.")

    @model_validator(mode="after")
    def _warmup(self) -> StepPlan:
        if self.warmup >= self.step_duration:
            raise ValueError("warmup must be shorter than step_duration")
        return self


class OpenModel(Strict):
    """Settings of the open model (arrival rate independent of the server's speed)."""

    max_users: int = Field(200, ge=1, description="Users pre-allocated to run arrivals (k6 maxVUs).")
    late_after: Duration = Field(0.1, ge=0, description="An iteration starting later than this is counted late.")
    drop_after: Duration = Field(
        2.0, gt=0, description="An arrival no user could start within this is dropped (k6 dropped_iterations)."
    )
    poisson: bool = Field(True, description="Poisson arrivals (seeded); false = evenly spaced.")


class RetryPolicy(Strict):
    """Client retries on 503 and timeouts: capped exponential backoff with full jitter (AWS)."""

    max_attempts: int = Field(4, ge=1)
    base: Duration = Field(0.25, gt=0)
    cap: Duration = Field(8.0, gt=0)
    budget: Share = Field(0.2, description="Retries allowed per request made (token bucket), so no retry storm.")


class JourneyPlan(Strict):
    """Shares and sizes of the citizen journey and the vaccinator's paper pace."""

    beneficiaries_weights: list[float] = Field(
        default_factory=lambda: [0.4, 0.3, 0.2, 0.1], description="Weights of 1, 2, 3, 4 beneficiaries per mobile."
    )
    cancel: Share = Field(0.05, description="Share of bookings later cancelled.")
    reschedule: Share = Field(0.1, description="Share of bookings later rescheduled.")
    certificate: Share = Field(0.3, description="Share of citizens who later try to download a certificate.")
    paper_pace: Dist = Field(
        default_factory=lambda: _dist("uniform(2s, 4s)"), description="Time per dose recorded on paper."
    )
    sync_batch: int = Field(50, ge=1, description="Records per batch sync request.")
    watcher_poll: Dist = Field(
        default_factory=lambda: _dist("uniform(1s, 3s)"), description="Slot-watching bots polled every few seconds."
    )


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
    launch_day: LaunchDayPlan = Field(default_factory=LaunchDayPlan)
    steps: StepPlan = Field(default_factory=StepPlan)
    open: OpenModel = Field(default_factory=OpenModel)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    journey: JourneyPlan = Field(default_factory=JourneyPlan)
    abort_after_breach: Duration | None = Field(
        None, gt=0, description="Stop the run once an SLO has been breached this long without pause."
    )
    abort_on_errors: Duration | None = Field(
        15.0, gt=0, description="Stop the run (exit 3) once every request has failed this long; null: never."
    )
    locustfile: str | None = Field(
        None,
        description="A plain Locust file to run instead of the built-in Co-WIN journeys, relative to the "
        "scenario file (`vaxdrill loadtest -f` overrides it).",
    )
    max_rps: float | None = Field(
        None,
        gt=0,
        description="Cap on requests per second across all workers (each worker paces its share); none = no cap.",
    )
    curve: list[tuple[float, float]] | None = Field(
        None,
        description="Open-model arrival curve: [[load-test second, journeys per second], ...], interpolated "
        "between points (written by `loadtest --from-simulation`).",
    )

    @model_validator(mode="after")
    def _curve(self) -> LoadProfile:
        if self.curve is not None:
            if len(self.curve) < 2:
                raise ValueError("curve needs at least two points")
            times = [t for t, _ in self.curve]
            if any(b <= a for a, b in itertools.pairwise(times)) or times[0] < 0:
                raise ValueError("curve times must start at 0 or later and increase")
            if any(rate < 0 for _, rate in self.curve):
                raise ValueError("curve rates must not be negative")
        return self


class Target(Strict):
    """Where a load test may send its requests besides this machine."""

    allow_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts outside this machine (127.0.0.0/8, ::1) that `--host` may name, by the exact name "
        "in the URL (no DNS lookup), e.g. [staging.example.org]. Same as `--allow-host`.",
    )


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


# Toxiproxy's toxics and their integer attributes (milliseconds, KB/s, bytes; the slicer's delay in
# microseconds), as ``vaxdrill proxy`` implements them (vaxdrill/proxy/toxics.py; a unit test keeps the two
# equal). ``down`` is not a toxic: the proxy is disabled (``enabled: false``) for the fault's duration.
TOXIC_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "latency": ("latency", "jitter"),
    "bandwidth": ("rate",),
    "slow_close": ("delay",),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "slicer": ("average_size", "size_variation", "delay"),
    "limit_data": ("bytes",),
    "down": (),
}
ToxicType = Literal["latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data", "down"]
NETWORK_ONLY = ("toxic", "attributes", "stream", "toxicity")

MAX_FAULT_SECONDS = 30 * 86400.0
"""A drill's faults start and end within a month; beyond that a duration is a typo."""

RouteGlob = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Fault(Strict):
    """A fault injected at ``at`` after the start, for ``duration``.

    Server faults, through the reference server's admin API: ``outage``: matching routes answer
    ``mode`` (503, a reset connection, or a hang until the fault ends, so clients time out).
    ``latency``: each matching request waits a draw of ``latency``. ``error_rate``: a share ``rate`` of
    matching requests answers ``status``. ``slow_db``: every database transaction waits a draw of
    ``latency``. ``sms_drop``: a share ``rate`` (default all) of OTP SMS is dropped. ``sms_delay``: each
    SMS is delivered a draw of ``latency`` late.

    ``network``: a Toxiproxy toxic on the connections between the load and the server (any server):
    the run goes through a proxy, which gets the toxic ``toxic`` with ``attributes`` on ``stream`` for
    ``duration``; ``toxic: down`` disables the proxy instead (new connections refused, open ones dropped).
    """

    kind: Literal["outage", "latency", "error_rate", "slow_db", "sms_drop", "sms_delay", "network"]
    at: Duration = Field(0.0, ge=0, le=MAX_FAULT_SECONDS, description="Start after the plan is posted (<= 30 days).")
    duration: Duration = Field(gt=0, le=MAX_FAULT_SECONDS, description="How long the fault lasts (<= 30 days).")
    routes: list[RouteGlob] = Field(
        default_factory=lambda: ["*"], min_length=1, max_length=50, description="Path globs; * = every API route."
    )
    mode: Literal["503", "reset", "hang"] = "503"
    latency: Dist | None = None
    rate: Share | None = None
    status: int = Field(500, ge=500, le=599, description="Status an error_rate fault answers.")
    toxic: ToxicType | None = Field(
        None, description="Network fault: a Toxiproxy toxic type, or `down` (the proxy disabled)."
    )
    attributes: dict[str, int] = Field(
        default_factory=dict,
        description="Network fault: the toxic's attributes in Toxiproxy's units (ms; rate in KB/s; limit_data "
        "bytes; slicer sizes in bytes and delay in microseconds). Unset ones are 0.",
    )
    stream: Literal["downstream", "upstream"] = Field(
        "downstream", description="Network fault: downstream = server to client, upstream = client to server."
    )
    toxicity: Share = Field(1.0, description="Network fault: share of connections the toxic applies to.")

    @model_validator(mode="after")
    def _needs(self) -> Fault:
        if self.kind == "network":
            return self._network()
        if self.toxic is not None or self.attributes or self.stream != "downstream" or self.toxicity != 1.0:
            raise ValueError(f"{', '.join(NETWORK_ONLY)} apply only to a fault of kind: network, not {self.kind}")
        if self.kind in ("latency", "slow_db", "sms_delay") and self.latency is None:
            raise ValueError(f"a {self.kind} fault needs `latency` (a distribution such as 'exp(200ms)')")
        if self.kind == "error_rate" and self.rate is None:
            raise ValueError("an error_rate fault needs `rate` (a share such as 5%)")
        return self

    def _network(self) -> Fault:
        if self.toxic is None:
            raise ValueError(f"a network fault needs `toxic` (one of {', '.join(TOXIC_ATTRIBUTES)})")
        if self.routes != ["*"] or self.latency is not None or self.rate is not None:
            raise ValueError("a network fault acts on TCP connections: routes, latency and rate do not apply")
        known = TOXIC_ATTRIBUTES[self.toxic]
        unknown = sorted(set(self.attributes) - set(known))
        if unknown:
            takes = f"takes attributes {', '.join(known)}" if known else "takes no attributes"
            raise ValueError(f"a {self.toxic} network fault {takes}; got {', '.join(unknown)}")
        negative = sorted(k for k, v in self.attributes.items() if v < 0)
        if negative:
            raise ValueError(f"network fault attributes must be 0 or more: {', '.join(negative)}")
        if self.toxic == "slicer" and self.attributes.get("average_size", 0) < 1:
            raise ValueError("a slicer network fault needs attributes.average_size of at least 1 byte")
        if self.toxic == "down" and (self.stream != "downstream" or self.toxicity != 1.0):
            raise ValueError("a down network fault disables the whole proxy: stream and toxicity do not apply")
        return self

    @property
    def label(self) -> str:
        """The kind, and the toxic of a network fault: ``outage``, ``network reset_peer``."""
        return f"network {self.toxic}" if self.kind == "network" else self.kind

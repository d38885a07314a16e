"""Session sites: who is booked, how they arrive, the stations they pass, vials, connectivity.

Defaults come from the MoHFW operational guidelines and published clinic models (BRIEF.md
sections 2-3); each default names its source.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from vaxdrill.core.scenario.base import Strict
from vaxdrill.core.scenario.distributions import Dist, Distribution
from vaxdrill.core.scenario.flow import FlowStation, check_flow
from vaxdrill.core.scenario.shifts import Roles, Shift
from vaxdrill.core.scenario.turnout import Substitution
from vaxdrill.core.scenario.units import ClockTime, Duration, Share


def _dist(text: str) -> Distribution:
    return Distribution.model_validate(text)


MAX_PEOPLE = 10_000
"""Bound on a site's people (booked, walk-ins per hour, seats): a larger site is several sites, or a typo."""
MAX_STAFF = 1_000


class OutageWindow(Strict):
    """A scripted window in which the system (or a site's link) is down or degraded."""

    start: ClockTime
    end: ClockTime
    state: Literal["down", "degraded"] = "down"

    @model_validator(mode="after")
    def _order(self) -> OutageWindow:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class FailureProcess(Strict):
    """Alternating up/failed process: time between failures, then time to repair."""

    time_between_failures: Dist
    time_to_repair: Dist
    state: Literal["down", "degraded"] = "down"


class Connectivity(Strict):
    """A site's own network link; its outages stop the site reaching a healthy server."""

    outages: list[OutageWindow] = Field(default_factory=list)
    failures: FailureProcess | None = None


class Station(Strict):
    """A service point: ``staff`` servers in parallel, each taking ``service`` per beneficiary."""

    staff: int = Field(1, ge=1, le=MAX_STAFF)
    service: Dist
    needs_system: bool = Field(
        False, description="Each beneficiary here performs a transaction against the registration system."
    )
    paper_service: Dist | None = Field(
        None, description="Service time when the site works on paper (defaults to `service`)."
    )


class Observation(Strict):
    """Post-vaccination observation: 30 minutes (MoHFW guidelines), limited seats."""

    duration: Dist = Field(default_factory=lambda: _dist("30min"))
    seats: int | None = Field(None, ge=1, le=MAX_PEOPLE, description="Seats in the observation room; none = unlimited.")


class Stations(Strict):
    """The stations of the MoHFW five-person team, in the order a beneficiary passes them."""

    # Hanly et al. 2022: entrance 2+Exp(1); registration 3+Exp(1.43); vaccination 3+Exp(1) min.
    entry: Station | None = Field(default_factory=lambda: Station(service=_dist("1min + exp(30s)")))
    verification: Station | None = Field(
        default_factory=lambda: Station(
            service=_dist("1min + exp(1min)"), needs_system=True, paper_service=_dist("2min + exp(1min)")
        )
    )
    vaccination: Station = Field(default_factory=lambda: Station(service=_dist("3min + exp(1min)")))
    observation: Observation = Field(default_factory=Observation)
    recording: Station | None = Field(
        default_factory=lambda: Station(
            service=_dist("30s + exp(30s)"), needs_system=True, paper_service=_dist("1min + exp(30s)")
        )
    )


class Arrivals(Strict):
    """Booked beneficiaries arrive around their appointment slot."""

    slot_length: Duration = Field(3600.0, gt=0, description="Appointment slots of this length from opening.")
    punctuality_sd: Duration = Field(
        600.0, ge=0, description="Arrival offset from the booked time: normal(0, sd), early or late."
    )
    no_show: Share = Field(0.02, description="Hanly et al. 2022: 2% no-shows.")
    no_show_without_sms: Share = Field(0.15, description="No-show rate when the reminder SMS did not arrive.")
    turnout: Share | None = Field(
        None,
        description="Share of the booked who come when the reminder SMS arrives (replaces 1 - no_show); "
        "without the SMS it is scaled by (1 - no_show_without_sms) / (1 - no_show). None = 1 - no_show.",
    )
    substitution: Substitution = Field(
        default_factory=Substitution, description="Waiting-list people admitted in the empty places."
    )
    patience: Duration | None = Field(
        7200.0, gt=0, description="A waiting beneficiary leaves after this long (turned away)."
    )
    walk_ins_per_hour: float = Field(
        0.0, ge=0, le=MAX_PEOPLE, description="Unbooked arrivals per hour (0 at launch; at most 10,000)."
    )


class Vials(Strict):
    """Multi-dose vials: opened on demand, discarded 4 h after opening or at session close."""

    doses_per_vial: int = Field(10, ge=1, le=100, description="Covishield: 10; early Covaxin: 20.")
    discard_after: Duration = Field(4 * 3600.0, gt=0, description="No open-vial policy at launch (MoHFW).")
    stock: int | None = Field(
        None, ge=0, le=100 * MAX_PEOPLE, description="Doses at the site; none = enough for everyone."
    )
    late_open_after: ClockTime | None = Field(
        None, description="From this time, open a new vial only if enough beneficiaries are waiting."
    )
    late_open_min_waiting: int = Field(1, ge=1)


class Paper(Strict):
    """Offline work: paper records and their later back-entry into the system."""

    back_entry: Dist = Field(default_factory=lambda: _dist("1min + exp(1min)"), description="Time per record.")
    back_entry_when: Literal["idle", "after_close"] = "idle"
    back_entry_staff: int = Field(1, ge=1, le=MAX_STAFF)
    reconciliation_share: Share = Field(0.05, description="Share of back-entered records needing a fix.")
    reconciliation_time: Dist = Field(default_factory=lambda: _dist("5min"))


class Site(Strict):
    """One session site. Fields left out come from ``site_defaults`` and then these defaults."""

    name: str = Field(min_length=1)
    district: str = "District"
    state: str = "State"
    pincode: str | None = None
    kind: Literal["urban", "rural"] = "urban"
    booked: int = Field(
        100, ge=0, le=MAX_PEOPLE, description="MoHFW: 100 beneficiaries per session per day (at most 10,000)."
    )
    target: int | None = Field(None, ge=0, le=MAX_PEOPLE, description="Attainment target; defaults to booked.")
    opens: ClockTime = 9 * 3600.0
    closes: ClockTime = 17 * 3600.0
    at_close: Literal["finish", "send_home"] = "finish"
    waiting_capacity: int | None = Field(None, ge=1, le=MAX_PEOPLE)
    arrivals: Arrivals = Field(default_factory=Arrivals)
    stations: Stations = Field(default_factory=Stations)
    flow: list[FlowStation] | None = Field(
        None, description="Any station flow (replaces `stations`); see vaxdrill.core.scenario.flow."
    )
    vials: Vials = Field(default_factory=Vials)
    paper: Paper = Field(default_factory=Paper)
    connectivity: Connectivity = Field(default_factory=Connectivity)
    unselectable: Share = Field(
        0.0,
        description="Share of booked beneficiaries the system cannot select all day (a name missing from the "
        "list; launch-day reports: 'beneficiaries not selectable'). Their online verification always fails.",
    )
    shift: Shift | None = Field(None, description="Shift end and breaks (none: staff stay until everyone is served).")
    roles: Roles = Field(default_factory=Roles)
    policy: str | None = Field(
        None, description="Pin this site to one policy in every run (e.g. a site with no link at all)."
    )
    per_site: dict[str, str] = Field(
        default_factory=dict,
        description="Fields that differ between sites: `path: distribution`, drawn once per site and replication "
        "(e.g. `stations.vaccination.service.mean: lognormal(1min, 30s)`); see vaxdrill.core.scenario.spread.",
    )

    @model_validator(mode="after")
    def _hours(self) -> Site:
        if self.closes <= self.opens:
            raise ValueError("closes must be after opens")
        if self.flow is not None:
            check_flow(self.flow)
        if self.shift is not None and self.shift.ends is not None and self.shift.ends < self.closes:
            raise ValueError("shift.ends must be at or after closes (staff leave after the session closes)")
        if self.roles.vaccinator_records and self.stations.recording is None:
            raise ValueError("roles.vaccinator_records needs a `recording` station (its service times)")
        if self.roles.verifier_back_entry and self.stations.verification is None:
            raise ValueError("roles.verifier_back_entry needs a `verification` station")
        return self

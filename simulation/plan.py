"""Everything random about one site's day, drawn before the day is simulated.

Drawing per beneficiary up front (one array per source, per site) keeps the simulation free of
per-event random draws and gives **common random numbers**: beneficiary *i* of a site has the same
arrival time, service times and latencies under every policy of a replication. Arrays are turned
into Python lists, which the event loop indexes faster than numpy arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simulation.availability import DOWN, Timeline
from simulation.turnout import comes, substitutes
from vaxdrill.core.scenario.distributions import Distribution
from vaxdrill.core.scenario.sites import Site
from vaxdrill.core.scenario.system import Sms

FIXED = ("entry", "verification", "vaccination", "recording")
"""The staffed stations of the MoHFW team, in order (observation is drawn on its own)."""
RETRY_DRAWS = 64
"""Latencies drawn per site for retried attempts (used round-robin)."""


def _latency(latency: Distribution, rng: np.random.Generator, n: int, profiled: bool) -> list[float]:
    """Latencies in seconds; with a server profile, standard-normal quantiles of uniforms instead.

    With a profile the latency depends on the offered load when the attempt starts, so only the
    attempt's uniform is drawn here (as ``z``); :mod:`simulation.serverload` turns it into a latency
    or a failure at run time. The same stream gives the same uniforms at every load.
    """
    if not profiled:
        return _draw(latency, rng, n)
    from simulation.serverload import quantiles

    return quantiles(rng.random(n)) if n else []


@dataclass(slots=True)
class StationDraws:
    service: list[float]
    paper_service: list[float]
    latency: list[float]
    visit: list[float] = field(default_factory=list)  # flow stations: uniform deciding a visit
    route: list[float] = field(default_factory=list)  # flow stations: uniform choosing where next


@dataclass(slots=True)
class SitePlan:
    """Pre-drawn randomness of one site; beneficiaries 0..booked-1 are booked, the rest walk in."""

    booked: int
    walk_ins: int
    arrivals: list[tuple[float, int]]  # (arrival clock time, beneficiary index) of those who come
    no_shows: int
    sms_failed: int
    stations: dict[str, StationDraws]
    observation: list[float]
    back_entry: list[float]  # time to enter each beneficiary's paper record, reconciliation included
    needs_reconciliation: list[bool]
    retry_latency: list[float]
    unselectable: frozenset[int] = frozenset()  # booked beneficiaries the system cannot select all day
    substitutes: int = 0  # waiting-list people admitted, indices after the walk-ins
    postpone: list[float] = field(default_factory=list)  # uniforms for postponement (simulation.postpone)
    # The same draws, kept apart so reconciliation can grow with mode switches (simulation.quality).
    reconciliation_u: list[float] = field(default_factory=list)  # uniform behind needs_reconciliation
    reconciliation_time: list[float] = field(default_factory=list)  # added when a record needs it
    back_entry_plain: list[float] = field(default_factory=list)  # back_entry without reconciliation


def _draw(dist: Distribution, rng: np.random.Generator, n: int) -> list[float]:
    return dist.sample(rng, n).tolist() if n else []


def draw_site(
    site: Site,
    sms: Sms,
    central: Timeline,
    latency: Distribution,
    rngs: dict[str, np.random.Generator],
    profiled: bool = False,
) -> SitePlan:
    """Draw one site's day from the replication's streams (one call per site, in site order)."""
    booked, arr = site.booked, site.arrivals
    opens, closes = site.opens, site.closes
    # Booked slots fill the session evenly; within its slot a beneficiary is booked uniformly and
    # arrives early or late by normal(0, punctuality_sd).
    slots = max(1, math.ceil((closes - opens) / arr.slot_length))
    idx = np.arange(booked)
    slot_start = opens + (idx * slots // max(booked, 1)) * arr.slot_length
    r = rngs["arrivals"]
    booked_at = slot_start + r.uniform(0.0, arr.slot_length, booked)
    arrive = booked_at + r.normal(0.0, arr.punctuality_sd, booked) if arr.punctuality_sd > 0 else booked_at
    arrive = np.maximum(arrive, 0.0)

    # The reminder goes out `send_before` the booked time; while the server is down it is lost.
    send_at = booked_at - sms.send_before
    u_sms = rngs["sms"].random(booked)
    down = central.states_at(send_at) == DOWN
    delivered = u_sms < np.where(down, sms.delivery_when_down, sms.delivery)
    u_show = rngs["no_show"].random(booked)
    shows = comes(arr, delivered, u_show)

    w = rngs["walk_ins"]
    n_walk = int(w.poisson(arr.walk_ins_per_hour * (closes - opens) / 3600.0)) if arr.walk_ins_per_hour > 0 else 0
    walk_at = np.sort(w.uniform(opens, closes, n_walk)) if n_walk else np.empty(0)

    # Its own stream, drawn only with a waiting list: scenarios without one keep every other draw.
    sub_at = substitutes(site, int(shows.sum()), rngs["substitutes"]) if arr.substitution.waiting_list else np.empty(0)
    n_sub = len(sub_at)
    n = booked + n_walk + n_sub
    come = list(zip(arrive[shows].tolist(), np.flatnonzero(shows).tolist(), strict=True))
    if n_walk:
        come += zip(walk_at.tolist(), range(booked, booked + n_walk), strict=True)
    if n_sub:
        come += zip(sub_at.tolist(), range(booked + n_walk, n), strict=True)
    come.sort()

    s = rngs["service"]
    lat = rngs["latency"]
    stations: dict[str, StationDraws] = {}
    specs = [(f.name, f) for f in site.flow] if site.flow else [(k, getattr(site.stations, k)) for k in FIXED]
    for name, station in specs:
        if station is None:
            continue
        paper = station.paper_service or station.service
        stations[name] = StationDraws(
            service=_draw(station.service, s, n),
            paper_service=_draw(paper, s, n) if station.needs_system else [],
            latency=_latency(latency, lat, n, profiled) if station.needs_system else [],
        )
    if site.flow:
        route = rngs["routing"]
        for f in site.flow:
            draws = stations[f.name]
            draws.visit = route.random(n).tolist() if f.probability < 1.0 else []
            draws.route = route.random(n).tolist() if f.next else []
    observation = _draw(site.stations.observation.duration, rngs["observation"], n)
    b = rngs["back_entry"]
    paper = site.paper
    plain = site.paper.back_entry.sample(b, n)
    u = b.random(n)
    recon = u < paper.reconciliation_share
    extra = paper.reconciliation_time.sample(b, n)
    back = plain + np.where(recon, extra, 0.0)
    unselectable: frozenset[int] = frozenset()
    if site.unselectable > 0 and booked:
        # Its own stream, drawn only when asked for: scenarios without it keep every other draw.
        picked = rngs["unselectable"].random(booked) < site.unselectable
        unselectable = frozenset(np.flatnonzero(picked).tolist())
    return SitePlan(
        booked=booked,
        walk_ins=n_walk,
        arrivals=come,
        no_shows=int(booked - shows.sum()),
        sms_failed=int(booked - delivered.sum()),
        stations=stations,
        observation=observation,
        back_entry=back.tolist(),
        needs_reconciliation=recon.tolist(),
        retry_latency=_latency(latency, rngs["retry_latency"], RETRY_DRAWS, profiled),
        unselectable=unselectable,
        substitutes=n_sub,
        reconciliation_u=u.tolist(),
        reconciliation_time=extra.tolist(),
        back_entry_plain=plain.tolist(),
    )

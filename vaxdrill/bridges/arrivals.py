"""Simulation -> load: the request curve a simulated launch day puts on the registration server.

:func:`arrival_curve` runs a few replications of one policy of a scenario in-process and adds up,
per 5-minute bin of the day clock, the registration-system requests:

- **site requests**, from the simulation: every transaction attempt of the sites' system steps
  (ID verification, dose recording; retries included) and every paper record entered later;
- **citizens' requests**, an assumption (:data:`CITIZEN_REQUESTS`): each booked beneficiary's
  citizen side makes that many requests (OTP generate and confirm, the beneficiaries list, a
  search for sessions, the booking), spread evenly over the opening hours of their site's
  session, since on a launch day booking, rebooking and checking run while sessions run.

The day curve (absolute requests per minute) is then turned into an open-model load-test curve:
``[(t_s, rate)]`` with ``t_s`` in load-test seconds (day time from the first opening to the last
closing, divided by ``load.compression``) and ``rate`` in journeys per second, scaled so that the
curve's peak equals ``load.arrival_rate`` (or ``load.users`` when unset): a loopback server needs a
proportionate rate, not the national one. Requests after the last closing (paper records entered
in the evening) are outside the load-test window and reported as such.

The result is written as ``arrival_curve.json`` (schema ``vaxdrill.arrival_curve/1``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vaxdrill.core.errors import ArrivalCurveError
from vaxdrill.core.results import write_json
from vaxdrill.core.scenario.loadplan import LoadProfile
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.units import format_clock

SCHEMA = "vaxdrill.arrival_curve/1"
FILE = "arrival_curve.json"
CITIZEN_REQUESTS: dict[str, int] = {
    "generate_otp": 1,
    "confirm_otp": 1,
    "beneficiaries": 1,
    "find_by_district": 1,
    "schedule": 1,
}
"""Requests the citizen side makes per booked beneficiary on the day (assumption; see module doc)."""
STEP = 300.0  # the simulation's 5-minute grid


def _citizen_counts(scenario: Scenario, bins: int) -> np.ndarray:
    """Citizens' requests per 5-minute bin: booked x CITIZEN_REQUESTS, even over each session."""
    per = float(sum(CITIZEN_REQUESTS.values()))
    starts = np.arange(bins) * STEP
    out = np.zeros(bins)
    for site in scenario.sites:
        span = site.closes - site.opens
        if span <= 0 or site.booked == 0:
            continue
        overlap = np.clip(np.minimum(starts + STEP, site.closes) - np.maximum(starts, site.opens), 0.0, None)
        out += site.booked * per * overlap / span
    return out


def arrival_curve(
    scenario: Scenario, policy: str | None = None, replications: int = 3, seed: int | None = None
) -> dict[str, Any]:
    """The day's request curve and its compressed open-model load shape (``arrival_curve.json``)."""
    from simulation.experiment import run_replications
    from simulation.metrics import GRID
    from simulation.model import policies_of

    if not scenario.sites:
        raise ArrivalCurveError(f"scenario {scenario.name}: no sites to simulate, so no arrival curve")
    available = policies_of(scenario)
    name = policy if policy is not None else next(iter(available))
    if name not in available:
        raise ArrivalCurveError(f"unknown policy `{name}` (policies: {', '.join(available)})")
    root = scenario.seed if seed is None else seed
    results = run_replications(scenario, replications, root, [name])
    bins = GRID.size - 1  # the last grid time is midnight itself
    site = np.mean([r.policies[name].series["requests"][:bins] for r in results], axis=0)
    citizen = _citizen_counts(scenario, bins)
    total = site + citizen
    load = scenario.load or LoadProfile()
    compression = load.compression
    target = load.arrival_rate if load.arrival_rate is not None else float(load.users)
    first = min(s.opens for s in scenario.sites)
    last = max(s.closes for s in scenario.sites)
    starts = np.arange(bins) * STEP
    inside = (starts + STEP > first) & (starts < last)
    peak = float(total[inside].max()) if inside.any() else 0.0
    scale = target / (peak / 5.0) if peak > 0 else 0.0  # journeys/s per (request/min) of the day
    points = [
        [round(max(float(t) - first, 0.0) / compression, 4), round(float(v) / 5.0 * scale, 6)]
        for t, v in zip(starts[inside], total[inside], strict=True)
    ]
    return {
        "schema": SCHEMA,
        "scenario": scenario.name,
        "policy": name,
        "replications": replications,
        "seed": root,
        "citizen_requests_per_beneficiary": dict(CITIZEN_REQUESTS),
        "day": [
            {
                "clock": format_clock(float(t)),
                "site_rpm": round(float(s) / 5.0, 4),
                "citizen_rpm": round(float(c) / 5.0, 4),
                "total_rpm": round(float(v) / 5.0, 4),
            }
            for t, s, c, v in zip(starts, site, citizen, total, strict=True)
        ],
        "first_opening": format_clock(first),
        "last_closing": format_clock(last),
        "peak_rpm": round(peak / 5.0, 4),
        "peak_clock": format_clock(float(starts[inside][int(np.argmax(total[inside]))])) if peak > 0 else None,
        "requests_after_last_closing": round(float(total[starts >= last].sum()), 2),
        "compression": compression,
        "duration_s": round((last - first) / compression, 4),
        "target_peak_rate": target,
        "scale": scale,
        "points": points,
    }


def write_arrival_curve(path: str | Path, curve: dict[str, Any]) -> Path:
    """Write ``curve`` to ``path`` (a folder gets ``arrival_curve.json`` inside)."""
    path = Path(path)
    if path.is_dir():
        path = path / FILE
    write_json(path, curve)
    return path

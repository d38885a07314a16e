"""Shifts, breaks and shared roles at run time (issue 19, item 3; the scenario side is
:mod:`vaxdrill.core.scenario.shifts`).

- **Shift end**: at ``shift.ends`` the staff leave. Everyone still queueing before vaccination, or
  held at a station by an unreachable system, is let go: sent home or rebooked (a turned-away
  reason of its own); those being served are finished.
- **Breaks**: a break takes one staff member of a station before the next beneficiary: a free one
  at once, else the next one released (ahead of the queue), and gives them back after the break.
- **The vaccinator records**: the dose is recorded by the vaccinator before they take the next
  beneficiary, so a vaccinator's cycle is vaccination + recording (a saturated station's
  throughput is 1 / (E[vaccination] + E[recording]) instead of 1 / max of the two).
- **Staff-hours**: every person on the site's team from opening until the session ends (the
  last beneficiary leaves, or the shift end if later nobody is served), and the part after close.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy

from simulation.staff import StationState
from vaxdrill.core.scenario.sites import Site

Proc = Generator[simpy.Event, Any, Any]
SiteModel = Any
"""A :class:`simulation.site.SiteModel` (not imported: the site model imports this module)."""


def take_break(env: simpy.Environment, st: StationState, start: float, duration: float) -> Proc:
    """Process: one member of ``st`` is away from ``start`` (or the next release after it) for ``duration``."""
    if start > env.now:
        yield env.timeout(start - env.now)
    res = st.res
    if not res.acquire():
        ev = simpy.Event(env)
        res.queue.appendleft((ev, math.inf))  # the next member released goes on break
        yield ev
    yield env.timeout(duration)
    res.release()


def shift_end(model: SiteModel, at: float) -> Proc:
    """Process: staff leave at ``at``; whoever still waits is let go (see the module docstring)."""
    env = model.env
    if at > env.now:
        yield env.timeout(at - env.now)
    model.staff_left = True
    model.let_go = True
    if model.site.shift is not None and model.site.shift.at_shift_end == "rebook":
        model.home_reason = "rebooked"
    model.shift_event.succeed()
    for st in (*model.pre, model.vac):
        st.res.send_all_home()


def start(model: SiteModel) -> None:
    """Start the site's shift and break processes (nothing without a ``shift``)."""
    shift = model.site.shift
    if shift is None:
        return
    env = model.env
    for brk in shift.breaks:
        for name in brk.stations:
            st = model.stations.get(name)
            if st is not None:
                env.process(take_break(env, st, brk.start, brk.duration))
    if shift.ends is not None:
        env.process(shift_end(model, shift.ends))


def record_by_vaccinator(model: SiteModel, i: int, paper: bool | None) -> Proc:
    """The vaccinator records beneficiary ``i``'s dose (still holding the vaccinator); returns paper?"""
    rec = model.rec
    assert rec is not None
    if rec.needs_system and model.mode.paper:
        paper = True
    d = model.system.quick(rec, i, paper)
    if d >= 0.0:
        rec.busy += d
        yield model.env.timeout(d)
        return paper
    result = yield from model._system_step(rec, i, paper, False)
    return result


def team(site: Site) -> int:
    """People on the site's team: station staff, plus back-entry clerks unless the verifier enters."""
    st = site.stations
    people = sum(s.staff for s in (st.entry, st.verification, st.vaccination) if s is not None)
    if st.recording is not None and not site.roles.vaccinator_records:
        people += st.recording.staff
    if not site.roles.verifier_back_entry:
        people += site.paper.back_entry_staff
    return people


def staff_metrics(site: Site, end: float, breaks_minutes: float) -> dict[str, float]:
    """Staff-hours from opening to ``end`` (the session's end), and after close."""
    people = team(site)
    return {
        "staff": float(people),
        "staff_hours": people * max(end - site.opens, 0.0) / 3600.0 - breaks_minutes / 60.0,
        "staff_hours_after_close": people * max(end - site.closes, 0.0) / 3600.0,
    }


def breaks_minutes(site: Site) -> float:
    """Staff-minutes on break over the day (one member per listed station that exists)."""
    if site.shift is None:
        return 0.0
    total = 0.0
    for brk in site.shift.breaks:
        present = sum(1 for name in brk.stations if getattr(site.stations, name) is not None)
        total += present * brk.duration / 60.0
    return total

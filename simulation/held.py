"""A step that needs the registration system: served online, on paper, or held while it does not answer.

The part of a beneficiary's visit (:class:`simulation.site.SiteModel`) that runs when a station
needs the system and the first attempt does not simply succeed: the site is on paper, or the
attempt finds the system down or too slow. Then the staff member retries and holds on
(:mod:`simulation.transactions`) until the system answers, the site goes to paper, the person is
given up on, or they are sent home at close or at the end of the staff's shift.
"""

from __future__ import annotations

import math
from typing import Any

import simpy

from simulation.availability import DOWN
from simulation.engine import Proc
from simulation.staff import StationState
from simulation.triggers import hopeless

SiteModel = Any
"""A :class:`simulation.site.SiteModel` (not imported: the site model imports this module)."""


def system_step(model: SiteModel, st: StationState, i: int, paper: bool | None, may_leave: bool) -> Proc:
    """Serve beneficiary ``i`` at a station that needs the system; return whether on paper.

    Returns None when the beneficiary was sent home at close while the system was unreachable.
    """
    env = model.env
    if not st.needs_system:
        d = st.service[i]
        st.busy += d
        yield d
        return paper
    mode = model.mode
    if paper or mode.paper:
        d = st.paper_service[i]
        st.busy += d
        yield d
        return True
    lat, state = model.system.attempt(st.latency[i])
    never = may_leave and i in model.unselectable
    if not never and state != DOWN and lat <= model.server.timeout:
        st.transactions.append(env._now + lat)
        d = st.service[i] + lat
        st.busy += d
        yield d
        return False
    # The system does not answer: retry, then hold until it answers or the site goes to paper.
    t0 = env._now
    tries: list[float] = []
    if never:
        done, give_up = math.inf, hopeless(model.server, t0, tries)
    else:
        done, give_up = model.system.completion(t0, lat, state, tries), math.inf
    n = model.tries_limit
    personal = tries[n - 1] + model.server.timeout if n is not None and len(tries) >= n else math.inf
    let_go = min(personal, give_up, done)  # paper for this person, or given up on
    model.blocked += 1
    model._queue_trigger(st)
    if not mode.paper:
        events: list[simpy.Event] = []
        if let_go < math.inf:
            events.append(env.timeout(let_go - t0))
        if model.can_switch:
            events.append(mode.paper_event)
        if may_leave and model.send_home and not model.closed:
            events.append(model.close_event)
        if may_leave and model.shift_ends and not model.staff_left:
            events.append(model.shift_event)
        if not events:
            events.append(model.never)
        yield events[0] if len(events) == 1 else env.any_of(events)
    model.blocked -= 1
    now = env._now
    model.failed_attempts += [a for a in tries if a <= now]  # not those planned after going to paper
    st.blocked_time += now - t0
    st.busy += now - t0
    if now < done and (mode.paper or now >= personal):
        d = st.paper_service[i]
        st.busy += d
        yield d
        return True
    if now < done:
        model.unserved = "not_selectable" if now >= give_up else model.home_reason
        return None  # sent home at close, or not selectable and given up on
    st.transactions.append(done)
    d = st.service[i]
    st.busy += d
    yield d
    return False

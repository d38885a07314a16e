"""A site that runs any station flow (``site.flow``) rather than the MoHFW five-person team.

:class:`FlowSiteModel` keeps everything of :class:`~simulation.site.SiteModel` (arrivals, the
registration system with its retries and paper fallback, the backlog, vials, patience, closing)
and replaces only the walk through the stations. A beneficiary goes through the flow's stations
in order: a station with ``probability`` below one is visited when the beneficiary's pre-drawn
uniform falls below it (otherwise skipped), and a station with ``next`` sends them on to a later
station by share, or out of the site with the rest. Stations before the vaccinating one are the
waiting area: patience applies there and ``send_home`` at close empties them. After the dose the
beneficiary finishes the flow (observation, recording, scheduling the second dose) with no
patience. Kinds of station:

- staffed (``staff`` >= 1): a FIFO queue for ``staff`` servers (:class:`~simulation.staff.Staff`);
- self-service (``staff: 0``): a pure delay, nobody queues (an observation area with enough seats);
- batch (``batch: N``): a free staff member starts a session with up to N of those waiting, one
  service time for the group; sessions start as soon as someone waits (they do not wait to fill).

Every random number comes from the site's plan (:mod:`simulation.plan`): service times per
beneficiary and station from the ``service`` stream, visit and routing uniforms from ``routing``.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import simpy

from simulation.availability import HORIZON
from simulation.engine import Env, Proc
from simulation.site import SiteModel
from simulation.staff import StationState
from vaxdrill.core.scenario.flow import FlowStation, vaccinating

STAFFED, SELF, BATCH = 0, 1, 2
"""Kinds of station: a FIFO queue for staff, a self-service delay, group sessions."""


class GroupSession:
    """A batch station: a free staff member serves up to ``size`` waiting beneficiaries at once."""

    def __init__(self, env: Env, st: StationState, size: int) -> None:
        self.env, self.st, self.size = env, st, size
        self.free = st.staff
        self.waiting: deque[tuple[simpy.Event, int, float]] = deque()

    def join(self, i: int) -> simpy.Event:
        """An event that fires when beneficiary ``i``'s group session ends."""
        ev = simpy.Event(self.env)
        now = self.env._now
        self.waiting.append((ev, i, now))
        self.st.queue_change(now, 1)
        self._start()
        return ev

    def _start(self) -> None:
        st, now = self.st, self.env._now
        while self.free and self.waiting:
            self.free -= 1
            group = [self.waiting.popleft() for _ in range(min(self.size, len(self.waiting)))]
            for _ev, _i, t0 in group:
                st.queue_change(now, -1)
                st.waits.append(now - t0)
            d = st.service[group[0][1]]  # one session length for the whole group
            st.busy += d
            self.env.start(self._session(group, d))

    def _session(self, group: list[tuple[simpy.Event, int, float]], d: float) -> Proc:
        yield self.env.timeout(d)
        for ev, _i, _t0 in group:
            ev.succeed()
        self.free += 1
        self._start()


class FlowSiteModel(SiteModel):
    """A site's day through its own station flow; see the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.turned_away["left_unvaccinated"] = 0  # routed out of the site before the dose

    def _build_stations(self) -> None:
        env, plan = self.env, self.plan
        flow: list[FlowStation] = self.site.flow or []
        self.flow = flow
        self.stations = {f.name: StationState(env, f.name, f, plan.stations[f.name]) for f in flow}
        self.order = [self.stations[f.name] for f in flow]
        self.v = vaccinating(flow)
        self.vac = self.order[self.v]
        self.pre = [st for k, st in enumerate(self.order[: self.v]) if flow[k].staff > 0 and flow[k].batch == 1]
        self.rec = None
        self.seats = None
        self.obs = plan.observation
        names = [f.name for f in flow]
        self.visit_u = [plan.stations[f.name].visit for f in flow]
        self.route_u = [plan.stations[f.name].route for f in flow]
        # Cumulative shares of `next`, with the target's index: (0.3, 3), (0.8, 5); the rest leaves.
        self.routes: list[list[tuple[float, int]] | None] = []
        for f in flow:
            if f.next is None:
                self.routes.append(None)
                continue
            acc, cum = 0.0, []
            for target, share in f.next.items():
                acc += share
                cum.append((acc, names.index(target)))
            self.routes.append(cum)
        self.kinds = [SELF if f.staff == 0 else BATCH if f.batch > 1 else STAFFED for f in flow]
        self.skips = [f.probability < 1.0 for f in flow]
        self.groups = {k: GroupSession(env, self.order[k], f.batch) for k, f in enumerate(flow) if f.batch > 1}

    def _next(self, k: int, i: int) -> int:
        """The station after routing station ``k`` for beneficiary ``i`` (``len(flow)``: leaves the site)."""
        cum = self.routes[k]
        assert cum is not None
        u = self.route_u[k][i]
        for edge, target in cum:
            if u < edge:
                return target
        return len(self.flow)

    def _visit(self, i: int, arrived: float) -> Proc:
        env, mode, quick = self.env, self.mode, self.system.quick
        if arrived >= self.closes:
            self.turned_away["after_close"] += 1
            return
        if self.capacity is not None and self.waiting >= self.capacity:
            self.turned_away["waiting_area_full"] += 1
            return
        self.present += 1
        self.inside += 1
        self.waiting += 1
        if arrived < self.opens:
            yield self.opens - arrived
        if self.postpone is not None and self.postpone.sends_home(i):
            return  # rebooked for another day (as at the team's sites)
        deadline = arrived + self.patience
        paper: bool | None = False
        flow, order, v, kinds, skips, routes = self.flow, self.order, self.v, self.kinds, self.skips, self.routes
        n = len(flow)
        k = 0
        before = True  # not yet vaccinated: in the waiting area
        while k < n:
            f, st, kind = flow[k], order[k], kinds[k]
            if skips[k] and self.visit_u[k][i] >= f.probability:
                k += 1  # skipped: on to the next station in the list
                continue
            if before and self.closed and self.send_home:
                self.waiting -= 1
                self._leave("sent_home")
                return
            if kind == SELF:  # self-service: a delay, nobody queues
                st.waits.append(0.0)
                d = st.service[i]
                st.busy += d
                if not before and k == n - 1:
                    # The last station after the dose: nothing waits on this beneficiary's leaving,
                    # so no event for it (as the team's unlimited observation room).
                    if paper:
                        self.backlog.add(i)
                    end = env._now + d
                    if end < HORIZON:
                        self.inside -= 1
                        self.last_exit = max(self.last_exit, end)
                    return
                yield d
            elif kind == BATCH:
                yield self.groups[k].join(i)
            else:
                res = st.res
                if res.free:  # res.acquire() inlined
                    res.free -= 1
                    st.waits.append(0.0)
                else:
                    limit = deadline if before else math.inf
                    t0, join = env._now, self._join(st, limit)
                    if join is None or not self._served(st, t0, limit, (yield join)):
                        self._gave_up(deadline)
                        return
                if k == v:
                    self.waiting -= 1
                    if not self.vials.take(env._now, st.q + 1):
                        st.res.release()
                        self._leave("no_dose")
                        return
                    start = env._now
                if st.needs_system and mode.paper:
                    paper = True
                d = quick(st, i, paper) if st.needs_system else st.service[i]
                if d >= 0.0:
                    st.busy += d
                    yield d
                else:
                    paper = yield from self._system_step(st, i, paper, before and k != v)
                if res.queue:  # res.release() inlined for the usual case: nobody waits
                    res.release()
                else:
                    res.free += 1
                if paper is None:
                    self.waiting -= 1
                    self._leave("sent_home")
                    return
                if k == v:
                    before = False
                    self.vaccinated += 1
                    self.present -= 1
                    self.vacc_times.append(env._now)
                    self.to_vaccination.append(start - arrived)
            k = k + 1 if routes[k] is None else self._next(k, i)
        if before:  # routed out of the site without reaching the vaccinator
            self.waiting -= 1
            self._leave("left_unvaccinated")
            return
        if paper:
            self.backlog.add(i)
        self.inside -= 1
        self.last_exit = max(self.last_exit, env._now)

"""One session site's day as a SimPy model.

A beneficiary arrives around the booked slot, passes the stations in order (entry check, ID
verification, vaccination, then sits in observation while the dose is recorded) and leaves. Each
station is a :class:`simpy.Resource` with one unit per staff member. Steps that need the
registration system (``needs_system``) perform a transaction whose outcome follows the site's
availability :class:`~simulation.availability.Timeline`:

- system up: service time + latency (latency x ``degraded_factor`` while degraded);
- an attempt that finds the system down, or whose latency exceeds the timeout, fails after the
  timeout and is retried, then held on (:mod:`simulation.transactions`). The staff member and the
  beneficiary stay blocked, unless the site switches to paper meanwhile (its :class:`Mode`, moved
  by the policy), or sends people home at close.

On paper a step takes its ``paper_service`` time and the beneficiary's record joins the
**backlog**, entered into the system later by the back-entry clerk(s) (in idle time while the site
is online, or only after close) at ``back_entry`` per record, reconciliation included.

Every request the site makes to the system is kept for the day's request curve: each successful
transaction (at its completion), each failed attempt (at its start) and each paper record entered
later (:mod:`simulation.backlog`).
"""

from __future__ import annotations

import math
from typing import Any

from simulation import shifts
from simulation.availability import HORIZON, Timeline
from simulation.backlog import Backlog
from simulation.engine import Env, Proc
from simulation.held import system_step
from simulation.hybrid import SameDay
from simulation.mode import Mode
from simulation.plan import SitePlan
from simulation.policies import Switch
from simulation.postpone import Postpone
from simulation.serverload import ServerLoad
from simulation.staff import Staff, StationState
from simulation.transactions import SystemLink
from simulation.vials import VialStock
from vaxdrill.core.scenario.policies import OfflineWhenQueue, Policy, Wait
from vaxdrill.core.scenario.sites import Site
from vaxdrill.core.scenario.system import Server


class SiteModel:
    """A site's day under one fallback policy; :meth:`run` simulates it to midnight."""

    def __init__(
        self,
        site: Site,
        plan: SitePlan,
        timeline: Timeline,
        server: Server,
        policy: Policy,
        switches: list[Switch],
        load: ServerLoad | None = None,
    ) -> None:
        self.env = env = Env()
        self.site, self.plan, self.timeline, self.server, self.policy = site, plan, timeline, server, policy
        self.switches = switches
        self.load = load
        self.opens, self.closes = site.opens, site.closes
        self.patience = site.arrivals.patience if site.arrivals.patience is not None else math.inf
        self.send_home = site.at_close == "send_home"
        self.capacity = site.waiting_capacity
        self.can_switch = not isinstance(policy, Wait)
        self.queue_rule = policy if isinstance(policy, OfflineWhenQueue) else None
        # Per beneficiary (issue 19): paper for one person after N failed attempts; some cannot be selected.
        self.tries_limit: int | None = getattr(policy, "paper_after_tries", None)
        self.unselectable = plan.unselectable
        self.unserved = "sent_home"  # why the last beneficiary let go by a system step left
        # Shifts and roles (issue 19, simulation.shifts): staff leave at the shift end; shared jobs.
        self.let_go = False  # those still waiting are let go (closed with send_home, or staff left)
        self.staff_left = False
        self.shift_event = env.event()
        self.shift_ends = site.shift is not None and site.shift.ends is not None
        self.home_reason = "sent_home"
        self.rec_by_vac = site.roles.vaccinator_records
        self._build_stations()
        # Mode and signals.
        self.mode = Mode(env)
        self.system = SystemLink(env, server, timeline, plan, load)
        self.close_event = env.event()
        self.closed = False
        self.never = env.event()
        self.blocked = 0
        self.vials = VialStock(site.vials)
        # Outcomes.
        self.vaccinated = 0
        self.turned_away: dict[str, int] = {
            "patience": 0,
            "waiting_area_full": 0,
            "after_close": 0,
            "sent_home": 0,
            "no_dose": 0,
        }
        if site.unselectable > 0:
            self.turned_away["not_selectable"] = 0
        if site.shift is not None and site.shift.at_shift_end == "rebook":
            self.turned_away["rebooked"] = 0
        self.present = 0  # admitted, not yet vaccinated nor turned away
        self.inside = 0  # admitted and not yet left (includes those in observation)
        self.waiting = 0  # in the queues before vaccination (the waiting area)
        self.last_exit = 0.0
        self.vacc_times: list[float] = []
        self.to_vaccination: list[float] = []
        self.queue_joins: list[float] = []
        self.queue_leaves: list[float] = []
        after_close = site.paper.back_entry_when == "after_close"
        self.backlog = Backlog(env, self.mode, timeline, plan, self.closes, after_close)
        if site.roles.verifier_back_entry:
            self.backlog.station = self.stations["verification"]  # the verifier enters between beneficiaries
        self.failed_attempts: list[float] = []  # start times of attempts the system did not answer
        # Hybrid (records entered online the same day) and postpone-and-rebook (issue 19).
        self.same_day = SameDay.of(self)
        self.postpone = Postpone.of(self)

    def _build_stations(self) -> None:
        """The MoHFW team's stations (a site with a ``flow`` builds its own: :mod:`simulation.flow`)."""
        env, plan, st = self.env, self.plan, self.site.stations
        self.stations: dict[str, StationState] = {
            name: StationState(env, name, getattr(st, name), plan.stations[name]) for name in plan.stations
        }
        self.pre = [self.stations[n] for n in ("entry", "verification") if n in self.stations]
        self.vac = self.stations["vaccination"]
        self.rec = self.stations.get("recording")
        self.seats = Staff(env, st.observation.seats) if st.observation.seats else None
        self.obs = plan.observation

    # -- the day ---------------------------------------------------------------------------
    def run(self) -> SiteModel:
        env = self.env
        env.start(self._arrivals())
        if self.switches:
            if self.switches[0][0] <= 0.0 and self.switches[0][1]:
                self.mode.paper = True
                rest = self.switches[1:]
            else:
                rest = self.switches
            if rest:
                env.start(self.mode.follow(rest))
        env.start(self._close())
        clerks = self.backlog.station.staff if self.backlog.station else self.site.paper.back_entry_staff
        for _ in range(clerks):
            env.start(self.backlog.clerk())
        shifts.start(self)
        if self.same_day is not None:
            self.same_day.start()
        env.run(until=HORIZON)
        self.vials.session_end()
        for st in self.stations.values():
            st.queue_change(HORIZON, 0)
            for _ev, deadline in st.res.queue:
                if deadline < HORIZON:  # gave up while nobody was being served: never noticed
                    self.waiting -= 1
                    self._leave("patience", deadline)
                    st.area -= HORIZON - deadline
                    self.queue_leaves.append(deadline)
        return self

    def dispose(self) -> None:
        """Drop the event queue so suspended processes (and their cycles) are freed promptly."""
        self.env._queue.clear()

    def _arrivals(self) -> Proc:
        env = self.env
        visit, start = self._visit, env.start
        for t, i in self.plan.arrivals:
            if t > env._now:
                yield t - env._now  # a plain delay (simulation.engine)
            start(visit(i, t))

    def _close(self) -> Proc:
        yield self.env.timeout(self.closes)
        self.closed = True
        self.close_event.succeed()
        if self.send_home:
            self.let_go = True
            for st in (*self.pre, self.vac):
                st.res.send_all_home()

    def _queue_trigger(self, st: StationState) -> None:
        """``offline_when_queue``: go to paper when the queue for the system reaches the limit."""
        rule = self.queue_rule
        if rule is None or self.mode.paper or st.q < rule.queue_length:
            return
        self.mode.set(True)
        back = self.timeline.stable_from(self.env._now, rule.back_after)
        if rule.min_dwell > 0:
            back = max(back, self.env._now + rule.min_dwell)  # no zero-length paper episodes
        if back < math.inf:
            self.env.start(self.mode.follow([(back, False)]))

    # -- a beneficiary ---------------------------------------------------------------------
    def _leave(self, reason: str, at: float | None = None) -> None:
        self.turned_away[reason] += 1
        self.present -= 1
        self.inside -= 1
        self.last_exit = max(self.last_exit, self.env._now if at is None else at)

    def _gave_up(self, deadline: float) -> None:
        self.waiting -= 1
        now = self.env._now
        if deadline <= now:
            self._leave("patience", deadline)
        else:
            self._leave(self.home_reason)

    def _join(self, st: StationState, deadline: float) -> tuple[Any, float] | None:
        """Join ``st``'s queue now; what to yield to wait there, or None when patience already ran out.

        The beneficiary yields the result (a FIFO join, :mod:`simulation.engine`) and passes what
        the yield gives to :meth:`_served`. Two plain calls rather than a sub-generator: this runs
        for every beneficiary who finds the staff busy.
        """
        now = self.env._now
        if deadline <= now:
            return None  # patience ran out during the previous step: leaves without queueing
        st.area += st.q * (now - st.last)  # st.queue_change(now, 1) inlined
        st.last = now
        st.q += 1
        self.queue_joins.append(now)
        if st.needs_system and self.blocked:
            self._queue_trigger(st)
        return (st.res.queue, deadline)

    def _served(self, st: StationState, t0: float, deadline: float, served: bool) -> bool:
        """Leave ``st``'s queue (joined at ``t0``): True when a staff member is handed over, False on giving up."""
        now = self.env._now
        st.area += st.q * (now - st.last)  # st.queue_change(now, -1) inlined
        st.last = now
        st.q -= 1
        if served:
            self.queue_leaves.append(now)
            st.waits.append(now - t0)
            return True
        left = min(now, deadline)  # patience ran out at the deadline, or sent home now
        st.area -= now - left
        self.queue_leaves.append(left)
        return False

    def _visit(self, i: int, arrived: float) -> Proc:
        env, mode, quick, unsel = self.env, self.mode, self.system.quick, self.unselectable
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
            return  # rebooked for another day
        deadline = arrived + self.patience
        paper = False
        for st in self.pre:
            if self.let_go:
                self.waiting -= 1
                self._leave(self.home_reason)
                return
            if st.res.free:  # res.acquire() inlined
                st.res.free -= 1
                st.waits.append(0.0)
            else:
                t0, join = env._now, self._join(st, deadline)
                if join is None or not self._served(st, t0, deadline, (yield join)):
                    self._gave_up(deadline)
                    return
            if st.needs_system and mode.paper:
                paper = True
            never = unsel and i in unsel  # the system never selects them: the slow path
            d = (-1.0 if never else quick(st, i, paper)) if st.needs_system else st.service[i]
            if d >= 0.0:
                st.busy += d
                yield d
            else:
                paper = yield from self._system_step(st, i, paper, True)
            if st.res.queue:  # res.release() inlined for the usual case: nobody waits
                st.res.release()
            else:
                st.res.free += 1
            if paper is None:
                self.waiting -= 1
                self._leave(self.unserved)
                return

        vac = self.vac
        if self.let_go:
            self.waiting -= 1
            self._leave(self.home_reason)
            return
        if vac.res.free:  # res.acquire() inlined
            vac.res.free -= 1
            vac.waits.append(0.0)
        else:
            t0, join = env._now, self._join(vac, deadline)
            if join is None or not self._served(vac, t0, deadline, (yield join)):
                self._gave_up(deadline)
                return
        self.waiting -= 1
        if not self.vials.take(env._now, vac.q + 1):
            vac.res.release()
            self._leave("no_dose")
            return
        start = env._now
        d = vac.service[i]
        vac.busy += d
        yield d
        self.vaccinated += 1
        self.present -= 1
        now = env._now
        self.vacc_times.append(now)
        self.to_vaccination.append(start - arrived)
        if self.rec_by_vac:
            paper = yield from shifts.record_by_vaccinator(self, i, paper)
        seats = self.seats
        if seats is not None and not seats.acquire():
            t0 = env._now
            yield seats.wait()  # the vaccinator cannot take the next one until a seat is free
            vac.busy += env._now - t0
        if vac.res.queue:  # res.release() inlined for the usual case: nobody waits
            vac.res.release()
        else:
            vac.res.free += 1
        obs_end = env._now + self.obs[i]

        rec = self.rec if not self.rec_by_vac else None
        if rec is not None:
            if rec.res.free:  # res.acquire() inlined
                rec.res.free -= 1
                rec.waits.append(0.0)
            else:
                t0, join = env._now, self._join(rec, math.inf)
                self._served(rec, t0, math.inf, (yield join))
            if rec.needs_system and mode.paper:
                paper = True
            d = quick(rec, i, paper)
            if d >= 0.0:
                rec.busy += d
                yield d
            else:
                paper = yield from self._system_step(rec, i, paper, False)
            if rec.res.queue:  # res.release() inlined for the usual case: nobody waits
                rec.res.release()
            else:
                rec.res.free += 1
        if paper:
            (self.same_day or self.backlog).add(i)
        now = env._now
        if seats is None:
            # Unlimited seats: nothing waits on this beneficiary's leaving, so no event for it.
            if obs_end < HORIZON:
                self.inside -= 1
                self.last_exit = max(self.last_exit, obs_end, now)
            return
        if obs_end > now:
            yield obs_end - now
        seats.release()
        self.inside -= 1
        self.last_exit = max(self.last_exit, env._now)

    def _system_step(self, st: StationState, i: int, paper: bool | None, may_leave: bool) -> Proc:
        """Serve beneficiary ``i`` at a station that needs the system (:func:`simulation.held.system_step`)."""
        return system_step(self, st, i, paper, may_leave)

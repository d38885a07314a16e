"""Hybrid policies: verify on paper, record online later the same day (issue 19).

Under a policy with ``hybrid: true`` the site works on paper exactly as under the same policy
without it (the same switches, paper service times), but a paper record does not wait for
back-entry: it is held at the site and the recording staff enter it online, in turn with the
beneficiaries they record, once the site is back online and the system answers. Each entry takes
the recording station's online service time plus a system transaction (its latency, its timeout
when the system fails). Records still held at ``record_by`` (default: the end of the simulated
day) are left for back-entry (:mod:`simulation.backlog`), reconciliation included.

Assumptions: records entered the same day by the person who wrote them need no reconciliation;
the recording staff stay after close until the held records are in (or ``record_by``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterable
from typing import Any

import simpy

from simulation.availability import DOWN, HORIZON
from vaxdrill.core.scenario.policies import Policy

SiteModel = Any
"""A :class:`simulation.site.SiteModel` (not imported: the site model imports this module)."""


class SameDay:
    """A site's paper records held for online entry the same day."""

    __slots__ = ("entered_times", "event", "held_times", "left", "model", "pending", "until")

    def __init__(self, model: SiteModel, until: float) -> None:
        self.model = model
        self.until = min(until, HORIZON)
        self.held_times: list[float] = []  # when each paper record was made
        self.entered_times: list[float] = []  # when each was entered online
        self.left = 0  # records left for back-entry at ``until``
        self.pending: deque[int] = deque()
        self.event: simpy.Event | None = None

    @staticmethod
    def of(model: SiteModel) -> SameDay | None:
        """The site's same-day records under a hybrid policy with a recording station, else None."""
        policy = model.policy
        if not getattr(policy, "hybrid", False) or model.rec is None or model.site.flow:  # flow sites: paper
            return None
        until = policy.record_by if policy.record_by is not None else HORIZON
        return SameDay(model, until)

    def add(self, beneficiary: int) -> None:
        env = self.model.env
        self.held_times.append(env.now)
        if env.now >= self.until:
            self.model.backlog.add(beneficiary)  # too late for the same day
            self.left += 1
            return
        self.pending.append(beneficiary)
        ev = self.event
        if ev is not None:
            self.event = None
            ev.succeed()

    def start(self) -> None:
        """One entering process per recording staff member, and the deadline."""
        m = self.model
        holder = m.vac if m.rec_by_vac else m.rec
        assert holder is not None
        for _ in range(holder.staff):
            m.env.process(self._clerk())
        if self.until < HORIZON:
            m.env.process(self._deadline())

    def _deadline(self) -> Generator[simpy.Event, Any, None]:
        """At ``record_by`` the records still held go to back-entry."""
        yield self.model.env.timeout(self.until - self.model.env.now)
        while self.pending:
            self.model.backlog.add(self.pending.popleft())
            self.left += 1

    def _clerk(self) -> Generator[simpy.Event, Any, None]:
        m = self.model
        env, mode, tl, server, system = m.env, m.mode, m.timeline, m.server, m.system
        rec = m.rec
        assert rec is not None
        holder = m.vac if m.rec_by_vac else rec  # the vaccinator records: the vaccinator enters
        while True:
            if not self.pending:
                if env.now >= self.until:
                    return
                if self.event is None:
                    self.event = env.event()
                yield self.event
                continue
            now = env.now
            if now >= self.until:
                return
            if mode.paper:
                yield env.any_of([mode.online_event, env.timeout(self.until - now)])
                continue
            up = now if tl.always_up else tl.next_up(now)
            if up > now:
                if up >= self.until:
                    return
                yield env.timeout(up - now)
                continue
            j = self.pending.popleft()
            if not holder.res.acquire():
                yield holder.res.wait()  # in turn with the beneficiaries being recorded
            lat, state = system.attempt(rec.latency[j])
            if state == DOWN or lat > server.timeout:
                m.failed_attempts.append(env.now)
                holder.busy += server.timeout
                yield env.timeout(server.timeout)
                holder.res.release()
                self.pending.appendleft(j)  # try again once the system answers
                continue
            rec.transactions.append(env.now + lat)
            d = rec.service[j] + lat
            holder.busy += d
            yield env.timeout(d)
            holder.res.release()
            self.entered_times.append(env.now)


def metrics(same: SameDay, closes: float) -> dict[str, float]:
    """Records entered online the same day against those left for back-entry."""
    entered = same.entered_times
    return {
        "same_day_records": float(len(same.held_times)),
        "same_day_entered": float(len(entered)),
        "same_day_entered_by_close": float(sum(1 for t in entered if t <= closes)),
        "same_day_left_for_back_entry": float(same.left + len(same.pending)),
    }


def option_assumptions(policies: Iterable[Policy]) -> list[str]:
    """What the hybrid and postpone options assume, for the planner's sentence (when used)."""
    out: list[str] = []
    if any(p.hybrid for p in policies):
        out.append("hybrid records are entered online by the recording clerk the same day, without reconciliation")
    shares = sorted({p.postpone_share for p in policies if p.postpone_share > 0})
    if shares:
        pct = ", ".join(f"{s:.0%}" for s in shares)
        out.append(f"{pct} of those arriving during a fallback are rebooked and do not come back that day")
    return out

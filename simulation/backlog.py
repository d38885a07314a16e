"""Paper records and their later entry into the registration system (the backlog).

Every beneficiary with a step done on paper leaves one record. ``back_entry_staff`` clerk(s)
enter records one by one, at ``back_entry`` per record (reconciliation time included for the
share that needs it): in ``idle`` mode whenever the site is online and the system answers, in
``after_close`` mode only after the session closes; after close every site enters its records
as soon as the system answers (districts uploaded later, hindustantimes.com, 19 Jan 2021).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from typing import Any

import simpy

from simulation.availability import HORIZON, Timeline
from simulation.mode import Mode
from simulation.plan import SitePlan
from simulation.staff import StationState


class Backlog:
    """A site's paper records waiting to be entered, and the clerks who enter them.

    ``mode`` tells the clerks when the site is online (``idle`` entry); ``timeline`` when the
    system answers; ``plan`` each record's entry time and whether it needs reconciliation.
    """

    __slots__ = (
        "after_close", "closes", "entered_times", "env", "mode", "paper_times", "pending", "plan", "recon_per_switch",
        "recon_share", "reconciled", "records_event", "station", "switches_at", "timeline",
    )  # fmt: skip

    def __init__(
        self, env: simpy.Environment, mode: Mode, timeline: Timeline, plan: SitePlan, closes: float, after_close: bool
    ) -> None:
        self.env, self.mode, self.timeline, self.plan = env, mode, timeline, plan
        self.closes = closes
        self.after_close = after_close  # enter records only after the session closes
        self.paper_times: list[float] = []  # when each paper record was made
        self.entered_times: list[float] = []  # when each was entered into the system
        self.reconciled = 0
        self.pending: deque[int] = deque()
        self.records_event: simpy.Event | None = None
        self.station: StationState | None = None  # set when a station's staff enter records (roles)
        # Data quality (simulation.quality): the reconciliation share grows per mode switch so far.
        self.recon_per_switch = 0.0
        self.recon_share = 0.0  # the flat share (paper.reconciliation_share), set with the above
        self.switches_at: dict[int, int] = {}  # beneficiary -> mode switches when the record was made

    def add(self, beneficiary: int) -> None:
        self.paper_times.append(self.env.now)
        self.pending.append(beneficiary)
        self.switches_at[beneficiary] = len(self.mode.changes)
        ev = self.records_event
        if ev is not None:
            self.records_event = None
            ev.succeed()

    def clerk(self) -> Generator[simpy.Event, Any, None]:
        """One back-entry clerk's day."""
        env, mode, tl, closes = self.env, self.mode, self.timeline, self.closes
        after_close = self.after_close
        always_up = tl.always_up
        back_entry, recon = self.plan.back_entry, self.plan.needs_reconciliation
        while True:
            if not self.pending:
                if self.records_event is None:
                    self.records_event = env.event()
                yield self.records_event
                continue
            now = env.now
            if now < closes and (after_close or mode.paper):
                if after_close:
                    yield env.timeout(closes - now)
                else:
                    yield env.any_of([mode.online_event, env.timeout(closes - now)])
                continue
            up = now if always_up else tl.next_up(now)
            if up > now:
                if up >= HORIZON:
                    return
                yield env.timeout(up - now)
                continue
            j = self.pending.popleft()
            st = self.station
            if st is not None and not st.res.acquire():
                yield st.res.wait()  # the verifier takes the record between beneficiaries, in turn
            took, fix = self._entry(j) if self.recon_per_switch else (back_entry[j], recon[j])
            yield env.timeout(took)
            if st is not None:
                st.busy += took
                st.res.release()
            self.entered_times.append(env.now)
            self.reconciled += fix

    def _entry(self, j: int) -> tuple[float, bool]:
        """Record ``j``'s entry time and whether it needs reconciliation, its share grown by the switches.

        The same uniform and reconciliation time as the flat share: with no switches the record is
        entered exactly as without ``data_quality``.
        """
        plan = self.plan
        share = self.recon_share + self.recon_per_switch * self.switches_at.get(j, 0)
        fix = plan.reconciliation_u[j] < share
        return plan.back_entry_plain[j] + (plan.reconciliation_time[j] if fix else 0.0), fix

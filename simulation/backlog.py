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
from typing import TYPE_CHECKING, Any

import simpy

from simulation.availability import HORIZON

if TYPE_CHECKING:
    from simulation.site import SiteModel


class Backlog:
    __slots__ = ("entered_times", "model", "paper_times", "pending", "reconciled", "records_event")

    def __init__(self, model: SiteModel) -> None:
        self.model = model
        self.paper_times: list[float] = []  # when each paper record was made
        self.entered_times: list[float] = []  # when each was entered into the system
        self.reconciled = 0
        self.pending: deque[int] = deque()
        self.records_event: simpy.Event | None = None

    def add(self, beneficiary: int) -> None:
        self.paper_times.append(self.model.env.now)
        self.pending.append(beneficiary)
        ev = self.records_event
        if ev is not None:
            self.records_event = None
            ev.succeed()

    def clerk(self) -> Generator[simpy.Event, Any, None]:
        """One back-entry clerk's day."""
        m = self.model
        env = m.env
        after_close = m.site.paper.back_entry_when == "after_close"
        tl = m.timeline
        back_entry, recon = m.plan.back_entry, m.plan.needs_reconciliation
        while True:
            if not self.pending:
                if self.records_event is None:
                    self.records_event = env.event()
                yield self.records_event
                continue
            now = env.now
            if now < m.closes and (after_close or m.paper_mode):
                if after_close:
                    yield env.timeout(m.closes - now)
                else:
                    yield env.any_of([m.online_event, env.timeout(m.closes - now)])
                continue
            up = now if m.always_up else tl.next_up(now)
            if up > now:
                if up >= HORIZON:
                    return
                yield env.timeout(up - now)
                continue
            j = self.pending.popleft()
            yield env.timeout(back_entry[j])
            self.entered_times.append(env.now)
            self.reconciled += recon[j]

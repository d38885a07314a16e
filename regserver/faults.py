"""The fault plan: faults with absolute start and end times, kept in the database.

Every worker keeps a copy refreshed twice a second (and at once after its own admin changes), so a
fault posted to one worker reaches all of them within that interval. Start and end are wall-clock
times checked on every request, so a fault ends on time whatever the refresh interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import logging
import time
import uuid
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from regserver.db import Database, faults
from vaxdrill.core.scenario.loadplan import Fault

REFRESH_SECONDS = 0.5
log = logging.getLogger("regserver")


@dataclass(frozen=True)
class ActiveFault:
    fault_id: str
    fault: Fault
    starts_at: float
    ends_at: float

    def live(self, now: float) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, path: str) -> bool:
        return any(pattern == "*" or fnmatch.fnmatchcase(path, pattern) for pattern in self.fault.routes)


class FaultPlan:
    """This worker's view of the fault plan, and the seeded random stream of its draws."""

    def __init__(self, db: Database, seed: int, worker: int) -> None:
        self.db = db
        self.items: list[ActiveFault] = []
        # One stream per worker process, from the server's root seed.
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, worker]))
        self._task: asyncio.Task[None] | None = None
        self._warned: set[str] = set()  # unreadable rows, warned about once each

    async def add(self, fault: Fault, now: float | None = None) -> ActiveFault:
        start = (now if now is not None else time.time()) + fault.at
        item = ActiveFault(str(uuid.uuid4()), fault, start, start + fault.duration)
        async with self.db.write() as conn:
            await conn.execute(
                faults.insert().values(
                    fault_id=item.fault_id,
                    spec=fault.model_dump_json(),
                    starts_at=item.starts_at,
                    ends_at=item.ends_at,
                    cleared=False,
                )
            )
        await self.refresh()
        return item

    async def clear(self, fault_id: str | None = None) -> int:
        stmt = faults.update().where(faults.c.cleared.is_(False)).values(cleared=True)
        if fault_id is not None:
            stmt = stmt.where(faults.c.fault_id == fault_id)
        async with self.db.write() as conn:
            count = (await conn.execute(stmt)).rowcount
        await self.refresh()
        return int(count)

    async def all(self) -> list[ActiveFault]:
        async with self.db.read() as conn:
            rows = (await conn.execute(sa.select(faults).order_by(faults.c.starts_at))).all()
        out = []
        for r in rows:
            if r.cleared:
                continue
            try:
                fault = Fault.model_validate(json.loads(r.spec))
            except ValueError as exc:  # pydantic's ValidationError and json's decode error are ValueErrors
                # One row an older version wrote (or a hand edit) must not stop the plan, or the server.
                if r.fault_id not in self._warned:
                    self._warned.add(r.fault_id)
                    log.warning("fault %s skipped: its stored spec cannot be read (%s)", r.fault_id, type(exc).__name__)
                continue
            out.append(ActiveFault(r.fault_id, fault, r.starts_at, r.ends_at))
        return out

    async def refresh(self) -> None:
        now = time.time()
        self.items = [f for f in await self.all() if f.ends_at > now]

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            with contextlib.suppress(Exception):  # a busy database must not kill the refresher
                await self.refresh()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def live(self, path: str | None = None, now: float | None = None) -> list[ActiveFault]:
        now = now if now is not None else time.time()
        return [f for f in self.items if f.live(now) and (path is None or f.matches(path))]

    def draw(self, fault: Fault) -> float:
        """One draw of the fault's latency distribution, in seconds."""
        assert fault.latency is not None
        return float(fault.latency.sample(self.rng, 1)[0])

    def chance(self, share: float) -> bool:
        return bool(self.rng.random() < share)

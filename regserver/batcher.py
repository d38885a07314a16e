"""Group commit for bookings: concurrent ``schedule`` requests in one worker share a write transaction.

On launch day bookings arrive together. Each write transaction costs a fixed number of round trips
(BEGIN, COMMIT; on SQLite, hops to aiosqlite's thread while holding the only write lock), so a worker
applies the bookings waiting at that moment together:

1. one query checks every waiting booking's beneficiaries (this mobile's, old enough);
2. per (session, dose), one conditional UPDATE takes all the seats the batch asks for; if they are not
   all free, each booking then tries its own conditional UPDATE, so a full session still gives exactly
   as many confirmations as free seats, whatever the concurrency;
3. one multi-row ``INSERT ... ON CONFLICT DO NOTHING`` writes every appointment; a booking whose rows
   were not all inserted (a beneficiary already booked for that dose) has its rows removed and its
   seats given back, and is answered 409.

Everything happens in one transaction: a batch commits whole or not at all. On SQLite the same steps
run in one call to the database's thread (:mod:`regserver.sqlite_batch`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from typing import Any

import sqlalchemy as sa

from regserver.db import Database, appointments, beneficiaries
from regserver.outcomes import Booked, Booking, Outcome, Refusal, check_beneficiaries
from regserver.seats import give_back, take_seats
from regserver.sqlite_batch import apply_batch

MAX_BATCH = 200


async def people_of(conn: Any, refs: list[str]) -> dict[str, tuple[str, int]]:
    """``(mobile, birth_year)`` of each registered beneficiary in ``refs`` (for :func:`check_beneficiaries`)."""
    query = sa.select(
        beneficiaries.c.beneficiary_reference_id, beneficiaries.c.mobile, beneficiaries.c.birth_year
    ).where(beneficiaries.c.beneficiary_reference_id.in_(sorted(set(refs))))
    return {r[0]: (r[1], r[2]) for r in await conn.execute(query)}


def born_by(session: Any) -> int:
    """The last birth year the session's age limit admits (its day's year minus the limit)."""
    return int(session.date.year - session.min_age_limit)


class BookingBatcher:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.pending: list[tuple[Booking, asyncio.Future[Outcome]]] = []
        self.running = False
        # The loop keeps only a weak reference to a task: hold it, or a drain may vanish mid-batch and its
        # database connection with it; `stop` waits for it before the engine is disposed.
        self._drain_task: asyncio.Task[None] | None = None

    async def book(self, booking: Booking) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.pending.append((booking, future))
        if not self.running:
            self.running = True
            self._drain_task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def stop(self) -> None:
        """Let the batch in hand finish (its bookings are answered and committed) before shutdown."""
        if self._drain_task is not None:
            await asyncio.gather(self._drain_task, return_exceptions=True)
            self._drain_task = None

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                try:
                    outcomes = await self._apply([b for b, _ in batch])
                except BaseException as exc:  # the whole batch rolled back: every request hears why
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if not future.done():
                        future.set_result(outcome)
        finally:
            self.running = False

    async def _apply(self, batch: list[Booking]) -> list[Outcome]:
        # None: not decided yet (every booking has an outcome by the end)
        outcomes: list[Outcome | None] = [None for _ in batch]
        asked = Counter[tuple[str, int]]()
        for b in batch:
            asked[(b.session_id, b.dose)] += len(b.refs)
        now = time.time()
        async with self.db.write() as conn:
            if self.db.is_sqlite:  # the same rules in one hop to SQLite's thread (regserver/sqlite_batch.py)
                return await apply_batch(conn, batch, now)
            people = await people_of(conn, [ref for b in batch for ref in b.refs])
            for i, b in enumerate(batch):
                outcomes[i] = check_beneficiaries(b, people)
                if outcomes[i] is not None:
                    asked[(b.session_id, b.dose)] -= len(b.refs)
            wholesale = {key: n > 0 and await take_seats(conn, key[0], key[1], n) for key, n in asked.items()}
            rows: list[dict[str, Any]] = []
            for i, b in enumerate(batch):
                if outcomes[i] is not None:  # refused above: takes no seat
                    continue
                if not wholesale[(b.session_id, b.dose)] and not await take_seats(
                    conn, b.session_id, b.dose, len(b.refs)
                ):
                    outcomes[i] = Refusal.FULL
                    continue
                booked = Booked(str(uuid.uuid4()))
                outcomes[i] = booked
                rows += [
                    {
                        "appointment_id": booked.appointment_id,
                        "beneficiary_reference_id": ref,
                        "session_id": b.session_id,
                        "slot": b.slot,
                        "dose": b.dose,
                        "status": "booked",
                        "created_at": now,
                    }
                    for ref in b.refs
                ]
            inserted: set[tuple[str, str]] = set()
            if rows:
                stmt = self.db.insert_ignore(appointments).returning(
                    appointments.c.appointment_id, appointments.c.beneficiary_reference_id
                )
                inserted = {(r[0], r[1]) for r in (await conn.execute(stmt, rows)).all()}
            for i, b in enumerate(batch):
                outcome = outcomes[i]
                if not isinstance(outcome, Booked):
                    continue
                got = sum((outcome.appointment_id, ref) in inserted for ref in b.refs)
                if got != len(b.refs):
                    if got:
                        await conn.execute(
                            appointments.delete().where(appointments.c.appointment_id == outcome.appointment_id)
                        )
                    await give_back(conn, b.session_id, b.dose, len(b.refs))
                    outcomes[i] = Refusal.ALREADY_BOOKED
        decided = [outcome for outcome in outcomes if outcome is not None]
        assert len(decided) == len(batch), "every booking in the batch has an outcome"
        return decided

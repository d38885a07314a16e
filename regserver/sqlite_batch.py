"""A batch of bookings applied on SQLite in one call to the database's own thread.

aiosqlite runs each database call on the connection's thread and hands the answer back to the event
loop: a round trip of thread wake-ups that cost more CPU than SQLite's own work (about 35 us each on
a busy 2-core machine, against 2 us for a small query), and SQLAlchemy's async path makes about 17 of
them per batch (a cursor, an execute, a fetch and a close per statement). Here the batch's statements
run as plain ``sqlite3`` calls inside one such call, within the write transaction the batcher opened
(``BEGIN IMMEDIATE``, so no other writer interleaves), which commits or rolls back as usual.

The rules are those of :mod:`regserver.batcher` (the PostgreSQL path): beneficiaries checked with one
query; seats taken per (session, dose) at once with a conditional UPDATE, else booking by booking;
appointments inserted with ``ON CONFLICT DO NOTHING``, a booking whose rows were not all inserted
undone (rows removed, seats given back) and answered 409. Bookings are inserted one after another,
so one that is undone frees its beneficiaries for a later booking of the same batch.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections import Counter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from regserver.outcomes import Booked, Booking, Outcome, Refusal, check_beneficiaries

_CHUNK = 500  # reference ids per IN (...) query, well under SQLite's limit on bound parameters
_INSERT = (
    "INSERT INTO appointments (appointment_id, beneficiary_reference_id, session_id, slot, dose, status,"
    " created_at) VALUES (?, ?, ?, ?, ?, 'booked', ?) ON CONFLICT DO NOTHING"
)
_PEOPLE = (
    "SELECT beneficiary_reference_id, mobile, birth_year FROM beneficiaries WHERE beneficiary_reference_id IN ({marks})"
)
_UNDO = "DELETE FROM appointments WHERE appointment_id = ?"
_TAKE = {
    dose: f"UPDATE sessions SET booked_dose{dose} = booked_dose{dose} + ?"
    f" WHERE session_id = ? AND booked_dose{dose} + ? <= capacity_dose{dose}"
    for dose in (1, 2)
}
_GIVE_BACK = {
    dose: f"UPDATE sessions SET booked_dose{dose} = booked_dose{dose} - ? WHERE session_id = ?" for dose in (1, 2)
}


async def apply_batch(conn: AsyncConnection, batch: list[Booking], now: float) -> list[Outcome]:
    """Apply ``batch`` inside ``conn``'s open write transaction (SQLite via aiosqlite); its outcomes."""
    raw = await conn.get_raw_connection()
    worker: Any = raw.driver_connection  # the aiosqlite connection, whose thread owns the sqlite3 one
    try:
        outcomes: list[Outcome] = await worker._execute(_apply, worker._conn, batch, now)
    except sqlite3.Error as exc:  # as SQLAlchemy would raise it, so the usual 503/500 answers apply
        raise sa.exc.DBAPIError.instance(None, None, exc, sqlite3.Error) from exc
    return outcomes


def _apply(db: sqlite3.Connection, batch: list[Booking], now: float) -> list[Outcome]:
    """The batch on the sqlite3 connection itself; runs on that connection's thread."""
    outcomes: list[Outcome | None] = [None for _ in batch]
    asked = Counter[tuple[str, int]]()
    for b in batch:
        asked[(b.session_id, b.dose)] += len(b.refs)
    everyone = sorted({ref for b in batch for ref in b.refs})
    people: dict[str, tuple[str, int]] = {}
    for start in range(0, len(everyone), _CHUNK):
        chunk = everyone[start : start + _CHUNK]
        marks = ", ".join("?" * len(chunk))
        for ref, mobile, birth_year in db.execute(_PEOPLE.format(marks=marks), chunk):
            people[ref] = (mobile, birth_year)
    for i, b in enumerate(batch):
        outcomes[i] = check_beneficiaries(b, people)
        if outcomes[i] is not None:
            asked[(b.session_id, b.dose)] -= len(b.refs)
    wholesale = {key: n > 0 and _take(db, key[0], key[1], n) for key, n in asked.items()}
    for i, b in enumerate(batch):
        if outcomes[i] is not None:  # refused above: takes no seat
            continue
        if not wholesale[(b.session_id, b.dose)] and not _take(db, b.session_id, b.dose, len(b.refs)):
            outcomes[i] = Refusal.FULL
            continue
        booked = Booked(str(uuid.uuid4()))
        got = sum(
            db.execute(_INSERT, (booked.appointment_id, ref, b.session_id, b.slot, b.dose, now)).rowcount
            for ref in b.refs
        )
        if got == len(b.refs):
            outcomes[i] = booked
            continue
        if got:
            db.execute(_UNDO, (booked.appointment_id,))
        db.execute(_GIVE_BACK[b.dose], (len(b.refs), b.session_id))
        outcomes[i] = Refusal.ALREADY_BOOKED
    decided = [outcome for outcome in outcomes if outcome is not None]
    assert len(decided) == len(batch), "every booking in the batch has an outcome"
    return decided


def _take(db: sqlite3.Connection, session_id: str, dose: int, n: int) -> bool:
    """``n`` seats of ``dose`` in one conditional UPDATE (as :func:`regserver.seats.take_seats`)."""
    return db.execute(_TAKE[dose], (n, session_id, n)).rowcount == 1

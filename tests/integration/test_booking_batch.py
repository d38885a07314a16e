"""One group-commit batch with every outcome at once, on SQLite (its one-hop path) and PostgreSQL.

The batch is handed to the batcher directly, so its bookings are applied together for certain (through
HTTP, how requests group depends on timing).
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from regserver.db import appointments, beneficiaries, sessions
from regserver.outcomes import Booked, Booking, Refusal, UnderAge
from tests.integration.conftest import Srv

pytestmark = pytest.mark.asyncio

MOBILE, OTHER = "7100000000", "7100000001"
SLOT = "10:30AM-11:30AM"


async def _setup(srv: Srv, capacity: int) -> object:
    state = srv.client._transport.app.state.server  # type: ignore[attr-defined]
    people = [(f"7{i:013d}", OTHER if i == 9 else MOBILE, 2015 if i == 8 else 1980) for i in range(1, 10)]
    rows = [
        {
            "beneficiary_reference_id": ref,
            "mobile": mobile,
            "name": f"P{ref}",
            "birth_year": born,
            "gender_id": 1,
            "photo_id_type": 1,
            "photo_id_hash": f"batch{ref}",
            "photo_id_last4": "0000",
            "comorbidity_ind": "N",
            "created_at": time.time(),
        }
        for ref, mobile, born in people
    ]
    async with state.db.write() as conn:
        await conn.execute(beneficiaries.insert(), rows)
        await conn.execute(
            sa.update(sessions)
            .where(sessions.c.session_id == srv.alibag)
            .values(capacity_dose1=capacity, booked_dose1=0)
        )
    return state


def _book(srv: Srv, *numbers: int) -> Booking:
    return Booking(srv.alibag, 1, SLOT, tuple(f"7{i:013d}" for i in numbers), MOBILE, born_by=2003)


async def _seats_and_live(state: object, srv: Srv) -> tuple[int, list[tuple[str, str]]]:
    async with state.db.read() as conn:  # type: ignore[attr-defined]
        booked = (
            await conn.execute(sa.select(sessions.c.booked_dose1).where(sessions.c.session_id == srv.alibag))
        ).scalar_one()
        live = (
            await conn.execute(
                sa.select(appointments.c.appointment_id, appointments.c.beneficiary_reference_id)
                .where(
                    appointments.c.status == "booked",
                    appointments.c.beneficiary_reference_id.in_([f"7{i:013d}" for i in range(1, 10)]),
                )
                .order_by(appointments.c.beneficiary_reference_id)
            )
        ).all()
    return int(booked), [(r[0], r[1]) for r in live]


async def test_one_batch_gives_each_booking_its_outcome_and_the_seats_add_up(any_db: Srv) -> None:
    srv = any_db
    state = await _setup(srv, capacity=4)
    batch = [
        _book(srv, 1),  # booked
        _book(srv, 8),  # under the age limit
        _book(srv, 9),  # registered with another mobile
        _book(srv, 1),  # already booked, by the first booking of this very batch
        _book(srv, 2, 3),  # booked: two seats, one appointment
    ]
    out = await state.batcher._apply(batch)  # type: ignore[attr-defined]
    assert isinstance(out[0], Booked) and isinstance(out[4], Booked)
    assert out[1:4] == [UnderAge(f"7{8:013d}"), Refusal.NOT_REGISTERED, Refusal.ALREADY_BOOKED]
    booked, live = await _seats_and_live(state, srv)
    assert booked == 3  # the refused booking's seat was given back
    assert live == [
        (out[0].appointment_id, f"7{1:013d}"),  # type: ignore[union-attr]
        (out[4].appointment_id, f"7{2:013d}"),  # type: ignore[union-attr]
        (out[4].appointment_id, f"7{3:013d}"),  # type: ignore[union-attr]
    ]

    # One seat left: the two-person booking is full, the one after it still gets the last seat.
    out = await state.batcher._apply([_book(srv, 4, 5), _book(srv, 4)])  # type: ignore[attr-defined]
    assert out[0] is Refusal.FULL and isinstance(out[1], Booked)
    booked, live = await _seats_and_live(state, srv)
    assert booked == 4 and len(live) == 4

    if state.db.is_sqlite:  # type: ignore[attr-defined]
        # SQLite inserts booking by booking: one undone (beneficiary 1 is booked) frees beneficiary 6
        # for the next booking of the same batch.
        await _set_capacity(state, srv, 7)  # three seats free
        out = await state.batcher._apply([_book(srv, 6, 1), _book(srv, 6)])  # type: ignore[attr-defined]
        assert out[0] is Refusal.ALREADY_BOOKED and isinstance(out[1], Booked)
        booked, live = await _seats_and_live(state, srv)
        assert booked == 5 and len(live) == 5


async def _set_capacity(state: object, srv: Srv, capacity: int) -> None:
    async with state.db.write() as conn:  # type: ignore[attr-defined]
        stmt = sa.update(sessions).where(sessions.c.session_id == srv.alibag).values(capacity_dose1=capacity)
        await conn.execute(stmt)

"""200 concurrent bookings for 50 seats give exactly 50 confirmations, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa

from regserver.db import appointments, beneficiaries, sessions
from tests.integration.conftest import ADMIN_AUTH, Srv

pytestmark = pytest.mark.asyncio


async def _people(srv: Srv, count: int) -> list[tuple[dict[str, str], str]]:
    """``count`` beneficiaries, one per mobile, with their citizen tokens (made directly, for speed)."""
    state = srv.client._transport.app.state.server  # type: ignore[attr-defined]
    rows, out = [], []
    for i in range(count):
        mobile, ref = f"7{i:09d}", f"{10**13 + i}"
        rows.append(
            {
                "beneficiary_reference_id": ref,
                "mobile": mobile,
                "name": f"P{i}",
                "birth_year": 1980,
                "gender_id": 1,
                "photo_id_type": 1,
                "photo_id_hash": f"{i:064d}",
                "photo_id_last4": "0000",
                "comorbidity_ind": "N",
                "created_at": time.time(),
            }
        )
        out.append(({"Authorization": f"Bearer {state.signer.issue('citizen', mobile, 600)}"}, ref))
    async with state.db.write() as conn:
        await conn.execute(beneficiaries.insert(), rows)
        await conn.execute(
            sa.update(sessions).where(sessions.c.session_id == srv.alibag).values(capacity_dose1=50, booked_dose1=0)
        )
    return out


async def test_no_overbooking_under_200_concurrent_bookings(any_db: Srv) -> None:
    srv = any_db
    people = await _people(srv, 200)

    async def book(auth: dict[str, str], ref: str) -> int:
        body = {"dose": 1, "session_id": srv.alibag, "slot": "10:30AM-11:30AM", "beneficiaries": [ref]}
        r = await srv.client.post("/api/v2/appointment/schedule", json=body, headers=auth)
        if r.status_code == 409:
            assert r.json()["errorCode"] == "APPOIN0040"
        return r.status_code

    codes = await asyncio.gather(*[book(auth, ref) for auth, ref in people])
    assert codes.count(200) == 50 and codes.count(409) == 150
    admin = (await srv.client.get("/api/v2/admin/sessions", headers=ADMIN_AUTH)).json()["sessions"]
    assert {s["session_id"]: s["booked"] for s in admin}[srv.alibag] == 50
    state = srv.client._transport.app.state.server  # type: ignore[attr-defined]
    async with state.db.read() as conn:
        mine = (
            await conn.execute(
                sa.select(sa.func.count()).where(
                    appointments.c.session_id == srv.alibag, appointments.c.beneficiary_reference_id.like("1%")
                )
            )
        ).scalar_one()
    assert mine == 50


async def test_same_beneficiary_booked_twice_at_once_holds_one_seat(any_db: Srv) -> None:
    """Concurrent bookings share one write transaction; a duplicate in it is refused and its seat returned."""
    srv = any_db
    people = await _people(srv, 3)
    auth, ref = people[0]
    body = {"dose": 1, "session_id": srv.alibag, "slot": "10:30AM-11:30AM", "beneficiaries": [ref]}
    others = [
        srv.client.post(
            "/api/v2/appointment/schedule",
            json={**body, "beneficiaries": [r]},
            headers=a,
        )
        for a, r in people[1:]
    ]
    not_mine = srv.client.post(  # someone else's beneficiary, in the same batch
        "/api/v2/appointment/schedule", json={**body, "beneficiaries": [people[1][1]]}, headers=auth
    )
    answers = await asyncio.gather(
        *[srv.client.post("/api/v2/appointment/schedule", json=body, headers=auth) for _ in range(4)],
        *others,
        not_mine,
    )
    codes = [r.status_code for r in answers]
    assert codes[:4].count(200) == 1 and codes[4:] == [200, 200, 404]
    assert all(r.json()["errorCode"] == "APPOIN0041" for r in answers[:4] if r.status_code == 409)
    admin = (await srv.client.get("/api/v2/admin/sessions", headers=ADMIN_AUTH)).json()["sessions"]
    assert {s["session_id"]: s["booked"] for s in admin}[srv.alibag] == 3


async def test_concurrent_cancels_give_the_seat_back_once(any_db: Srv) -> None:
    srv = any_db
    (auth, ref), *_ = await _people(srv, 1)
    body = {"dose": 1, "session_id": srv.alibag, "slot": "10:30AM-11:30AM", "beneficiaries": [ref]}
    appointment = (await srv.client.post("/api/v2/appointment/schedule", json=body, headers=auth)).json()[
        "appointment_confirmation_no"
    ]
    cancel = {"appointment_id": appointment, "beneficiariesToCancel": [ref]}
    answers = await asyncio.gather(
        *[srv.client.post("/api/v2/appointment/cancel", json=cancel, headers=auth) for _ in range(6)]
    )
    assert sorted(r.status_code for r in answers) == [204] + [404] * 5
    admin = (await srv.client.get("/api/v2/admin/sessions", headers=ADMIN_AUTH)).json()["sessions"]
    assert {s["session_id"]: s["booked"] for s in admin}[srv.alibag] == 0

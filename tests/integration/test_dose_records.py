"""A dose record is only what could have happened, a served appointment stays served, and an admin can
correct or void a record with an audit trail (issue 18). On SQLite and PostgreSQL where a transaction
is involved."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from regserver.db import sessions
from tests.integration.conftest import ADMIN_AUTH, Srv, dose

pytestmark = pytest.mark.asyncio
AT_ALIBAG = "00000100000001"  # booked (dose 1) at DGH Alibag, centre 100001
AT_PEN = "00000200000001"  # booked (dose 1) at SDH Pen, centre 100002


async def record(srv: Srv, staff: dict[str, str], body: dict[str, object]) -> tuple[int, dict[str, object]]:
    r = await srv.client.post(
        "/api/v2/staff/vaccinations", json=body, headers={**staff, "Idempotency-Key": str(uuid.uuid4())}
    )
    return r.status_code, r.json()


async def test_a_dose_needs_a_booking_at_this_session_or_an_audited_walk_in(any_db: Srv) -> None:
    srv = any_db
    await srv.account(100003, "kamothe_v3")  # a staff account of its own, so the audit names it
    kamothe = await srv.staff(center_id=100003, staff_id="kamothe_v3")
    # The forgery of the review: centre 100003 records a citizen booked at centre 100001.
    status, body = await record(srv, kamothe, dose(AT_ALIBAG, srv.session_of(3)))
    assert (status, body["errorCode"]) == (404, "NO_APPOINTMENT")
    # The real vaccinator is not blocked.
    alibag = await srv.staff()
    status, body = await record(srv, alibag, dose(AT_ALIBAG, srv.alibag))
    assert status == 201, body
    # An explicit walk-in is stored, with an audit row naming the staff member.
    status, walk_in = await record(srv, kamothe, dose(AT_PEN, srv.session_of(3), walk_in=True))
    assert status == 201, walk_in
    trail = (
        await srv.client.get(f"/api/v2/admin/vaccinations/{walk_in['vaccination_id']}/audit", headers=ADMIN_AUTH)
    ).json()
    entries = [(e["action"], e["actor"], e["before"]) for e in trail["entries"]]
    assert entries == [("walk_in", "100003:kamothe_v3", None)]
    assert trail["entries"][0]["after"]["beneficiary_reference_id"] == AT_PEN


async def test_vaccine_day_and_dose_order_are_the_sessions(any_db: Srv) -> None:
    srv = any_db
    staff = await srv.staff()
    cases = [
        (dose(AT_ALIBAG, srv.alibag, vaccine="FAKEVAX"), "WRONG_VACCINE"),
        (dose(AT_ALIBAG, srv.alibag, administered_at="1990-06-01T10:00:00+05:30"), "ADMINISTERED_OUTSIDE_SESSION"),
        (dose(AT_ALIBAG, srv.alibag, administered_at="0001-01-01T00:00:00+05:00"), "ADMINISTERED_OUTSIDE_SESSION"),
        (dose(AT_ALIBAG, srv.alibag, dose=2), "DOSE_ORDER"),  # no dose 1 yet
    ]
    for body, code in cases:
        status, answer = await record(srv, staff, body)
        assert (status, answer["errorCode"]) == (422, code), (body, answer)
    listed = (await srv.client.get("/api/v2/admin/vaccinations", headers=ADMIN_AUTH)).json()["vaccinations"]
    assert listed == []


async def test_one_bad_record_is_rejected_alone_and_the_batch_is_kept(any_db: Srv) -> None:
    """Year 1 at +05:00 has no UTC equivalent: it used to raise OverflowError and fail the whole batch (500)."""
    srv = any_db
    staff = await srv.staff()
    good = [{"client_record_id": str(uuid.uuid4()), **dose(f"000001000000{n:02d}", srv.alibag)} for n in (11, 12)]
    bad = {
        "client_record_id": str(uuid.uuid4()),
        **dose("00000100000013", srv.alibag, administered_at="0001-01-01T00:00:00+05:00"),
    }
    fake = {"client_record_id": str(uuid.uuid4()), **dose("00000100000014", srv.alibag, vaccine="FAKEVAX")}
    r = await srv.client.post("/api/v2/staff/sync", json={"records": [good[0], bad, fake, good[1]]}, headers=staff)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["created", "rejected", "rejected", "created"]
    assert "administered_at" in results[1]["reason"] and "vaccine" in results[2]["reason"]
    listed = (await srv.client.get("/api/v2/admin/vaccinations", headers=ADMIN_AUTH)).json()["vaccinations"]
    assert len(listed) == 2


async def _booked_citizen(srv: Srv, birth_year: int = 1980) -> tuple[dict[str, str], str, str]:
    """A new citizen booked (dose 1) at DGH Alibag: (auth, reference id, appointment id)."""
    auth = await srv.login(f"9{uuid.uuid4().int % 10**9:09d}")
    ref = await srv.register(auth, birth_year=birth_year)
    body = {"dose": 1, "session_id": srv.alibag, "slot": "10:30AM-11:30AM", "beneficiaries": [ref]}
    r = await srv.client.post("/api/v2/appointment/schedule", json=body, headers=auth)
    assert r.status_code == 200, r.text
    return auth, ref, r.json()["appointment_confirmation_no"]


async def _booked(srv: Srv, session_id: str) -> int:
    rows = (await srv.client.get("/api/v2/admin/sessions", headers=ADMIN_AUTH)).json()["sessions"]
    return int(next(s["booked"] for s in rows if s["session_id"] == session_id))


async def test_a_served_appointment_can_be_neither_cancelled_nor_moved(any_db: Srv) -> None:
    srv = any_db
    auth, ref, appointment = await _booked_citizen(srv)
    status, _ = await record(srv, await srv.staff(), dose(ref, srv.alibag))
    assert status == 201
    seats = await _booked(srv, srv.alibag)
    r = await srv.client.post(
        "/api/v2/appointment/cancel", json={"appointment_id": appointment, "beneficiariesToCancel": [ref]}, headers=auth
    )
    assert (r.status_code, r.json()["errorCode"]) == (409, "APPOINTMENT_COMPLETED")
    move = {"appointment_id": appointment, "session_id": srv.session_of(2), "slot": "10:30AM-11:30AM"}
    r = await srv.client.post("/api/v2/appointment/reschedule", json=move, headers=auth)
    assert (r.status_code, r.json()["errorCode"]) == (409, "APPOINTMENT_COMPLETED")
    assert await _booked(srv, srv.alibag) == seats
    # A dose given is not booked again either.
    body = {"dose": 1, "session_id": srv.session_of(2), "slot": "10:30AM-11:30AM", "beneficiaries": [ref]}
    r = await srv.client.post("/api/v2/appointment/schedule", json=body, headers=auth)
    assert r.status_code == 409


async def test_reschedule_applies_the_age_limit_schedule_applies(any_db: Srv) -> None:
    srv = any_db
    pen = srv.session_of(2)
    async with srv.state.db.write() as conn:  # SDH Pen becomes a 45+ session (before any request reads it)
        await conn.execute(sa.update(sessions).where(sessions.c.session_id == pen).values(min_age_limit=45))
    auth, ref, appointment = await _booked_citizen(srv, birth_year=2004)
    body = {"dose": 1, "session_id": pen, "slot": "10:30AM-11:30AM", "beneficiaries": [ref]}
    r = await srv.client.post("/api/v2/appointment/schedule", json=body, headers=auth)
    assert (r.status_code, r.json()["errorCode"]) == (400, "AGE_LIMIT")
    before = await _booked(srv, pen)
    move = {"appointment_id": appointment, "session_id": pen, "slot": "10:30AM-11:30AM"}
    r = await srv.client.post("/api/v2/appointment/reschedule", json=move, headers=auth)
    assert (r.status_code, r.json()["errorCode"]) == (400, "AGE_LIMIT")
    assert await _booked(srv, pen) == before


async def test_an_admin_corrects_or_voids_a_record_with_an_audit_trail(any_db: Srv) -> None:
    srv = any_db
    staff = await srv.staff()
    status, given = await record(srv, staff, dose(AT_ALIBAG, srv.alibag))
    assert status == 201
    vid = given["vaccination_id"]
    base = f"/api/v2/admin/vaccinations/{vid}"
    r = await srv.client.post(
        f"{base}/correct", json={"operator": "dio.raigad", "reason": "typo", "batch": "4121Z026"}, headers=ADMIN_AUTH
    )
    assert r.status_code == 200 and r.json()["batch"] == "4121Z026", r.text
    r = await srv.client.post(
        f"{base}/correct", json={"operator": "dio.raigad", "reason": "x", "batch": "B"}, headers=ADMIN_AUTH
    )
    assert r.status_code == 422  # a reason is required (3 characters at least)
    r = await srv.client.post(
        f"{base}/correct", json={"operator": "dio.raigad", "reason": "fake", "vaccine": "FAKEVAX"}, headers=ADMIN_AUTH
    )
    assert (r.status_code, r.json()["errorCode"]) == (422, "WRONG_VACCINE")
    r = await srv.client.post(
        f"{base}/void", json={"operator": "dio.raigad", "reason": "given to someone else"}, headers=ADMIN_AUTH
    )
    assert r.status_code == 204
    assert (await srv.client.get("/api/v2/admin/vaccinations", headers=ADMIN_AUTH)).json()["vaccinations"] == []
    trail = (await srv.client.get(f"{base}/audit", headers=ADMIN_AUTH)).json()["entries"]
    assert [(e["action"], e["actor"], e["reason"]) for e in trail] == [
        ("correct", "dio.raigad", "typo"),
        ("void", "dio.raigad", "given to someone else"),
    ]
    assert trail[0]["before"]["batch"] == "4121Z025" and trail[0]["after"]["batch"] == "4121Z026"
    assert trail[1]["before"]["batch"] == "4121Z026" and trail[1]["after"] is None
    # The appointment is open again: the real dose can be recorded.
    status, _ = await record(srv, staff, dose(AT_ALIBAG, srv.alibag))
    assert status == 201
    assert (
        await srv.client.post(f"{base}/void", json={"operator": "a", "reason": "again"}, headers=ADMIN_AUTH)
    ).status_code == 404
    assert (await srv.client.post(f"{base}/void", json={"operator": "a", "reason": "again"})).status_code == 401


async def test_a_cancel_racing_the_dose_record_lets_one_of_them_win(any_db: Srv) -> None:
    """Cancel and record at once: either the dose is stored and the cancel refused, or the appointment is
    cancelled (its seat given back) and the record refused; never both (a dose with its seat given back)."""
    import asyncio

    srv = any_db
    staff = await srv.staff()
    citizens = [await _booked_citizen(srv) for _ in range(6)]
    seats = await _booked(srv, srv.alibag)
    outcomes = []
    for auth, ref, appointment in citizens:
        cancel = srv.client.post(
            "/api/v2/appointment/cancel",
            json={"appointment_id": appointment, "beneficiariesToCancel": [ref]},
            headers=auth,
        )
        (cancelled, (recorded, _)) = await asyncio.gather(cancel, record(srv, staff, dose(ref, srv.alibag)))
        outcomes.append((cancelled.status_code, recorded))
    assert set(outcomes) <= {(204, 404), (409, 201)}, outcomes
    listed = (await srv.client.get("/api/v2/admin/vaccinations", headers=ADMIN_AUTH)).json()["vaccinations"]
    assert len(listed) == sum(r == 201 for _, r in outcomes)
    assert await _booked(srv, srv.alibag) == seats - sum(c == 204 for c, _ in outcomes)

"""Citizen routes with their error paths: OTP, metadata, beneficiaries, availability, booking."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import ADMIN_AUTH, DRILL, Srv, config_for, start, today
from vaxdrill.core.otp import drill_otp, otp_hash
from vaxdrill.core.scenario.model import Scenario

pytestmark = pytest.mark.asyncio


async def test_otp_login_and_its_limits(srv: Srv) -> None:
    c = srv.client
    r = await c.post("/api/v2/auth/public/generateOTP", json={"mobile": "98765"})
    assert r.status_code == 422 and "mobile" in r.json()["error"]
    txn = (await c.post("/api/v2/auth/public/generateOTP", json={"mobile": "9876543210"})).json()["txnId"]
    wrong = {"otp": otp_hash("000000"), "txnId": txn}
    if drill_otp("9876543210", DRILL, txn) == "000000":  # pragma: no cover - one chance in a million
        pytest.skip("drew the one OTP used as the wrong one")
    for left in (2, 1):
        r = await c.post("/api/v2/auth/public/confirmOTP", json=wrong)
        assert r.status_code == 401 and f"{left} left" in r.json()["error"]
    r = await c.post("/api/v2/auth/public/confirmOTP", json=wrong)
    assert r.status_code == 401 and "ended" in r.json()["error"]
    # The right OTP no longer works once three wrong ones ended the transaction.
    right = {"otp": otp_hash(drill_otp("9876543210", DRILL, txn)), "txnId": txn}
    assert (await c.post("/api/v2/auth/public/confirmOTP", json=right)).status_code == 410
    r = await c.post("/api/v2/auth/public/confirmOTP", json={"otp": otp_hash("1"), "txnId": "nope"})
    assert r.status_code == 401
    # Rate limit: 5 per window per mobile, the sixth is 429 with Retry-After.
    for _ in range(4):
        assert (await c.post("/api/v2/auth/public/generateOTP", json={"mobile": "9876543210"})).status_code == 200
    r = await c.post("/api/v2/auth/public/generateOTP", json={"mobile": "9876543210"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    # Another mobile is not affected.
    assert (await c.post("/api/v2/auth/public/generateOTP", json={"mobile": "9876543211"})).status_code == 200


async def test_expired_otp_is_410(srv: Srv) -> None:
    import sqlalchemy as sa

    from regserver.db import otp_txns

    txn = (await srv.client.post("/api/v2/auth/public/generateOTP", json={"mobile": "9000000001"})).json()["txnId"]
    app_state = srv.client._transport.app.state.server  # type: ignore[attr-defined]
    async with app_state.db.write() as conn:
        await conn.execute(sa.update(otp_txns).where(otp_txns.c.txn_id == txn).values(expires_at=0.0))
    body = {"otp": otp_hash(drill_otp("9000000001", DRILL, txn)), "txnId": txn}
    r = await srv.client.post("/api/v2/auth/public/confirmOTP", json=body)
    assert r.status_code == 410 and "expired" in r.json()["error"]


async def test_tokens_are_checked(srv: Srv) -> None:
    c = srv.client
    assert (await c.get("/api/v2/appointment/beneficiaries")).status_code == 401
    bad = {"Authorization": "Bearer forged.token.1.x"}
    assert (await c.get("/api/v2/appointment/beneficiaries", headers=bad)).status_code == 401
    staff = await srv.staff()
    assert (await c.get("/api/v2/appointment/beneficiaries", headers=staff)).status_code == 403
    citizen = await srv.login("9811111111")
    r = await c.get(f"/api/v2/staff/sessions/{srv.alibag}/due", headers=citizen)
    assert r.status_code == 403
    from regserver.security import TokenSigner

    signer: TokenSigner = c._transport.app.state.server.signer  # type: ignore[attr-defined]
    expired = signer.issue("citizen", "9811111111", ttl=-1)
    r = await c.get("/api/v2/appointment/beneficiaries", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401 and "expired" in r.json()["error"]


async def test_metadata(srv: Srv) -> None:
    states = (await srv.client.get("/api/v2/admin/location/states")).json()["states"]
    assert states == [{"state_id": 1, "state_name": "Maharashtra"}]
    districts = (await srv.client.get("/api/v2/admin/location/districts/1")).json()["districts"]
    assert districts == [{"district_id": 1, "district_name": "Raigad"}]
    assert (await srv.client.get("/api/v2/admin/location/districts/9")).json()["districts"] == []


async def test_beneficiaries_photo_id_and_limit(srv: Srv) -> None:
    auth = await srv.login("9822222222")
    first = await srv.register(auth, photo="ABCD1234")
    r = await srv.client.post(
        "/api/v2/registration/beneficiary/new",
        headers=await srv.login("9822222223"),
        json={"name": "X", "birth_year": 1970, "gender_id": 2, "photo_id_type": 1, "photo_id_number": "abcd1234"},
    )
    assert r.status_code == 409
    for _ in range(3):
        await srv.register(auth)
    r = await srv.client.post(
        "/api/v2/registration/beneficiary/new",
        headers=auth,
        json={"name": "Y", "birth_year": 1970, "gender_id": 2, "photo_id_type": 1, "photo_id_number": "ZZ99887766"},
    )
    assert r.status_code == 400 and "4" in r.json()["error"]
    listed = (await srv.client.get("/api/v2/appointment/beneficiaries", headers=auth)).json()["beneficiaries"]
    assert len(listed) == 4 and listed[0]["beneficiary_reference_id"] == first
    assert listed[0]["vaccination_status"] == "Not Vaccinated"
    r = await srv.client.post(
        "/api/v2/registration/beneficiary/new", headers=auth, json={"name": "", "birth_year": 1800, "gender_id": 7}
    )
    assert r.status_code == 422 and "birth_year" in r.json()["error"]


async def test_availability_and_booking_cycle(srv: Srv) -> None:
    c = srv.client
    r = await c.get("/api/v2/appointment/sessions/public/findByDistrict", params={"district_id": 1, "date": today()})
    assert r.status_code == 200 and "max-age" in r.headers["Cache-Control"]
    sessions = {s["session_id"]: s for s in r.json()["sessions"]}
    alibag = sessions[srv.alibag]
    assert alibag["available_capacity"] == 20 and alibag["available_capacity_dose1"] == 20
    assert alibag["slots"][0] == "10:30AM-11:30AM" and alibag["pincode"] == "402201"
    by_pin = await c.get("/api/v2/appointment/sessions/public/findByPin", params={"pincode": "402201", "date": today()})
    assert [s["session_id"] for s in by_pin.json()["sessions"]] == [srv.alibag]
    cal = await c.get(
        "/api/v2/appointment/sessions/public/calendarByDistrict", params={"district_id": 1, "date": today()}
    )
    assert len(cal.json()["centers"]) == 4 and cal.json()["centers"][0]["sessions"][0]["session_id"]
    bad = await c.get(
        "/api/v2/appointment/sessions/public/findByDistrict", params={"district_id": 1, "date": "31-02-2021"}
    )
    assert bad.status_code == 422 and "date" in bad.json()["error"]

    auth = await srv.login("9833333333")
    ref = await srv.register(auth)
    book = {"dose": 1, "session_id": srv.alibag, "slot": alibag["slots"][1], "beneficiaries": [ref]}
    r = await c.post("/api/v2/appointment/schedule", json=book, headers=auth)
    assert r.status_code == 200, r.text
    appointment = r.json()["appointment_confirmation_no"]
    r = await c.post("/api/v2/appointment/schedule", json=book, headers=auth)
    assert r.status_code == 409  # already booked for dose 1
    again = await c.get(
        "/api/v2/appointment/sessions/public/findByDistrict", params={"district_id": 1, "date": today()}
    )
    assert {s["session_id"]: s for s in again.json()["sessions"]}[srv.alibag]["available_capacity"] == 19
    listed = (await c.get("/api/v2/appointment/beneficiaries", headers=auth)).json()["beneficiaries"]
    assert listed[0]["appointments"][0]["appointment_id"] == appointment

    pen = next(s for s in sessions.values() if s["name"] == "SDH Pen")
    r = await c.post(
        "/api/v2/appointment/reschedule",
        json={"appointment_id": appointment, "session_id": pen["session_id"], "slot": pen["slots"][0]},
        headers=auth,
    )
    assert r.status_code == 204
    admin = (await c.get("/api/v2/admin/sessions", headers=ADMIN_AUTH)).json()
    booked = {s["session_id"]: s["booked"] for s in admin["sessions"]}
    assert booked[srv.alibag] == 100 and booked[pen["session_id"]] == 101
    r = await c.post(
        "/api/v2/appointment/cancel", json={"appointment_id": appointment, "beneficiariesToCancel": [ref]}, headers=auth
    )
    assert r.status_code == 204
    r = await c.post(
        "/api/v2/appointment/cancel", json={"appointment_id": appointment, "beneficiariesToCancel": [ref]}, headers=auth
    )
    assert r.status_code == 404
    admin = (await c.get("/api/v2/admin/sessions", headers=ADMIN_AUTH)).json()
    assert {s["session_id"]: s["booked"] for s in admin["sessions"]}[pen["session_id"]] == 100


async def test_booking_errors(srv: Srv) -> None:
    c = srv.client
    auth = await srv.login("9844444444")
    ref = await srv.register(auth)
    young = await srv.register(auth, birth_year=2020)
    someone_else = await srv.register(await srv.login("9844444445"))
    slot = "10:30AM-11:30AM"

    def book(refs: list[str], **other: object) -> dict[str, object]:
        return {"dose": 1, "session_id": srv.alibag, "slot": slot, "beneficiaries": refs, **other}

    cases = [
        (book([ref], session_id="nope"), 404, "SESSION_NOT_FOUND"),
        (book([ref], slot="09:00AM-10:00AM"), 400, "APPOIN0045"),
        (book(["01234567890123"]), 404, "BENEFICIARY_NOT_FOUND"),
        (book([ref, someone_else]), 404, "BENEFICIARY_NOT_FOUND"),
        (book([ref, young]), 400, "AGE_LIMIT"),
        (book([ref], dose=2), 409, "APPOIN0040"),  # no dose-2 seats
        (book([ref], dose=3), 422, "VALIDATION"),
        (book([ref], center_id=5), 400, "CENTER_MISMATCH"),
    ]
    for body, status, code in cases:
        r = await c.post("/api/v2/appointment/schedule", json=body, headers=auth)
        assert (r.status_code, r.json()["errorCode"]) == (status, code), (body, r.text)
        assert r.json()["error"]
    r = await c.post("/api/v2/appointment/schedule", json=cases[4][0], headers=auth)
    assert r.json()["error"] == f"beneficiary {young} is under 18"
    # A refused booking stored nothing for anyone: the adult alone can still book, once.
    body = book([ref])
    assert (await c.post("/api/v2/appointment/schedule", json=body, headers=auth)).status_code == 200
    r = await c.post("/api/v2/appointment/schedule", json=body, headers=auth)
    assert (r.status_code, r.json()) == (
        409,
        {"errorCode": "APPOIN0041", "error": "a beneficiary already has an appointment for dose 1"},
    )


async def test_full_session_is_409_appoin0040(srv: Srv) -> None:
    auth_list = []
    for i in range(6):
        auth = await srv.login(f"98555555{i:02d}")
        refs = [await srv.register(auth) for _ in range(4)]
        auth_list.append((auth, refs))
    results = []
    for auth, refs in auth_list:
        body = {"dose": 1, "session_id": srv.alibag, "slot": "10:30AM-11:30AM", "beneficiaries": refs}
        r = await srv.client.post("/api/v2/appointment/schedule", json=body, headers=auth)
        results.append(r.status_code)
        if r.status_code == 409:
            assert r.json()["errorCode"] == "APPOIN0040"
    assert results == [200] * 5 + [409]  # 20 free seats, 4 at a time


async def test_counters_and_certificate(srv: Srv) -> None:
    c = srv.client
    r = await c.get("/api/v2/public/counters")
    assert r.json()["districts"] == [{"district_id": 1, "district_name": "Raigad", "vaccinated_today": 0}]
    assert (await c.get("/api/v2/public/counters", params={"district_id": 42})).status_code == 404
    auth = await srv.login("9866666666")
    ref = await srv.register(auth)
    r = await c.get(
        "/api/v2/registration/certificate/public/download", params={"beneficiary_reference_id": ref}, headers=auth
    )
    assert r.status_code == 404 and r.json()["errorCode"] == "NOT_VACCINATED"
    book = {"dose": 1, "session_id": srv.alibag, "slot": "10:30AM-11:30AM", "beneficiaries": [ref]}
    assert (await c.post("/api/v2/appointment/schedule", json=book, headers=auth)).status_code == 200
    staff = await srv.staff()
    dose = {
        "beneficiary_reference_id": ref,
        "session_id": srv.alibag,
        "vaccine": "COVISHIELD",
        "batch": "4121Z025",
        "dose": 1,
        "administered_at": "2021-01-16T11:00:00+05:30",
    }
    import datetime as dt

    dose["administered_at"] = dt.datetime.now(dt.UTC).isoformat()
    r = await c.post("/api/v2/staff/vaccinations", json=dose, headers={**staff, "Idempotency-Key": "k1"})
    assert r.status_code == 201, r.text
    r = await c.get(
        "/api/v2/registration/certificate/public/download", params={"beneficiary_reference_id": ref}, headers=auth
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-1.4") and b"Asha Patil" in r.content and r.content.rstrip().endswith(b"%%EOF")
    other = await srv.login("9866666667")
    r = await c.get(
        "/api/v2/registration/certificate/public/download", params={"beneficiary_reference_id": ref}, headers=other
    )
    assert r.status_code == 404  # someone else's beneficiary is not found, not shown
    r = await c.get("/api/v2/public/counters", params={"district_id": 1})
    assert r.json()["districts"][0]["vaccinated_today"] == 1
    listed = (await c.get("/api/v2/appointment/beneficiaries", headers=auth)).json()["beneficiaries"]
    assert listed[0]["vaccination_status"] == "Partially Vaccinated" and listed[0]["dose1_date"]


async def test_logs_never_hold_mobiles_or_photo_ids(srv: Srv, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    auth = await srv.login("9123456789")
    await srv.register(auth, photo="PHOTO98765")
    await srv.client.post("/api/v2/auth/public/generateOTP", json={"mobile": "9123456789"})
    r = await srv.client.post(
        "/api/v2/registration/beneficiary/new",
        headers=auth,
        json={"name": "Z", "birth_year": 1970, "gender_id": 2, "photo_id_type": 1, "photo_id_number": "PHOTO98765"},
    )
    assert r.status_code == 409
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "91XXXXXX89" in text  # masked, so logs still tell two users apart
    assert "9123456789" not in text and "PHOTO98765" not in text and "98765" not in text


async def test_per_ip_limit(tmp_path: Path, raigad: Scenario) -> None:
    async for s in start(config_for(f"sqlite:///{tmp_path / 'ip.db'}", per_ip_limit=3, per_ip_window=60.0), raigad):
        codes = [(await s.client.get("/api/v2/admin/location/states")).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = await s.client.get("/api/v2/admin/location/states")
        assert r.json()["errorCode"] == "RATE_LIMIT" and 1 <= int(r.headers["Retry-After"]) <= 61
        assert (await s.client.get("/health")).status_code == 200  # operations routes are never limited

"""Site staff routes: login, due list, verify, record a dose with Idempotency-Key, batch sync."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.integration.conftest import ADMIN_AUTH, STAFF, Srv, dose

pytestmark = pytest.mark.asyncio
SEEDED = "00000100000001"  # first booked beneficiary of the first site (DGH Alibag)


async def test_staff_login(srv: Srv) -> None:
    c = srv.client
    r = await c.post("/api/v2/staff/login", json={"center_id": 100001, "staff_id": "drill", "secret": "wrong"})
    assert r.status_code == 401
    r = await c.post("/api/v2/staff/login", json={"center_id": 999, "staff_id": "drill", "secret": STAFF})
    assert r.status_code == 401  # no such account: the same answer as a wrong credential
    r = await c.post("/api/v2/staff/login", json={"center_id": 100001, "staff_id": "v 1", "secret": STAFF})
    assert r.status_code == 422


async def test_due_list_verify_and_record(srv: Srv) -> None:
    c = srv.client
    staff = await srv.staff()
    r = await c.get(f"/api/v2/staff/sessions/{srv.alibag}/due", headers=staff)
    due = r.json()["beneficiaries"]
    assert len(due) == 100 and due[0]["slot"] == "10:30AM-11:30AM" and not any(d["vaccinated"] for d in due)
    assert SEEDED in {d["beneficiary_reference_id"] for d in due}
    other = await srv.staff(center_id=100002)
    assert (await c.get(f"/api/v2/staff/sessions/{srv.alibag}/due", headers=other)).status_code == 403
    assert (await c.get("/api/v2/staff/sessions/nope/due", headers=staff)).status_code == 404

    r = await c.post(
        "/api/v2/staff/verify", json={"beneficiary_reference_id": SEEDED, "session_id": srv.alibag}, headers=staff
    )
    assert r.status_code == 200 and r.json()["verified"] is True and r.json()["dose"] == 1
    r = await c.post(
        "/api/v2/staff/verify",
        json={"beneficiary_reference_id": "09999900000001", "session_id": srv.alibag},
        headers=staff,
    )
    assert r.status_code == 404

    body = dose(SEEDED, srv.alibag)
    r = await c.post("/api/v2/staff/vaccinations", json=body, headers={**staff, "Idempotency-Key": "a"})
    assert r.status_code == 201 and r.json()["source"] == "online"
    first = r.json()
    # A retry replays the stored answer, same status and body, nothing stored twice.
    r = await c.post("/api/v2/staff/vaccinations", json=body, headers={**staff, "Idempotency-Key": "a"})
    assert r.status_code == 201 and r.json() == first and r.headers["Idempotent-Replayed"] == "true"
    # Same key, different body: 422.
    r = await c.post(
        "/api/v2/staff/vaccinations", json={**body, "batch": "OTHER"}, headers={**staff, "Idempotency-Key": "a"}
    )
    assert r.status_code == 422 and r.json()["errorCode"] == "IDEMPOTENCY_KEY_REUSED"
    # A new key for the same dose: 409 already vaccinated.
    r = await c.post("/api/v2/staff/vaccinations", json=body, headers={**staff, "Idempotency-Key": "b"})
    assert r.status_code == 409
    r = await c.post(
        "/api/v2/staff/verify", json={"beneficiary_reference_id": SEEDED, "session_id": srv.alibag}, headers=staff
    )
    assert r.status_code == 409
    due = (await c.get(f"/api/v2/staff/sessions/{srv.alibag}/due", headers=staff)).json()["beneficiaries"]
    assert [d["beneficiary_reference_id"] for d in due if d["vaccinated"]] == [SEEDED]

    assert (await c.post("/api/v2/staff/vaccinations", json=body, headers=staff)).status_code == 400  # no key
    future = dose("00000100000002", srv.alibag, administered_at="2999-01-01T00:00:00Z")
    r = await c.post("/api/v2/staff/vaccinations", json=future, headers={**staff, "Idempotency-Key": "c"})
    assert r.status_code == 422 and "future" in r.json()["error"]
    r = await c.post(
        "/api/v2/staff/vaccinations", json=dose("00000100000002", srv.alibag), headers={**other, "Idempotency-Key": "d"}
    )
    assert r.status_code == 403
    r = await c.post(
        "/api/v2/staff/vaccinations",
        json={**body, "administered_at": "yesterday"},
        headers={**staff, "Idempotency-Key": "e"},
    )
    assert r.status_code == 422 and "administered_at" in r.json()["error"]

    listed = (await c.get("/api/v2/admin/vaccinations", headers=ADMIN_AUTH)).json()["vaccinations"]
    assert [(v["beneficiary_reference_id"], v["idempotency_key"], v["source"]) for v in listed] == [
        (SEEDED, "a", "online")
    ]


async def test_concurrent_duplicate_key_is_409_or_replay(srv: Srv) -> None:
    staff = await srv.staff()
    body = dose("00000100000003", srv.alibag)
    answers = await asyncio.gather(
        *[
            srv.client.post("/api/v2/staff/vaccinations", json=body, headers={**staff, "Idempotency-Key": "same"})
            for _ in range(8)
        ]
    )
    codes = sorted(r.status_code for r in answers)
    assert codes.count(201) >= 1 and set(codes) <= {201, 409}
    for r in answers:
        if r.status_code == 409:
            assert r.json()["errorCode"] == "IDEMPOTENCY_IN_FLIGHT" and r.headers["Retry-After"]
    listed = (await srv.client.get("/api/v2/admin/vaccinations", headers=ADMIN_AUTH)).json()["vaccinations"]
    assert len(listed) == 1


async def test_sync_answers_every_record(srv: Srv) -> None:
    staff = await srv.staff()
    ids = [str(uuid.uuid4()) for _ in range(6)]
    online = dose("00000100000009", srv.alibag)
    assert (
        await srv.client.post("/api/v2/staff/vaccinations", json=online, headers={**staff, "Idempotency-Key": "x"})
    ).status_code == 201
    records = [
        {"client_record_id": ids[0], **dose("00000100000004", srv.alibag)},
        {"client_record_id": ids[1], **dose("00000100000005", srv.alibag)},
        {"client_record_id": ids[0], **dose("00000100000004", srv.alibag)},  # redelivered in the same batch
        {"client_record_id": ids[2], **dose("00000100000009", srv.alibag)},  # already recorded online
        {"client_record_id": ids[3], **dose("00000100000006", srv.alibag, dose=7)},  # invalid
        {"client_record_id": "not-a-uuid", **dose("00000100000007", srv.alibag)},
        {"client_record_id": ids[4], **dose("09999900000001", srv.alibag)},  # unknown beneficiary
        {"client_record_id": ids[5], **dose("00000100000004", srv.alibag, batch="B2")},  # same person+dose, new id
    ]
    r = await srv.client.post("/api/v2/staff/sync", json={"records": records}, headers=staff)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == [
        "created",
        "created",
        "duplicate",
        "conflict",
        "rejected",
        "rejected",
        "rejected",
        "conflict",
    ]
    assert results[2]["vaccination_id"] == results[0]["vaccination_id"]
    assert "online" in results[3]["reason"] and "dose" in results[4]["reason"]
    assert results[5]["client_record_id"] == "not-a-uuid"
    # The same batch again: nothing new.
    again = (await srv.client.post("/api/v2/staff/sync", json={"records": records}, headers=staff)).json()["results"]
    assert [x["status"] for x in again][:3] == ["duplicate", "duplicate", "duplicate"]
    # A reused client_record_id with a different content is a conflict, with the reason.
    changed = [{"client_record_id": ids[1], **dose("00000100000005", srv.alibag, batch="ZZ")}]
    res = (await srv.client.post("/api/v2/staff/sync", json={"records": changed}, headers=staff)).json()["results"]
    assert res[0]["status"] == "conflict" and "different" in res[0]["reason"]
    listed = (await srv.client.get("/api/v2/admin/vaccinations", headers=ADMIN_AUTH)).json()["vaccinations"]
    assert sorted(v["source"] for v in listed) == ["online", "sync", "sync"]
    assert (await srv.client.post("/api/v2/staff/sync", json={"records": "x"}, headers=staff)).status_code == 422


async def test_admin_routes_need_the_admin_token(srv: Srv) -> None:
    c = srv.client
    for method, path in [
        ("GET", "/api/v2/admin/faults"),
        ("GET", "/api/v2/admin/sessions"),
        ("DELETE", "/api/v2/admin/faults"),
    ]:
        assert (await c.request(method, path)).status_code == 401
        assert (await c.request(method, path, headers={"Authorization": "Bearer nope"})).status_code == 403
        assert (await c.request(method, path, headers=ADMIN_AUTH)).status_code in (200, 204)
    assert (await c.get("/health")).json() == {"status": "ok"}
    assert (await c.get("/ready")).json() == {"status": "ready"}
    metrics = (await c.get("/metrics")).text
    assert "vaxdrill_requests_total" in metrics and 'vaxdrill_faults_active{kind="outage"} 0' in metrics


async def test_the_server_leaves_network_faults_to_the_proxy(srv: Srv) -> None:
    body = {"kind": "network", "toxic": "timeout", "duration": "5s"}
    r = await srv.client.post("/api/v2/admin/faults", json=body, headers=ADMIN_AUTH)
    assert r.status_code == 422 and r.json()["errorCode"] == "NETWORK_FAULT"
    assert (await srv.client.get("/api/v2/admin/faults", headers=ADMIN_AUTH)).json()["faults"] == []


async def test_a_claim_left_by_a_dead_request_says_how_long_its_lease_runs(srv: Srv) -> None:
    """A crash between claiming a key and storing the dose leaves the key "running": the server answers
    409 IDEMPOTENCY_IN_FLIGHT with the lease's remaining seconds in Retry-After, and runs the request
    again once the lease has passed."""
    import hashlib
    import math
    import time

    from regserver import schemas as s
    from regserver.db import idempotency

    staff = await srv.staff()
    body = dose("00000100000004", srv.alibag)
    fingerprint = hashlib.sha256(s.DoseRecord.model_validate(body).model_dump_json().encode()).hexdigest()
    # Through the app's own engine: a second, blocking connection from this thread could wait on a
    # write lock held by the app's background tasks, which cannot run while it waits.
    db = srv.state.db
    scope = "100001:drill:dead-request"
    started = time.time() - (srv.config.idempotency_lease - 7.0)  # claimed, then the server died
    async with db.write() as conn:
        await conn.execute(
            idempotency.insert().values(scope_key=scope, fingerprint=fingerprint, state="running", created_at=started)
        )
    headers = {**staff, "Idempotency-Key": "dead-request"}
    r = await srv.client.post("/api/v2/staff/vaccinations", json=body, headers=headers)
    assert r.status_code == 409 and r.json()["errorCode"] == "IDEMPOTENCY_IN_FLIGHT"
    left = srv.config.idempotency_lease - (time.time() - started)
    assert int(r.headers["Retry-After"]) in (math.ceil(left), math.ceil(left) + 1)
    assert 1 <= int(r.headers["Retry-After"]) <= 7
    async with db.write() as conn:  # the lease has passed
        await conn.execute(
            idempotency.update().where(idempotency.c.scope_key == scope).values(created_at=started - 8.0)
        )
    r = await srv.client.post("/api/v2/staff/vaccinations", json=body, headers=headers)
    assert r.status_code == 201, r.text

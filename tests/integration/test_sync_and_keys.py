"""Bodies, batches and keys (issue 18): a body over its route's limit is refused before it is read or
authenticated; a long batch sync lets other writers in; an idempotency lease runs from the write lock
and a stored answer is only written by its own run; another centre's record is never described."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from regserver.db import idempotency, vaccinations
from tests.integration.conftest import ADMIN_AUTH, Srv, dose, serve_on
from vaxdrill.core.scenario.model import Scenario

pytestmark = pytest.mark.asyncio
AT_PEN = "00000200000001"  # booked (dose 1) at SDH Pen, centre 100002


async def test_a_body_over_the_limit_is_refused_before_parsing_and_auth(srv: Srv) -> None:
    big = b'{"records": [' + b" " * (srv.config.sync_body_limit + 1) + b"]}"
    # No token at all: 413, not 401 (the body is never read, so never parsed).
    r = await srv.client.post("/api/v2/staff/sync", content=big, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["errorCode"]) == (413, "BODY_TOO_LARGE")
    small_route = b'{"mobile": "9876543210"' + b" " * srv.config.body_limit + b"}"
    r = await srv.client.post("/api/v2/auth/public/generateOTP", content=small_route)
    assert (r.status_code, r.json()["errorCode"]) == (413, "BODY_TOO_LARGE")

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for _ in range(40):
            yield b" " * 1024

    r = await srv.client.post("/api/v2/auth/public/generateOTP", content=chunked())
    assert (r.status_code, r.json()["errorCode"]) == (413, "BODY_TOO_LARGE")
    # A full batch of 500 paper records fits its larger limit; 501 are over the cap.
    staff = await srv.staff()
    records = [{"client_record_id": str(uuid.uuid4()), **dose("09999900000001", srv.alibag)} for _ in range(501)]
    r = await srv.client.post("/api/v2/staff/sync", json={"records": records[:500]}, headers=staff)
    assert r.status_code == 200 and {x["status"] for x in r.json()["results"]} == {"rejected"}
    r = await srv.client.post("/api/v2/staff/sync", json={"records": records}, headers=staff)
    assert r.status_code == 422 and "records" in r.json()["error"]


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def chunked_db(request: pytest.FixtureRequest, tmp_path: Path, raigad: Scenario) -> AsyncIterator[Srv]:
    async for s in serve_on(request.param, tmp_path, raigad, sync_chunk=10):
        yield s


async def _stored(srv: Srv) -> int:
    async with srv.state.db.read() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(vaccinations))).scalar_one())


async def test_a_long_batch_lets_other_writers_in(chunked_db: Srv) -> None:
    """A writer arriving while a 100-record batch is applied finishes before the batch does: the batch
    commits in chunks and gives up the write connection between them."""
    srv = chunked_db
    staff = await srv.staff()
    records = [{"client_record_id": str(uuid.uuid4()), **dose(f"0000010{n:07d}", srv.alibag)} for n in range(1, 101)]
    batch = asyncio.create_task(srv.client.post("/api/v2/staff/sync", json={"records": records}, headers=staff))
    deadline = time.monotonic() + 60
    while await _stored(srv) == 0:  # the first records are in
        assert time.monotonic() < deadline and not batch.done()
        await asyncio.sleep(0.001)
    r = await srv.client.post("/api/v2/auth/public/generateOTP", json={"mobile": "9876543210"})
    assert r.status_code == 200, r.text
    stored_then = await _stored(srv)
    answer = await batch
    assert answer.status_code == 200 and {x["status"] for x in answer.json()["results"]} == {"created"}
    assert stored_then < 100  # the other writer did not wait for the whole batch


async def test_the_lease_starts_once_the_write_lock_is_held(srv: Srv) -> None:
    """On SQLite the key's claim waits for the only write connection; waiting must not use up its lease."""
    staff = await srv.staff()
    headers = {**staff, "Idempotency-Key": "waited"}
    async with srv.state.db.write():  # another writer holds the lock
        request = asyncio.create_task(
            srv.client.post("/api/v2/staff/vaccinations", json=dose("00000100000005", srv.alibag), headers=headers)
        )
        await asyncio.sleep(0.3)  # the request is queued for the lock meanwhile
        released = time.time()
    assert (await request).status_code == 201
    async with srv.state.db.read() as conn:
        stamped = (await conn.execute(sa.select(idempotency.c.created_at))).scalar_one()
    assert stamped >= released


async def test_a_retry_after_the_lease_never_replaces_a_stored_answer(any_db: Srv, monkeypatch: Any) -> None:
    """Request A claims a key and stalls before its dose transaction; its lease runs out; retry B takes
    the key over and stores 201. When A goes on, it must not store its own answer (409) over B's."""
    srv = any_db
    db = srv.state.db
    calls = 0
    stalled, go_on = asyncio.Event(), asyncio.Event()
    original = db.write

    @contextlib.asynccontextmanager
    async def write() -> AsyncIterator[Any]:
        nonlocal calls
        calls += 1
        if calls == 2:  # A's second transaction: the dose itself
            stalled.set()
            await go_on.wait()
        async with original() as conn:
            yield conn

    monkeypatch.setattr(db, "write", write)
    staff = await srv.staff()
    body, headers = dose("00000100000006", srv.alibag), {**staff, "Idempotency-Key": "stalled"}
    first = asyncio.create_task(srv.client.post("/api/v2/staff/vaccinations", json=body, headers=headers))
    await asyncio.wait_for(stalled.wait(), 30)
    async with original() as conn:  # A's lease has run out
        await conn.execute(idempotency.update().values(created_at=time.time() - srv.config.idempotency_lease - 1))
    retry = await srv.client.post("/api/v2/staff/vaccinations", json=body, headers=headers)
    assert retry.status_code == 201, retry.text
    go_on.set()
    late = await first
    again = await srv.client.post("/api/v2/staff/vaccinations", json=body, headers=headers)
    assert (late.status_code, again.status_code) == (201, 201), (late.text, again.text)
    assert late.json() == retry.json() == again.json()
    listed = (await srv.client.get("/api/v2/admin/vaccinations", headers=ADMIN_AUTH)).json()["vaccinations"]
    assert len(listed) == 1


async def test_another_centres_record_is_never_described(any_db: Srv) -> None:
    srv = any_db
    vid, at = str(uuid.uuid4()), "2026-01-01T09:00:00+05:30"
    async with srv.state.db.write() as conn:  # a dose of Pen's beneficiary, stored by centre 100001
        await conn.execute(
            vaccinations.insert().values(
                vaccination_id=vid,
                beneficiary_reference_id=AT_PEN,
                session_id=srv.alibag,
                district_id=1,
                vaccine="COVISHIELD",
                batch="B1",
                dose=1,
                administered_at=at,
                administered_date=dt.date.today(),
                source="online",
                staff="100001:v1",
                recorded_at=time.time(),
            )
        )
    pen = await srv.staff(center_id=100002)
    r = await srv.client.post(
        "/api/v2/staff/verify", json={"beneficiary_reference_id": AT_PEN, "session_id": srv.session_of(2)}, headers=pen
    )
    assert r.status_code == 409
    assert vid not in r.text and at not in r.text and "online" not in r.text
    record = {"client_record_id": str(uuid.uuid4()), **dose(AT_PEN, srv.session_of(2))}
    r = await srv.client.post("/api/v2/staff/sync", json={"records": [record]}, headers=pen)
    (result,) = r.json()["results"]
    assert result["status"] == "conflict" and result.get("vaccination_id") is None
    assert vid not in r.text and at not in r.text and "online" not in result["reason"]

"""kill -9 in the middle of launch-day writes, restart on the same database, re-send with the same keys.

Concurrent clients record 300 doses online (each with an ``Idempotency-Key``), sync 10 paper batches of
10 records (each record with its ``client_record_id``) and make 200 bookings for a session of 50 seats,
all interleaved. Once a third of the answers are in, the server's whole process group gets SIGKILL.
A new server starts on the same database and every request is sent again, unchanged, until it has a
final answer. Then: every dose stored exactly once, every answer given before the crash still true,
the session booked to its 50 seats and not one more, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from regserver.db import Database, appointments, beneficiaries, sessions, settings
from regserver.security import KeyRing
from regserver.seed import session_id_for
from tests.integration.conftest import ADMIN_AUTH, PG_BASE, RAIGAD, STAFF, drop_schema, pg_schema, require_postgres
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.secrets import DRILL_SECRETS
from vaxdrill.loadtest.server_process import ServerProcess

pytestmark = pytest.mark.slow

ONLINE, BATCHES, PER_BATCH, BOOKERS, SEATS = 300, 10, 10, 200, 50
CONCURRENCY = 24
# No shedding: every request should reach the database, so the crash cuts real work short.
SERVE = ("--max-in-flight", "0", "--latency-target", "0", "--cache-seconds", "0")


@dataclass
class Job:
    """One request, sent as is before the crash and again after it."""

    kind: str  # dose, sync, book
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    answers: list[tuple[int, Any]] = field(default_factory=list)  # (status, JSON) of each delivery answered


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'server.db'}"
        return
    asyncio.run(require_postgres())
    schema = asyncio.run(pg_schema())
    try:
        yield f"{PG_BASE}?search_path={schema}"
    finally:
        asyncio.run(drop_schema(schema))


async def _people(url: str, session: str) -> bytes:
    """Everyone this test needs, straight into the database; the session gets 50 free seats. The token key."""
    rows = [
        {
            "beneficiary_reference_id": f"{3 * 10**13 + i}",
            "mobile": f"6{i:09d}",
            "name": f"P{i}",
            "birth_year": 1980,
            "gender_id": 1,
            "photo_id_type": 1,
            "photo_id_hash": f"crash{i}",
            "photo_id_last4": "0000",
            "comorbidity_ind": "N",
            "created_at": time.time(),
        }
        for i in range(ONLINE + BATCHES * PER_BATCH + BOOKERS)
    ]
    db = Database(url, pool_size=1)
    try:
        async with db.write() as conn:
            await conn.execute(beneficiaries.insert(), rows)
            await conn.execute(
                sa.update(sessions).where(sessions.c.session_id == session).values(capacity_dose1=SEATS, booked_dose1=0)
            )
            key = (await conn.execute(sa.select(settings.c.value).where(settings.c.key == "token_key"))).scalar_one()
    finally:
        await db.dispose()
    return bytes.fromhex(key)


def _jobs(session: str, key: bytes, staff_token: str) -> list[Job]:
    staff = {"Authorization": f"Bearer {staff_token}"}
    signer = KeyRing(key).signer
    at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()

    def record(i: int) -> dict[str, Any]:
        ref = f"{3 * 10**13 + i}"
        # Walk-ins: these people hold no appointment (the bookers below take the session's free seats).
        return {"beneficiary_reference_id": ref, "session_id": session, "vaccine": "COVISHIELD", "batch": "B7",
                "dose": 1, "administered_at": at, "walk_in": True}  # fmt: skip

    doses = [Job("dose", record(i), {**staff, "Idempotency-Key": str(uuid.uuid4())}) for i in range(ONLINE)]
    syncs = [
        Job(
            "sync",
            {
                "records": [
                    {"client_record_id": str(uuid.uuid4()), **record(ONLINE + b * PER_BATCH + k)}
                    for k in range(PER_BATCH)
                ]
            },
            staff,
        )
        for b in range(BATCHES)
    ]
    first = ONLINE + BATCHES * PER_BATCH
    books = [
        Job(
            "book",
            {"dose": 1, "session_id": session, "slot": "10:30AM-11:30AM", "beneficiaries": [f"{3 * 10**13 + i}"]},
            {"Authorization": f"Bearer {signer.issue('citizen', f'6{i:09d}', 3600)}"},
        )
        for i in range(first, first + BOOKERS)
    ]
    jobs = doses + syncs + books
    random.Random(13).shuffle(jobs)  # all three kinds in flight together
    return jobs


PATHS = {"dose": "/api/v2/staff/vaccinations", "sync": "/api/v2/staff/sync", "book": "/api/v2/appointment/schedule"}


def _final(job: Job, status: int, answer: Any) -> bool:
    """Whether this answer settles the job (else send it again)."""
    if job.kind == "dose":
        return status == 201
    if job.kind == "sync":
        return status == 200
    return status == 200 or (status == 409 and answer.get("errorCode") in ("APPOIN0040", "APPOIN0041"))


async def _send(base: str, jobs: list[Job], until_final: bool, crash: Any = None, deadline: float = 50.0) -> int:
    """Send every job (``until_final``: again until it has a final answer); the answers counted."""
    queue: asyncio.Queue[Job] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    answered = 0
    end = time.monotonic() + deadline

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal answered
        while not queue.empty() and time.monotonic() < end:
            job = queue.get_nowait()
            try:
                r = await client.post(PATHS[job.kind], json=job.body, headers=job.headers)
            except httpx.HTTPError:
                continue  # the server is gone (the crash): this delivery has no answer
            answered += 1
            answer = r.json()
            job.answers.append((r.status_code, answer))
            if crash is not None and answered == crash[0]:
                crash[1]()
            if until_final and not _final(job, r.status_code, answer):
                assert r.status_code == 409 and answer["errorCode"] == "IDEMPOTENCY_IN_FLIGHT", (r.status_code, answer)
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")))  # a claim the crash left open
                queue.put_nowait(job)

    async with httpx.AsyncClient(base_url=base, timeout=20) as client:
        await asyncio.gather(*[worker(client) for _ in range(CONCURRENCY)])
    return answered


def test_kill_9_mid_launch_loses_nothing_duplicates_nothing_overbooks_nothing(db_url: str) -> None:
    session = session_id_for(load_scenario(RAIGAD), "DGH Alibag")
    server = ServerProcess("--db", db_url, "--reset", "--seed-data", str(RAIGAD), *SERVE, secrets=DRILL_SECRETS).start()
    try:
        key = asyncio.run(_people(db_url, session))
        login = {"center_id": 100001, "staff_id": "drill", "secret": STAFF}
        staff_token = httpx.post(f"{server.url}/api/v2/staff/login", json=login, timeout=10).json()["token"]
        jobs = _jobs(session, key, staff_token)
        assert server.proc is not None
        group = server.proc.pid

        def kill() -> None:
            os.killpg(group, signal.SIGKILL)

        before = asyncio.run(_send(server.url, jobs, until_final=False, crash=(len(jobs) // 3, kill)))
        server.proc.wait(timeout=10)
        assert server.proc.returncode == -signal.SIGKILL
    finally:
        server.stop()
    assert len(jobs) // 3 <= before < len(jobs), "the crash came mid-way: some deliveries had no answer"
    acknowledged = [
        (job, status, answer) for job in jobs for status, answer in job.answers if _final(job, status, answer)
    ]

    # Restart on the same database (no --reset, no seeding) and send everything again, same keys.
    with ServerProcess("--db", db_url, *SERVE, secrets=DRILL_SECRETS) as again:
        asyncio.run(_send(again.url, jobs, until_final=True))
        stored = httpx.get(f"{again.url}/api/v2/admin/vaccinations", headers=ADMIN_AUTH, timeout=20).json()
        seats = httpx.get(f"{again.url}/api/v2/admin/sessions", headers=ADMIN_AUTH, timeout=20).json()
    assert all(job.answers and _final(job, *job.answers[-1]) for job in jobs), "every job ended with a final answer"

    rows = [v for v in stored["vaccinations"] if v["beneficiary_reference_id"].startswith("3000")]
    mine = {v["beneficiary_reference_id"]: v for v in rows}
    # Exactly once: 400 doses, one row each, none lost, none twice.
    assert len(rows) == ONLINE + BATCHES * PER_BATCH == len({v["beneficiary_reference_id"] for v in rows})
    doses = [job for job in jobs if job.kind == "dose"]
    assert {v["idempotency_key"] for v in rows if v["source"] == "online"} == {
        j.headers["Idempotency-Key"] for j in doses
    }
    paper = {r["client_record_id"] for job in jobs if job.kind == "sync" for r in job.body["records"]}
    assert {v["client_record_id"] for v in rows if v["source"] == "sync"} == paper
    # Every answer given, before the crash or after, names the row that is stored.
    for job in doses:
        ids = {answer["vaccination_id"] for status, answer in job.answers if status == 201}
        assert ids == {mine[job.body["beneficiary_reference_id"]]["vaccination_id"]}
    for job in (j for j in jobs if j.kind == "sync"):
        for status, answer in job.answers:
            for result in answer["results"] if status == 200 else []:
                assert result["status"] in ("created", "duplicate")
                ref = next(r for r in job.body["records"] if r["client_record_id"] == result["client_record_id"])
                assert result["vaccination_id"] == mine[ref["beneficiary_reference_id"]]["vaccination_id"]

    # No overbooking: 50 seats, 50 appointments, each confirmation (before the crash too) still there.
    booked = {s["session_id"]: s["booked"] for s in seats["sessions"]}[session]
    assert booked == SEATS
    confirmed = asyncio.run(_appointments(db_url, session))
    assert len(confirmed) == SEATS == len(set(confirmed.values()))
    for job, status, answer in acknowledged:
        if job.kind == "book" and status == 200:
            assert confirmed[job.body["beneficiaries"][0]] == answer["appointment_confirmation_no"]
    for job in (j for j in jobs if j.kind == "book"):
        # A booking committed just before the crash may never have been answered: its re-send says "already booked".
        codes = {answer.get("errorCode", "OK") for status, answer in job.answers if _final(job, status, answer)}
        assert (job.body["beneficiaries"][0] in confirmed) == bool(codes & {"OK", "APPOIN0041"}), codes


async def _appointments(url: str, session: str) -> dict[str, str]:
    """Booked appointments of this test's bookers in ``session``: beneficiary -> appointment id."""
    db = Database(url, pool_size=1)
    try:
        async with db.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(appointments.c.beneficiary_reference_id, appointments.c.appointment_id).where(
                        appointments.c.session_id == session,
                        appointments.c.status == "booked",
                        appointments.c.beneficiary_reference_id.like("3000%"),
                    )
                )
            ).all()
    finally:
        await db.dispose()
    return {r.beneficiary_reference_id: r.appointment_id for r in rows}

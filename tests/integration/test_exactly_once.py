"""Idempotency and batch sync under duplicated, reordered and concurrent deliveries (hypothesis).

However the client retries (the same request again, batches split, reordered, sent twice at once),
each paper record or online dose is stored exactly once, and "created" is answered exactly once for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regserver.app import create_app, prepare
from regserver.db import appointments, beneficiaries
from regserver.guard import Guard
from regserver.seed import session_id_for
from tests.integration.conftest import ADMIN_AUTH, STAFF, STAFF_KEY, config_for
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.model import Scenario

RAIGAD = Path(__file__).resolve().parents[2] / "scenarios" / "raigad-2021-01-16.yaml"
_serial = itertools.count(1)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Scenario]:
    scenario = load_scenario(RAIGAD)
    url = f"sqlite:///{tmp_path_factory.mktemp('once') / 'server.db'}"
    asyncio.run(prepare(config_for(url), scenario, drill_staff_key=STAFF_KEY))
    return url, scenario


async def _with_client(url: str, session: str, people: list[str], body: Any) -> Any:
    """Run ``body`` against a server where ``people`` are registered and booked for dose 1 at ``session``."""
    app = create_app(config_for(url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=Guard(app, holder=app)), base_url="http://t") as client,
    ):
        r = await client.post("/api/v2/staff/login", json={"center_id": 100001, "staff_id": "drill", "secret": STAFF})
        auth = {"Authorization": f"Bearer {r.json()['token']}"}
        rows = [
            {
                "beneficiary_reference_id": ref,
                "mobile": "7000000000",
                "name": "P",
                "birth_year": 1980,
                "gender_id": 1,
                "photo_id_type": 1,
                "photo_id_hash": ref,
                "photo_id_last4": "0000",
                "comorbidity_ind": "N",
                "created_at": 0.0,
            }
            for ref in people
        ]
        booked = [
            {
                "appointment_id": str(uuid.uuid4()),
                "beneficiary_reference_id": ref,
                "session_id": session,
                "slot": "10:30AM-11:30AM",
                "dose": 1,
                "status": "booked",
                "created_at": 0.0,
            }
            for ref in people
        ]
        async with app.state.server.db.write() as conn:
            await conn.execute(beneficiaries.insert(), rows)
            await conn.execute(appointments.insert(), booked)
        return await body(client, auth)


def _fresh_people(n: int) -> list[str]:
    """New beneficiaries for each example (ids no other example uses)."""
    return [f"2{next(_serial):013d}" for _ in range(n)]


def _record(ref: str, session: str, batch: str = "B1") -> dict[str, Any]:
    return {
        "beneficiary_reference_id": ref,
        "session_id": session,
        "vaccine": "COVISHIELD",
        "batch": batch,
        "dose": 1,
        "administered_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),  # the session's day
    }


deliveries = st.lists(  # each delivery: which records, in which order, and whether sent alongside the next
    st.tuples(st.lists(st.integers(0, 4), min_size=1, max_size=6), st.booleans()), min_size=1, max_size=5
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=deliveries, reuse=st.booleans())
def test_sync_stores_each_record_exactly_once(db: tuple[str, Scenario], plan: list[Any], reuse: bool) -> None:
    url, scenario = db
    session = session_id_for(scenario, "DGH Alibag")
    people = _fresh_people(4)
    # Five paper records; with `reuse`, records 3 and 4 are the same person's dose under two client ids.
    records = [{"client_record_id": str(uuid.uuid4()), **_record(people[min(i, 3)], session)} for i in range(5)]
    if not reuse:
        records[4] = {**records[4], "beneficiary_reference_id": people[0], "batch": "B2"}

    async def body(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
        answers: list[dict[str, Any]] = []
        groups: list[list[list[int]]] = [[]]
        for picks, together in plan:
            groups[-1].append(picks)
            if not together:
                groups.append([])
        groups.append([list(range(5))])  # finally, everything once more (at-least-once delivery)
        for group in groups:
            sent = await asyncio.gather(
                *[
                    client.post("/api/v2/staff/sync", json={"records": [records[i] for i in picks]}, headers=auth)
                    for picks in group
                ]
            )
            for r in sent:
                assert r.status_code == 200, r.text
                answers += r.json()["results"]
        stored = (await client.get("/api/v2/admin/vaccinations", headers=ADMIN_AUTH)).json()["vaccinations"]
        mine = [v for v in stored if v["beneficiary_reference_id"] in people]
        # One dose per person, each from exactly one record, and "created" said once per stored row.
        assert sorted(v["beneficiary_reference_id"] for v in mine) == sorted(
            set(people[:4]) - ({people[3]} - {r["beneficiary_reference_id"] for r in records})
        )
        assert len({v["client_record_id"] for v in mine}) == len(mine)
        created = [a for a in answers if a["status"] == "created"]
        assert sorted(a["vaccination_id"] for a in created) == sorted(v["vaccination_id"] for v in mine)
        assert {a["status"] for a in answers} <= {"created", "duplicate", "conflict"}
        for a in answers:
            if a["status"] == "duplicate":
                assert a["vaccination_id"] in {v["vaccination_id"] for v in mine}

    asyncio.run(_with_client(url, session, people, body))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    order=st.lists(st.tuples(st.integers(0, 2), st.booleans()), min_size=1, max_size=8),
)
def test_idempotent_recording_under_retries(db: tuple[str, Scenario], order: list[tuple[int, bool]]) -> None:
    url, scenario = db
    session = session_id_for(scenario, "DGH Alibag")
    people = _fresh_people(3)
    keys = [str(uuid.uuid4()) for _ in people]
    bodies = [_record(p, session) for p in people]

    async def body(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
        seen: dict[int, list[httpx.Response]] = {i: [] for i in range(3)}
        batch: list[int] = []
        for i, together in [*order, (0, False), (1, False), (2, False)]:
            batch.append(i)
            if together:
                continue
            sent = await asyncio.gather(
                *[
                    client.post(
                        "/api/v2/staff/vaccinations", json=bodies[j], headers={**auth, "Idempotency-Key": keys[j]}
                    )
                    for j in batch
                ]
            )
            for j, r in zip(batch, sent, strict=True):
                seen[j].append(r)
            batch = []
        stored = (await client.get("/api/v2/admin/vaccinations", headers=ADMIN_AUTH)).json()["vaccinations"]
        mine = [v for v in stored if v["beneficiary_reference_id"] in people]
        assert sorted(v["idempotency_key"] for v in mine) == sorted(keys)
        for i, answers in seen.items():
            final = [r for r in answers if r.status_code != 409]
            assert final, "the last, lone delivery is never in flight with another"
            assert all(r.status_code == 201 and r.json() == final[0].json() for r in final)
            assert all(r.json()["errorCode"] == "IDEMPOTENCY_IN_FLIGHT" for r in answers if r.status_code == 409)
            assert final[0].json()["beneficiary_reference_id"] == people[i]

    asyncio.run(_with_client(url, session, people, body))

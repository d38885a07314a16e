"""Who may do what: staff accounts with their own credentials, key rotation, bad bearer tokens (issue 18).

Before the accounts, one shared secret let anyone log in as any staff id at any centre, replay another
staff member's Idempotency-Key, and sign the audit column with a name of their choice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from regserver.db import staff_accounts, vaccinations
from regserver.seed import session_id_for
from tests.integration.conftest import ADMIN_AUTH, RAIGAD, STAFF, Srv
from tests.polling import wait_until
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.secrets import DRILL_SECRETS
from vaxdrill.loadtest.server_process import ServerProcess

LOGIN = "/api/v2/staff/login"
SEEDED = "00000100000002"  # a booked beneficiary of the first site (DGH Alibag)


def dose(ref: str, session: str) -> dict[str, object]:
    at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    return {"beneficiary_reference_id": ref, "session_id": session, "vaccine": "COVISHIELD", "batch": "B1",
            "dose": 1, "administered_at": at}  # fmt: skip


@pytest.mark.asyncio
async def test_a_staff_member_logs_in_only_with_their_own_accounts_credential(srv: Srv) -> None:
    c = srv.client
    asha = await srv.account(100001, "asha")
    assert (await c.post(LOGIN, json={"center_id": 100001, "staff_id": "asha", "secret": asha})).status_code == 200
    # Another account's credential, an unknown staff id, the same id at another centre: all refused alike.
    for body in (
        {"center_id": 100001, "staff_id": "asha", "secret": STAFF},
        {"center_id": 100001, "staff_id": "ravi", "secret": asha},
        {"center_id": 100002, "staff_id": "asha", "secret": asha},
        {"center_id": 100002, "staff_id": "drill", "secret": STAFF},  # centre 100001's drill credential
    ):
        r = await c.post(LOGIN, json=body)
        assert (r.status_code, r.json()["errorCode"]) == (401, "STAFF_SECRET"), body
    engine = sa.create_engine(srv.config.db)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(staff_accounts.c.credential_hash).where(staff_accounts.c.staff_id == "asha")
        ).scalar_one()
    engine.dispose()
    assert stored.startswith("scrypt$16384$8$1$") and asha not in stored


@pytest.mark.asyncio
async def test_the_audit_column_names_the_authenticated_account_and_own_centre_checks_hold(srv: Srv) -> None:
    asha = await srv.account(100001, "asha")
    r = await srv.client.post(LOGIN, json={"center_id": 100001, "staff_id": "asha", "secret": asha})
    auth = {"Authorization": f"Bearer {r.json()['token']}"}
    headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
    r = await srv.client.post("/api/v2/staff/vaccinations", json=dose(SEEDED, srv.alibag), headers=headers)
    assert r.status_code == 201, r.text
    engine = sa.create_engine(srv.config.db)
    with engine.connect() as conn:
        staff = conn.execute(
            sa.select(vaccinations.c.staff).where(vaccinations.c.beneficiary_reference_id == SEEDED)
        ).scalar_one()
    engine.dispose()
    assert staff == "100001:asha"
    # Centre 100002's staff cannot pass for centre 100001's any more, so its sessions stay closed to them.
    other = await srv.staff(center_id=100002)
    assert (await srv.client.get(f"/api/v2/staff/sessions/{srv.alibag}/due", headers=other)).status_code == 403


@pytest.mark.asyncio
async def test_an_idempotency_key_replays_only_to_the_staff_member_who_used_it(srv: Srv) -> None:
    c = srv.client
    asha, ravi = await srv.account(100001, "asha"), await srv.account(100001, "ravi")
    tokens = {}
    for who, credential in (("asha", asha), ("ravi", ravi)):
        r = await c.post(LOGIN, json={"center_id": 100001, "staff_id": who, "secret": credential})
        tokens[who] = {"Authorization": f"Bearer {r.json()['token']}", "Idempotency-Key": "shared-key"}
    body = dose(SEEDED, srv.alibag)
    first = await c.post("/api/v2/staff/vaccinations", json=body, headers=tokens["asha"])
    assert first.status_code == 201
    # Ravi's own run of the same key: no replay of Asha's answer, the dose is simply recorded already.
    theirs = await c.post("/api/v2/staff/vaccinations", json=body, headers=tokens["ravi"])
    assert "Idempotent-Replayed" not in theirs.headers
    assert (theirs.status_code, theirs.json()["errorCode"]) == (409, "ALREADY_VACCINATED")
    # And nobody becomes Asha by saying so.
    r = await c.post(LOGIN, json={"center_id": 100001, "staff_id": "asha", "secret": ravi})
    assert r.status_code == 401
    mine = await c.post("/api/v2/staff/vaccinations", json=body, headers=tokens["asha"])
    assert mine.headers.get("Idempotent-Replayed") == "true" and mine.content == first.content


@pytest.mark.asyncio
async def test_key_rotation_revokes_every_token_issued_before_it_and_keeps_photo_ids(srv: Srv) -> None:
    c = srv.client
    citizen = await srv.login("9876500001")
    staff = await srv.staff()
    photo = uuid.uuid4().hex[:12]
    await srv.register(citizen, photo=photo)
    assert (await c.get("/api/v2/appointment/beneficiaries", headers=citizen)).status_code == 200
    r = await c.post("/api/v2/admin/keys/rotate", headers=ADMIN_AUTH)
    assert r.status_code == 200 and r.json()["generation"] == 1
    due = f"/api/v2/staff/sessions/{srv.alibag}/due"
    for path, auth in (("/api/v2/appointment/beneficiaries", citizen), (due, staff)):
        r = await c.get(path, headers=auth)
        assert (r.status_code, r.json()["errorCode"]) == (401, "AUTH_INVALID"), path
    fresh = await srv.login("9876500002")
    assert (await c.get("/api/v2/appointment/beneficiaries", headers=fresh)).status_code == 200
    assert (await c.get(f"/api/v2/staff/sessions/{srv.alibag}/due", headers=await srv.staff())).status_code == 200
    # Photo-ID hashes have their own key, which rotation leaves alone: one ID is still one person.
    body = {"name": "A", "birth_year": 1980, "gender_id": 1, "photo_id_type": 1, "photo_id_number": photo,
            "comorbidity_ind": "N", "consent_version": "V1"}  # fmt: skip
    r = await c.post("/api/v2/registration/beneficiary/new", json=body, headers=fresh)
    assert (r.status_code, r.json()["errorCode"]) == (409, "PHOTO_ID_REGISTERED")
    assert (await c.post("/api/v2/admin/keys/rotate")).status_code == 401  # an admin route


@pytest.mark.asyncio
async def test_a_bearer_token_in_any_encoding_is_refused_with_401_never_a_500(srv: Srv) -> None:
    c = srv.client
    # Latin-1 bytes (what HTTP headers carry) that are not ASCII, in every part of a token.
    for raw in (b"\xff\xfe", b"citizen.OTg3.9999999999.\xe9t\xe9", "ä.ö.ü.ß".encode("latin-1"), b"a.b.c.\x80"):
        for path in ("/api/v2/appointment/beneficiaries", f"/api/v2/staff/sessions/{srv.alibag}/due"):
            r = await c.get(path, headers={b"authorization": b"Bearer " + raw})
            assert (r.status_code, r.json()["errorCode"]) == (401, "AUTH_INVALID"), (raw, path)
        r = await c.get("/api/v2/admin/faults", headers={b"authorization": b"Bearer " + raw})
        assert r.status_code == 403, raw


def test_a_rotation_on_one_worker_revokes_old_tokens_on_every_worker(tmp_path: Path) -> None:
    args = ("--db", f"sqlite:///{tmp_path / 's.db'}", "--seed-data", str(RAIGAD), "--drill")
    with ServerProcess(*args, workers=2, secrets=DRILL_SECRETS) as server:
        login = {"center_id": 100001, "staff_id": "drill", "secret": STAFF}
        token = httpx.post(f"{server.url}/api/v2/staff/login", json=login, timeout=10).json()["token"]
        due = f"{server.url}/api/v2/staff/sessions/{session_id_for(load_scenario(RAIGAD), 'DGH Alibag')}/due"
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(due, headers=auth, timeout=10).status_code == 200
        admin = {"Authorization": f"Bearer {DRILL_SECRETS.admin_token}"}
        assert httpx.post(f"{server.url}/api/v2/admin/keys/rotate", headers=admin, timeout=10).status_code == 200

        def refused_everywhere() -> bool:
            # A new connection each time: the kernel spreads them over both workers.
            return all(httpx.get(due, headers=auth, timeout=10).status_code == 401 for _ in range(20))

        wait_until(refused_everywhere, timeout=15, what="every worker refusing the token signed before rotation")

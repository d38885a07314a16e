"""Fixtures of the reference-server tests: an app on a fresh SQLite file (or PostgreSQL schema),
seeded from the Raigad scenario, driven in-process through httpx's ASGI transport."""

from __future__ import annotations

import datetime as dt
import gc
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from regserver.app import create_app, layers, prepare
from regserver.config import ServerConfig
from regserver.seed import session_id_for
from regserver.state import ServerState
from vaxdrill.core.otp import drill_otp, otp_hash
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.secrets import DRILL_SECRETS, DRILL_STAFF_ID, drill_staff_credential

ROOT = Path(__file__).resolve().parents[2]
RAIGAD = ROOT / "scenarios" / "raigad-2021-01-16.yaml"
DRILL = DRILL_SECRETS.drill_otp
ADMIN = DRILL_SECRETS.admin_token
STAFF_KEY = DRILL_SECRETS.drill_staff_key
STAFF = drill_staff_credential(STAFF_KEY, 100001)  # the credential of centre 100001's drill account
PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class Srv:
    client: httpx.AsyncClient
    config: ServerConfig
    scenario: Scenario
    app: FastAPI | None = None

    @property
    def state(self) -> ServerState:
        """The running app's state (its database, for a test that must set up what no route can)."""
        assert self.app is not None
        server: ServerState = self.app.state.server
        return server

    def session_of(self, site: int) -> str:
        """The seeded session of the scenario's ``site``-th site (1-based; centre 100000 + site)."""
        return session_id_for(self.scenario, self.scenario.sites[site - 1].name)

    @property
    def alibag(self) -> str:
        return session_id_for(self.scenario, "DGH Alibag")

    async def login(self, mobile: str) -> dict[str, str]:
        r = await self.client.post("/api/v2/auth/public/generateOTP", json={"mobile": mobile})
        assert r.status_code == 200, r.text
        txn = r.json()["txnId"]
        r = await self.client.post(
            "/api/v2/auth/public/confirmOTP", json={"otp": otp_hash(drill_otp(mobile, DRILL, txn)), "txnId": txn}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    async def staff(self, center_id: int = 100001, staff_id: str = DRILL_STAFF_ID) -> dict[str, str]:
        """Log in as ``staff_id`` at ``center_id``: the centre's drill account, or one made by :meth:`account`."""
        credential = drill_staff_credential(STAFF_KEY, center_id) if staff_id == DRILL_STAFF_ID else staff_id * 4
        r = await self.client.post(
            "/api/v2/staff/login", json={"center_id": center_id, "staff_id": staff_id, "secret": credential}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    async def account(self, center_id: int, staff_id: str) -> str:
        """Make staff account ``staff_id`` at ``center_id`` through the admin API; its credential."""
        credential = staff_id * 4
        r = await self.client.put(
            f"/api/v2/admin/staff/{center_id}/{staff_id}", json={"credential": credential}, headers=ADMIN_AUTH
        )
        assert r.status_code == 204, r.text
        return credential

    async def register(self, auth: dict[str, str], photo: str | None = None, birth_year: int = 1980) -> str:
        body = {
            "name": "Asha Patil",
            "birth_year": birth_year,
            "gender_id": 1,
            "photo_id_type": 1,
            "photo_id_number": photo or uuid.uuid4().hex[:12],
            "comorbidity_ind": "N",
            "consent_version": "V1",
        }
        r = await self.client.post("/api/v2/registration/beneficiary/new", json=body, headers=auth)
        assert r.status_code == 200, r.text
        return str(r.json()["beneficiary_reference_id"])


ADMIN_AUTH = {"Authorization": f"Bearer {ADMIN}"}


def today() -> str:
    return dt.date.today().strftime("%d-%m-%Y")


def config_for(db: str, **extra: object) -> ServerConfig:
    # The drill's secrets, and no per-address or per-account login limits: every client here is 127.0.0.1.
    base: dict[str, object] = {
        "db": db,
        "drill_otp": DRILL,
        "admin_token": ADMIN,
        "cache_seconds": 0.0,
        "auth_per_ip_limit": 0,
        "staff_login_limit": 0,
    }
    base.update(extra)
    return ServerConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def raigad() -> Scenario:
    return load_scenario(RAIGAD)


async def start(config: ServerConfig, scenario: Scenario, reset: bool = False) -> AsyncIterator[Srv]:
    await prepare(config, scenario, reset=reset, drill_staff_key=STAFF_KEY)
    app = create_app(config)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=layers(app)), base_url="http://test") as client,
    ):
        yield Srv(client, config, scenario, app)
    # A connection the app left unclosed warns when collected; collect now so the warning fails the test
    # that leaked it, not whichever test the garbage collector happens to run in next.
    gc.collect()


@pytest_asyncio.fixture
async def srv(tmp_path: Path, raigad: Scenario) -> AsyncIterator[Srv]:
    async for s in start(config_for(f"sqlite:///{tmp_path / 'server.db'}"), raigad):
        yield s


async def pg_reachable() -> bool:
    try:
        import asyncpg

        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test", timeout=2)
        await conn.close()
        return True
    except Exception:
        return False


async def pg_schema() -> str:
    """A fresh schema of our own in the shared `test` database."""
    import asyncpg

    name = f"vaxdrill_srv_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test", timeout=2)
    await conn.execute(f"CREATE SCHEMA {name}")
    await conn.close()
    return name


async def drop_schema(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test", timeout=2)
    await conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    await conn.close()


async def require_postgres() -> None:
    """Skip with the reason when PostgreSQL is down, except in CI (`CI` set), where the test fails instead:
    a database case that skipped there would pass unseen."""
    if await pg_reachable():
        return
    reason = "PostgreSQL is not reachable on 127.0.0.1:5432 (database `test`, user postgres)"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the PostgreSQL cases (.ci/run starts the cluster)", pytrace=False)
    pytest.skip(reason)


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_db(request: pytest.FixtureRequest, tmp_path: Path, raigad: Scenario) -> AsyncIterator[Srv]:
    """The same server on SQLite and on PostgreSQL (PostgreSQL down: skipped with the reason, failed in CI)."""
    async for s in serve_on(request.param, tmp_path, raigad):
        yield s


async def serve_on(kind: str, tmp_path: Path, scenario: Scenario, **extra: object) -> AsyncIterator[Srv]:
    """A server on a fresh SQLite file (``kind`` "sqlite") or PostgreSQL schema, with ``extra`` settings."""
    if kind == "sqlite":
        async for s in start(config_for(f"sqlite:///{tmp_path / 'server.db'}", **extra), scenario):
            yield s
        return
    await require_postgres()
    schema = await pg_schema()
    try:
        async for s in start(config_for(f"{PG_BASE}?search_path={schema}", **extra), scenario):
            yield s
    finally:
        await drop_schema(schema)


def dose(ref: str, session: str, **over: object) -> dict[str, object]:
    """A dose record for ``POST /staff/vaccinations`` given now: dose 1 of COVISHIELD unless ``over`` says."""
    body: dict[str, object] = {
        "beneficiary_reference_id": ref,
        "session_id": session,
        "vaccine": "COVISHIELD",
        "batch": "4121Z025",
        "dose": 1,
        "administered_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
    }
    body.update(over)
    return body

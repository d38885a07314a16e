"""Secrets at rest and on the way in, and limits that hold (issue 18): owner-only database files, salted
OTP hashes, purged OTPs, secrets from files and the environment, the OTP limit under concurrency,
forwarded headers from named proxies only, a per-address limit that fails closed."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa

from regserver.app import prepare
from regserver.db import Database, otp_txns, sms_outbox
from tests.integration.conftest import (
    PG_BASE,
    RAIGAD,
    Srv,
    config_for,
    drop_schema,
    pg_schema,
    require_postgres,
    start,
)
from vaxdrill.core.otp import drill_otp, otp_hash
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.secrets import DrillSecrets
from vaxdrill.loadtest.server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
OTP = "/api/v2/auth/public/generateOTP"


def test_the_sqlite_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "server.db"
    old = os.umask(0o022)  # the usual umask, under which SQLite made world-readable files
    try:

        async def made() -> list[int]:
            await prepare(config_for(f"sqlite:///{path}"))
            db = Database(f"sqlite:///{path}", pool_size=1)
            try:
                async with db.write() as conn:  # an open connection keeps its -wal and -shm
                    await conn.execute(sa.text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
                return [stat.S_IMODE(os.stat(f"{path}{end}").st_mode) for end in ("", "-wal", "-shm")]
            finally:
                await db.dispose()

        assert asyncio.run(made()) == [0o600, 0o600, 0o600]
        # A file an older version left world-readable is tightened on the next start.
        os.chmod(path, 0o644)
        Database(f"sqlite:///{path}")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)


@pytest.mark.asyncio
async def test_stored_otp_hashes_are_salted_and_cannot_be_replayed(srv: Srv) -> None:
    c = srv.client
    txns = [(await c.post(OTP, json={"mobile": "9876512345"})).json()["txnId"] for _ in range(2)]
    engine = sa.create_engine(srv.config.db)
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.select(otp_txns.c.txn_id, otp_txns.c.otp_hash)).all())
    engine.dispose()
    sent = [otp_hash(drill_otp("9876512345", "drill-otp", t)) for t in txns]
    assert stored[txns[0]] not in sent and stored[txns[1]] not in sent
    # What the table holds is not what confirmOTP takes: a copy of the database logs nobody in.
    r = await c.post("/api/v2/auth/public/confirmOTP", json={"otp": stored[txns[0]], "txnId": txns[0]})
    assert (r.status_code, r.json()["errorCode"]) == (401, "OTP_WRONG")
    r = await c.post("/api/v2/auth/public/confirmOTP", json={"otp": sent[0], "txnId": txns[0]})
    assert r.status_code == 200


@pytest_asyncio.fixture
async def purging(tmp_path: Path, raigad: Scenario) -> AsyncIterator[Srv]:
    async for s in start(config_for(f"sqlite:///{tmp_path / 'server.db'}", purge_interval=0.2), raigad):
        yield s


@pytest.mark.asyncio
async def test_expired_otps_and_their_sms_are_purged(purging: Srv) -> None:
    c, cfg = purging.client, purging.config
    old = (await c.post(OTP, json={"mobile": "9876500011"})).json()["txnId"]
    long_ago = time.time() - max(cfg.otp_window, cfg.otp_ttl) - 5
    # Written through the app's engine: a blocking connection from this thread could wait on the write
    # lock of the upkeep's purge, which cannot finish while the event loop waits.
    async with purging.state.db.write() as conn:
        await conn.execute(otp_txns.update().where(otp_txns.c.txn_id == old).values(created_at=long_ago))
        await conn.execute(sms_outbox.update().values(created_at=long_ago))
    engine = sa.create_engine(cfg.db)
    new = (await c.post(OTP, json={"mobile": "9876500012"})).json()["txnId"]

    def left() -> tuple[set[str], list[str]]:
        with engine.connect() as conn:
            ids = set(conn.execute(sa.select(otp_txns.c.txn_id)).scalars())
            mobiles = list(conn.execute(sa.select(sms_outbox.c.mobile)).scalars())
        return ids, mobiles

    deadline = time.monotonic() + 20
    while left() != ({new}, ["9876500012"]):  # the upkeep runs on this event loop: poll without blocking it
        assert time.monotonic() < deadline, f"the expired OTP and SMS were not purged: {left()}"
        await asyncio.sleep(0.05)
    engine.dispose()


async def _storm(srv: Srv) -> list[int]:
    answers = await asyncio.gather(*[srv.client.post(OTP, json={"mobile": "9876599999"}) for _ in range(30)])
    return sorted(r.status_code for r in answers)


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_the_otp_limit_holds_under_30_concurrent_requests(backend: str, tmp_path: Path, raigad: Scenario) -> None:
    if backend == "sqlite":
        async for s in start(config_for(f"sqlite:///{tmp_path / 'server.db'}", otp_limit=5, pool_size=8), raigad):
            assert await _storm(s) == [200] * 5 + [429] * 25
        return
    await require_postgres()
    schema = await pg_schema()
    try:
        async for s in start(config_for(f"{PG_BASE}?search_path={schema}", otp_limit=5, pool_size=8), raigad):
            assert await _storm(s) == [200] * 5 + [429] * 25
    finally:
        await drop_schema(schema)


@pytest.mark.asyncio
async def test_the_per_address_limit_fails_closed_when_it_cannot_count(tmp_path: Path, raigad: Scenario) -> None:
    async for s in start(config_for(f"sqlite:///{tmp_path / 'server.db'}", per_ip_limit=1000), raigad):
        assert (await s.client.get("/api/v2/admin/location/states")).status_code == 200
        st = s.client._transport.app.holder.state.server  # type: ignore[attr-defined]
        # The table the counts go to is gone: every count now fails in the driver. (Swapping the app's
        # engine instead would orphan a connection a background task holds, unclosed.)
        async with st.db.write() as conn:
            await conn.execute(sa.text("DROP TABLE ip_hits"))
        r = await s.client.get("/api/v2/admin/location/states")
        assert (r.status_code, r.json()["errorCode"]) == (503, "RATE_LIMIT_UNAVAILABLE")
        assert r.headers["Retry-After"] == "1"


def test_forwarded_addresses_count_only_from_proxies_the_operator_names(tmp_path: Path) -> None:
    spoofed = [{"X-Forwarded-For": f"203.0.113.{i}"} for i in range(6)]
    args = ("--db", f"sqlite:///{tmp_path / 's.db'}", "--seed-data", str(RAIGAD), "--auth-per-ip-limit", "3")
    with ServerProcess(*args, secrets=DrillSecrets.random()) as server:
        codes = [httpx.post(server.url + OTP, json={"mobile": f"98765000{i:02d}"}, headers=h).status_code
                 for i, h in enumerate(spoofed)]  # fmt: skip
    # All six come from 127.0.0.1, whatever they claim: the fourth is over the limit of three.
    assert codes == [200, 200, 200, 429, 429, 429]
    trusting = (*args[:1], f"sqlite:///{tmp_path / 't.db'}", *args[2:], "--forwarded-allow-ips", "127.0.0.1")
    with ServerProcess(*trusting, secrets=DrillSecrets.random()) as server:
        codes = [httpx.post(server.url + OTP, json={"mobile": f"98765000{i:02d}"}, headers=h).status_code
                 for i, h in enumerate(spoofed)]  # fmt: skip
    assert codes == [200] * 6  # a named proxy's X-Forwarded-For is the client's address


def test_secrets_come_from_files_and_the_environment_never_the_command_line(tmp_path: Path) -> None:
    run = DrillSecrets.random()
    token_file = tmp_path / "admin-token"
    token_file.write_text("admin-token-from-a-file\n")
    accounts = tmp_path / "staff.yaml"
    accounts.write_text("- {center_id: 100003, staff_id: meera, credential: meera-long-credential}\n")
    args = ("--db", f"sqlite:///{tmp_path / 's.db'}", "--seed-data", str(RAIGAD), "--drill",
            "--admin-token-file", str(token_file), "--staff-accounts", str(accounts))  # fmt: skip
    with ServerProcess(*args, secrets=run) as server:
        assert server.proc is not None
        shown = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes().decode()
        assert not any(value in shown for value in [*run.environ().values(), "admin-token-from-a-file"])
        admin = {"Authorization": "Bearer admin-token-from-a-file"}
        assert httpx.get(server.url + "/api/v2/admin/faults", headers=admin).status_code == 200
        login = server.url + "/api/v2/staff/login"
        meera = {"center_id": 100003, "staff_id": "meera", "secret": "meera-long-credential"}
        assert httpx.post(login, json=meera).status_code == 200
        drill = {"center_id": 100002, "staff_id": "drill", "secret": run.staff_credential(100002)}
        assert httpx.post(login, json=drill).status_code == 200
    assert "meera-long-credential" not in (tmp_path / "s.db").read_bytes().decode("latin-1")


def test_a_bad_staff_accounts_file_is_one_clear_line(tmp_path: Path) -> None:
    accounts = tmp_path / "staff.yaml"
    accounts.write_text("- {center_id: 100003, staff_id: meera, credential: short}\n")
    done = subprocess.run(
        [sys.executable, "-m", "vaxdrill", "serve", "--db", f"sqlite:///{tmp_path / 's.db'}",
         "--staff-accounts", str(accounts)],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert f"--staff-accounts {accounts}: [0].credential" in done.stderr
    assert "Traceback" not in done.stderr


def test_drill_secrets_come_from_their_files_over_the_environment(tmp_path: Path) -> None:
    """``--drill-otp-file`` and ``--drill-staff-key-file`` decide the OTPs and drill credentials."""
    environment, filed = DrillSecrets.random(), DrillSecrets.random()
    (tmp_path / "otp").write_text(filed.drill_otp + "\n")
    (tmp_path / "staff-key").write_text(filed.drill_staff_key + "\n")
    files = ("--drill-otp-file", str(tmp_path / "otp"), "--drill-staff-key-file", str(tmp_path / "staff-key"))
    args = ("--db", f"sqlite:///{tmp_path / 's.db'}", "--seed-data", str(RAIGAD), "--drill", *files)
    with ServerProcess(*args, secrets=environment) as server:
        login = server.url + "/api/v2/staff/login"
        for secrets, want in ((environment, 401), (filed, 200)):
            body = {"center_id": 100002, "staff_id": "drill", "secret": secrets.staff_credential(100002)}
            assert httpx.post(login, json=body).status_code == want
            mobile = "9876500042"
            txn = httpx.post(server.url + OTP, json={"mobile": mobile}).json()["txnId"]
            otp = otp_hash(drill_otp(mobile, secrets.drill_otp, txn))
            answer = httpx.post(server.url + "/api/v2/auth/public/confirmOTP", json={"otp": otp, "txnId": txn})
            assert answer.status_code == want, answer.text

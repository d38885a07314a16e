"""`vaxdrill serve` outside drill mode: random secrets in an owner-only file and never in its log;
request lines with paths only; errors logged without tracebacks or request values."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from regserver.app import create_app
from regserver.errors import ContainErrors
from tests.integration.conftest import RAIGAD, STAFF, config_for, today
from vaxdrill.core.secrets import drill_staff_credential
from vaxdrill.loadtest.server_process import ServerProcess


def test_without_secrets_the_server_makes_random_ones_and_keeps_them_out_of_its_log(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    log = tmp_path / "server.log"
    with ServerProcess("--db", f"sqlite:///{db}", "--seed-data", str(RAIGAD), log=log) as server:
        secrets_file = tmp_path / "server.db.secrets.json"
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
        made = json.loads(secrets_file.read_text())
        # No drill staff key, no accounts file: nobody can log in as staff, least of all with public values.
        public = httpx.post(
            f"{server.url}/api/v2/staff/login", json={"center_id": 100001, "staff_id": "drill", "secret": STAFF}
        )
        assert public.status_code == 401
        admin = httpx.get(
            f"{server.url}/api/v2/admin/faults", headers={"Authorization": f"Bearer {made['admin_token']}"}
        )
        assert admin.status_code == 200
        text = log.read_text()
    assert made["admin_token"] not in text
    assert str(secrets_file) in text


def test_secrets_can_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAXDRILL_DRILL_STAFF_KEY", "key-from-the-environment")
    monkeypatch.setenv("VAXDRILL_ADMIN_TOKEN", "admin-from-the-environment")
    with ServerProcess("--db", f"sqlite:///{tmp_path / 's.db'}", "--seed-data", str(RAIGAD)) as server:
        credential = drill_staff_credential("key-from-the-environment", 100001)
        r = httpx.post(
            f"{server.url}/api/v2/staff/login", json={"center_id": 100001, "staff_id": "drill", "secret": credential}
        )
        assert r.status_code == 200, r.text
        admin = {"Authorization": "Bearer admin-from-the-environment"}
        assert httpx.get(f"{server.url}/api/v2/admin/faults", headers=admin).status_code == 200
    assert not (tmp_path / "s.db.secrets.json").exists()


def test_the_access_log_has_paths_without_query_strings(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with ServerProcess(
        "--db", f"sqlite:///{tmp_path / 's.db'}", "--seed-data", str(RAIGAD), "--access-log", log=log
    ) as s:
        find = f"{s.url}/api/v2/appointment/sessions/public/findByDistrict"
        assert httpx.get(find, params={"district_id": 1, "date": today(), "mobile": "9876543210"}).status_code in (
            200,
            422,
        )
        text = log.read_text()
    assert "/api/v2/appointment/sessions/public/findByDistrict" in text
    assert "district_id" not in text and "9876543210" not in text


class _Person(BaseModel):
    mobile: int


@pytest.mark.asyncio
async def test_an_unexpected_error_is_logged_without_traceback_or_values(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app: FastAPI = create_app(config_for(f"sqlite:///{tmp_path / 's.db'}"))

    @app.get("/boom")
    async def boom() -> None:
        _Person.model_validate({"mobile": "98765-43210"})  # raises, its message holding the input

    transport = httpx.ASGITransport(app=ContainErrors(app))
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.get("/boom")
    assert r.status_code == 500 and r.json()["errorCode"] == "INTERNAL"
    assert "98765-43210" not in caplog.text and "Traceback" not in caplog.text
    assert any("/boom" in rec.getMessage() for rec in caplog.records)

"""The fault plan's edges: input checked at the API, one canonical stored form, unreadable rows skipped."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from regserver.db import Database, faults
from tests.integration.conftest import ADMIN_AUTH, Srv, config_for, start
from vaxdrill.core.scenario.model import Scenario

pytestmark = pytest.mark.asyncio
FAULTS = "/api/v2/admin/faults"


async def test_a_long_duration_is_stored_so_it_reads_back(srv: Srv) -> None:
    r = await srv.client.post(FAULTS, json={"kind": "outage", "at": "1h", "duration": "1000001s"}, headers=ADMIN_AUTH)
    assert r.status_code == 201, r.text
    listed = await srv.client.get(FAULTS, headers=ADMIN_AUTH)
    assert listed.status_code == 200, listed.text
    assert listed.json()["faults"][0]["spec"]["duration"] == "1000001s"
    again = await srv.client.post(FAULTS, json={"kind": "outage", "at": "1h", "duration": "90s"}, headers=ADMIN_AUTH)
    assert again.status_code == 201, again.text


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "outage", "duration": "99999999999d"},
        {"kind": "outage", "duration": "9" * 400 + "s"},
        {"kind": "outage", "at": "400d", "duration": "1s"},
        {"kind": "outage", "duration": "1s", "routes": []},
        {"kind": "outage", "duration": "1s", "routes": [""]},
    ],
)
async def test_out_of_range_fault_input_is_422(srv: Srv, fault: dict[str, object]) -> None:
    r = await srv.client.post(FAULTS, json=fault, headers=ADMIN_AUTH)
    assert r.status_code == 422, r.text
    assert r.json()["errorCode"] == "VALIDATION"
    assert (await srv.client.get(FAULTS, headers=ADMIN_AUTH)).json() == {"faults": []}


async def _store_unreadable_row(db_url: str) -> None:
    db = Database(db_url, pool_size=1)
    try:
        async with db.write() as conn:
            now = time.time()
            await conn.execute(
                faults.insert().values(
                    fault_id="broken",
                    spec='{"kind": "outage", "duration": "1e+06s"}',
                    starts_at=now,
                    ends_at=now + 60,
                    cleared=False,
                )
            )
    finally:
        await db.dispose()


async def test_an_unreadable_stored_fault_is_skipped_with_a_warning(
    tmp_path: Path, raigad: Scenario, caplog: pytest.LogCaptureFixture
) -> None:
    config = config_for(f"sqlite:///{tmp_path / 'server.db'}")
    async for first in start(config, raigad):
        assert (await first.client.get(FAULTS, headers=ADMIN_AUTH)).status_code == 200
    await _store_unreadable_row(config.db)
    # The server starts again on that database, lists and adds faults, and applies new ones.
    async for srv in start(config, raigad):
        listed = await srv.client.get(FAULTS, headers=ADMIN_AUTH)
        assert listed.status_code == 200, listed.text
        assert listed.json() == {"faults": []}
        r = await srv.client.post(FAULTS, json={"kind": "outage", "duration": "60s"}, headers=ADMIN_AUTH)
        assert r.status_code == 201, r.text
        assert (await srv.client.get("/api/v2/public/counters")).status_code == 503
    assert any("broken" in rec.getMessage() and rec.levelname == "WARNING" for rec in caplog.records)

"""What an oversized body and a long batch sync cost the reference server (issue 18).

Run: ``.venv/bin/python benchmarks/bench_sync_and_bodies.py [--rounds 3]``

1. **Bodies** (a ``vaxdrill serve`` process on loopback, SQLite): a 9 MB body (about 45,000 paper
   records) with no token to ``/api/v2/staff/sync``, once with ``Content-Length`` and once chunked.
   Prints the answer, the time to it and the server's peak memory (VmHWM) before and after. Before
   body limits the server read and parsed all of it, then answered 401.
2. **Long batches** (in process, SQLite, one event loop): a batch of 500 paper records (walk-ins of
   500 registered people) while another client sends ``generateOTP`` (a write) back to back. The
   batch applied in one transaction (``sync_chunk`` 500, as before) against chunks of 50 (the
   default): the batch's time, and the other writer's median and worst latency during the batch
   (medians over rounds, side by side).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from regserver.app import create_app, prepare  # noqa: E402
from regserver.config import ServerConfig  # noqa: E402
from regserver.db import beneficiaries  # noqa: E402
from regserver.guard import Guard  # noqa: E402
from regserver.seed import session_id_for  # noqa: E402
from vaxdrill.core.scenario import load_scenario  # noqa: E402
from vaxdrill.core.secrets import DRILL_SECRETS  # noqa: E402
from vaxdrill.loadtest.server_process import ServerProcess  # noqa: E402

SCENARIO = ROOT / "scenarios" / "raigad-2021-01-16.yaml"
BIG = 9 * 2**20


def _peak_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of ``pid`` and its children, in MB."""
    import psutil

    total = 0.0
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def bodies() -> None:
    print("1. A 9 MB body with no token to /api/v2/staff/sync (vaxdrill serve, SQLite, 1 worker)")
    with tempfile.TemporaryDirectory() as folder, ServerProcess.for_run(SCENARIO, Path(folder)) as server:
        assert server.proc is not None
        before = _peak_mb(server.proc.pid)
        with httpx.Client(base_url=server.url, timeout=60) as client:
            record = {"client_record_id": str(uuid.uuid4()), "beneficiary_reference_id": "00000100000001",
                      "session_id": "s", "vaccine": "COVISHIELD", "batch": "B1", "dose": 1,
                      "administered_at": "2021-01-16T10:00:00+05:30"}  # fmt: skip
            many = BIG // len(json.dumps(record))
            for how in ("Content-Length", "chunked"):
                payload: Any = json.dumps({"records": [record] * many}).encode()
                if how == "chunked":
                    data = payload
                    payload = iter(data[i : i + 65536] for i in range(0, len(data), 65536))
                started = time.perf_counter()
                try:
                    r = client.post("/api/v2/staff/sync", content=payload, headers={"Content-Type": "application/json"})
                    answer = f"{r.status_code} {r.json().get('errorCode')}"
                except httpx.HTTPError as exc:  # the server may close the connection mid-upload after answering
                    answer = f"connection ended ({type(exc).__name__})"
                print(f"   {how:>14}: {answer} in {(time.perf_counter() - started) * 1000:.0f} ms")
        print(f"   server peak memory: {before:.0f} MB before, {_peak_mb(server.proc.pid):.0f} MB after")


async def _batch_round(chunk: int, folder: Path) -> tuple[float, float, float, int]:
    scenario = load_scenario(SCENARIO)
    secrets = DRILL_SECRETS
    config = ServerConfig(
        db=f"sqlite:///{folder / f'sync-{chunk}-{uuid.uuid4().hex[:6]}.db'}",
        drill_otp=secrets.drill_otp,
        staff_secret=secrets.staff_secret,
        admin_token=secrets.admin_token,
        auth_per_ip_limit=0,
        staff_login_limit=0,
        otp_limit=10_000,
        sync_chunk=chunk,
    )
    await prepare(config, scenario)
    app = create_app(config)
    session = session_id_for(scenario, scenario.sites[0].name)
    people = [f"4{n:013d}" for n in range(500)]
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=Guard(app, holder=app)), base_url="http://b") as client,
    ):
        async with app.state.server.db.write() as conn:
            await conn.execute(
                beneficiaries.insert(),
                [
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
                ],
            )
        r = await client.post(
            "/api/v2/staff/login", json={"center_id": 100001, "staff_id": "b1", "secret": secrets.staff_secret}
        )
        staff = {"Authorization": f"Bearer {r.json()['token']}"}
        now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        records = [
            {
                "client_record_id": str(uuid.uuid4()),
                "beneficiary_reference_id": ref,
                "session_id": session,
                "vaccine": "COVISHIELD",
                "batch": "B1",
                "dose": 1,
                "administered_at": now,
                "walk_in": True,
            }
            for ref in people
        ]
        latencies: list[tuple[float, float]] = []  # (sent at, seconds to the answer)
        done = asyncio.Event()

        async def other_writer() -> None:
            n = 0
            while not done.is_set():
                n += 1
                started = time.perf_counter()
                await client.post("/api/v2/auth/public/generateOTP", json={"mobile": f"9{n:09d}"})
                latencies.append((started, time.perf_counter() - started))

        writer = asyncio.create_task(other_writer())
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        r = await client.post("/api/v2/staff/sync", json={"records": records}, headers=staff)
        took = time.perf_counter() - started
        done.set()
        await writer
        created = sum(x["status"] == "created" for x in r.json()["results"])
        during = [seconds for sent, seconds in latencies if started <= sent <= started + took] or [0.0]
        return took, statistics.median(during), max(during), created


def batches(rounds: int) -> None:
    print("2. A 500-record batch sync and another writer (in process, SQLite)")
    figures: dict[int, list[tuple[float, float, float, int]]] = {500: [], 50: []}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(rounds):
            for chunk in figures:  # interleaved: a busy spell touches both alike
                figures[chunk].append(asyncio.run(_batch_round(chunk, Path(folder))))
    print(f"   {'records per transaction':>24} | batch s | other writer p50 ms | worst ms | created")
    for chunk, runs in figures.items():
        took = statistics.median(r[0] for r in runs)
        p50 = statistics.median(r[1] for r in runs)
        worst = statistics.median(r[2] for r in runs)
        print(f"   {chunk:>24} | {took:7.2f} | {p50 * 1000:19.1f} | {worst * 1000:8.0f} | {runs[0][3]}")
    one, chunked = figures[500], figures[50]
    ratio = statistics.median(r[2] for r in one) / max(statistics.median(r[2] for r in chunked), 1e-9)
    print(f"   worst wait of the other writer, one transaction / chunks of 50: {ratio:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bodies()
    batches(args.rounds)


if __name__ == "__main__":
    main()

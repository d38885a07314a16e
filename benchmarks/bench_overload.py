"""Overload: an open-loop surge of 3x capacity against the reference server, and what it did to latency.

The workload is vaccinators recording doses online (``POST /api/v2/staff/vaccinations``, a new
``Idempotency-Key`` and a new beneficiary each time: three short write transactions), on SQLite with
one worker, the server's default shedding. Steps:

1. capacity: a closed loop of ``--connections`` for ``--capacity-seconds`` against a server with shedding
   off (else a closed loop's instant retries after 503s would lower it); successful answers per second;
2. an open-loop profile at a fixed rate per phase, in the manner of wrk2: normal (``--normal`` x capacity)
   -> surge (``--surge`` x capacity) -> normal. Each request's latency counts from its *scheduled* send
   time, so a server that stalls the client is charged for it (no coordinated omission).

Printed: successful throughput in the surge against capacity, p95 of the admitted requests (all but
the 503s of shedding), the 503s and whether each had ``Retry-After``, the server's memory, and how long
after the surge latency was back to normal (every later 250 ms window's p95 within twice the normal
phase's p95 plus 20 ms, with no request shed). Targets (issue 13): admitted p95 <= 250 ms, successful
throughput >= 85% of capacity, back to normal <= 2 s. ``--compare-fixed`` runs the same profile
against the old fixed rule (``--latency-target 0``: only ``--max-in-flight 200``) as well.

    .venv/bin/python benchmarks/bench_overload.py [--surge 3] [--seconds 5,10,8] [--compare-fixed]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vaxdrill.loadtest.server_process import ServerProcess  # noqa: E402

SCENARIO = ROOT / "scenarios" / "raigad-2021-01-16.yaml"
STAFF_CREDENTIAL = "bench-staff-credential"
PATH = "/api/v2/staff/vaccinations"
FIND = "/api/v2/appointment/sessions/public/findByDistrict"
OK = {200, 201}


# --- a small HTTP/1.1 client on raw asyncio streams (httpx costs more CPU than the server it drives) ---


class Pool:
    """Keep-alive connections to one port; a request takes an idle one or opens another (up to ``cap``)."""

    def __init__(self, port: int, cap: int) -> None:
        self.port, self.cap, self.open = port, cap, 0
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.freed = asyncio.Condition()

    async def request(self, raw: bytes, timeout: float) -> tuple[int, bool]:
        """Send ``raw``; (status, has Retry-After); status 0 on timeout or a broken connection."""
        conn = await self._take()
        try:
            reader, writer = conn
            writer.write(raw)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
            status = int(head[9:12])
            lower = head.lower()
            at = lower.find(b"content-length:")
            length = int(lower[at + 15 : lower.find(b"\r\n", at)]) if at >= 0 else 0
            await asyncio.wait_for(reader.readexactly(length), timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            conn[1].close()
            self.open -= 1
            async with self.freed:
                self.freed.notify()
            return 0, False
        self.idle.append(conn)
        async with self.freed:
            self.freed.notify()
        return status, b"retry-after:" in lower

    async def _take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while True:
            if self.idle:
                return self.idle.pop()
            if self.open < self.cap:
                self.open += 1
                try:
                    return await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    self.open -= 1
                    raise
            async with self.freed:
                await self.freed.wait()


def _raw(token: str, ref: str, session: str) -> bytes:
    body = json.dumps(
        {
            "beneficiary_reference_id": ref,
            "session_id": session,
            "vaccine": "COVISHIELD",
            "batch": "B1",
            "dose": 1,
            "administered_at": dt.datetime.now(dt.UTC).isoformat(),
        }
    ).encode()
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Idempotency-Key: {uuid.uuid4()}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _find_raw(day: str) -> bytes:
    return (f"GET {FIND}?district_id=1&date={day} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").encode()


async def closed_loop(port: int, raws: list[bytes], seconds: float, connections: int) -> float:
    """Successful answers per second with ``connections`` clients sending back to back."""
    pool = Pool(port, connections)
    end = time.monotonic() + seconds
    ok = shed = 0
    it = iter(raws)

    async def client() -> None:
        nonlocal ok, shed
        while time.monotonic() < end:
            status, _ = await pool.request(next(it), 10.0)
            ok += status in OK
            shed += status == 503

    await asyncio.gather(*[client() for _ in range(connections)])
    return ok / seconds, shed


async def open_loop(
    port: int, raws: list[bytes], phases: list[tuple[float, float]]
) -> list[tuple[float, int, float, bool]]:
    """Send at a fixed ``rate`` per phase ``(seconds, rate)``: the start (``time.monotonic``), and
    (scheduled, status, latency, Retry-After) of each request, scheduled times counted from the start."""
    pool = Pool(port, 2000)
    loop = asyncio.get_running_loop()
    out: list[tuple[float, int, float, bool]] = []
    tasks: set[asyncio.Task[None]] = set()
    it = iter(raws)
    start = loop.time() + 0.1
    start_mono = time.monotonic() + 0.1

    async def one(at: float, raw: bytes) -> None:
        status, retry_after = await pool.request(raw, 10.0)
        out.append((at - start, status, loop.time() - at, retry_after))

    phase_start = start
    for seconds, rate in phases:
        n = int(seconds * rate)
        for i in range(n):
            at = phase_start + i / rate
            delay = at - loop.time()
            if delay > 0.001:
                await asyncio.sleep(delay)
            task = loop.create_task(one(at, next(it)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        phase_start += seconds
    await asyncio.sleep(max(phase_start - loop.time(), 0))
    if tasks:
        await asyncio.wait(tasks, timeout=15)
    return start_mono, out


def _client(kind: str, port: int, raws: list[bytes], arg: Any, queue: Any) -> None:
    import uvloop

    if kind == "closed":
        queue.put(uvloop.run(closed_loop(port, raws, *arg)))
    else:
        queue.put(uvloop.run(open_loop(port, raws, arg)))


def in_process(kind: str, port: int, raws: list[bytes], arg: Any, server: int) -> tuple[Any, list[tuple[float, float]]]:
    """Run a client in its own process; its result, and the server's CPU seconds sampled meanwhile."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_client, args=(kind, port, raws, arg, queue))
    proc.start()
    watched = psutil.Process(server)
    cpu: list[tuple[float, float]] = []
    deadline = time.monotonic() + 600
    while True:
        times = [p.cpu_times() for p in [watched, *watched.children(recursive=True)]]
        cpu.append((time.monotonic(), sum(t.user + t.system for t in times)))
        try:
            result = queue.get(timeout=0.25)
            break
        except Empty:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {kind} client did not finish") from None
    proc.join()
    return result, cpu


def cpu_share(cpu: list[tuple[float, float]], start: float, end: float) -> float:
    """The server's CPU use between two moments (1.0 = one core busy throughout)."""
    inside = [(t, c) for t, c in cpu if start <= t <= end]
    if len(inside) < 2:
        return float("nan")
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


# --- server, data, figures -------------------------------------------------------------------------


async def people(db_url: str, count: int) -> str:
    """``count`` new beneficiaries, straight into the database; the session to record their doses in."""
    from regserver.db import Database, beneficiaries
    from regserver.seed import session_id_for
    from vaxdrill.core.scenario import load_scenario

    db = Database(db_url, pool_size=1)
    rows = [
        {
            "beneficiary_reference_id": f"{6 * 10**13 + i}",
            "mobile": f"9{i:09d}",
            "name": f"B{i}",
            "birth_year": 1980,
            "gender_id": 1,
            "photo_id_type": 1,
            "photo_id_hash": f"overload{i}",
            "photo_id_last4": "0000",
            "comorbidity_ind": "N",
            "created_at": time.time(),
        }
        for i in range(count)
    ]
    async with db.write() as conn:
        for start in range(0, count, 5000):
            await conn.execute(beneficiaries.insert(), rows[start : start + 5000])
    await db.dispose()
    return session_id_for(load_scenario(SCENARIO), "DGH Alibag")


def rss_mb(pid: int) -> float:
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else float("nan")


def figures(
    samples: list[tuple[float, int, float, bool]], phases: list[tuple[float, float]], capacity: float
) -> dict[str, Any]:
    (n1, _), (n2, _), _ = phases
    normal = [lat for at, st, lat, _ in samples if at < n1 and st in OK]
    surge = [(st, lat, ra) for at, st, lat, ra in samples if n1 <= at < n1 + n2]
    admitted = [lat for st, lat, _ in surge if st not in (503, 0)]
    shed = [ra for st, _, ra in surge if st == 503]
    normal_p95 = p95(normal)
    bound = max(2 * normal_p95, normal_p95 + 0.02)
    windows: dict[int, list[tuple[int, float]]] = {}
    for at, st, lat, _ in samples:
        if at >= n1 + n2:
            windows.setdefault(int((at - n1 - n2) / 0.25), []).append((st, lat))
    # Back to normal: the start of the first second (four windows running) that is normal throughout,
    # so a later blip of the shared machine is not charged to the surge.
    normal_windows = [
        p95([lat for _, lat in windows.get(k, [])]) <= bound and all(st in OK for st, _ in windows.get(k, []))
        for k in range(max(windows, default=-1) + 1)
    ]
    recovered = next((k * 0.25 for k in range(len(normal_windows) - 3) if all(normal_windows[k : k + 4])), float("inf"))
    return {
        "capacity_rps": capacity,
        "normal_p50_ms": statistics.median(normal) * 1e3 if normal else float("nan"),
        "normal_p95_ms": normal_p95 * 1e3,
        "surge_offered_rps": len(surge) / n2,
        "surge_ok_rps": sum(st in OK for st, _, _ in surge) / n2,
        "surge_admitted_p95_ms": p95(admitted) * 1e3,
        "surge_shed": len(shed),
        "surge_shed_with_retry_after": sum(shed),
        "surge_failed": sum(st == 0 or (st >= 500 and st != 503) for st, _, _ in surge),
        "recovered_after_s": recovered,
    }


@contextlib.contextmanager
def serving(label: str, extra: list[str], args: argparse.Namespace, folder: Path) -> Iterator[tuple[Any, Any]]:
    """A fresh seeded server (SQLite, 1 worker) and a maker of the workload's requests for it."""
    db = f"sqlite:///{folder / f'{label}.db'}"
    serve = ["--db", db, "--reset", "--seed-data", str(SCENARIO), "--admin-token", "bench"]
    accounts = folder / f"{label}-staff.yaml"
    accounts.write_text(f"- {{center_id: 100001, staff_id: bench, credential: {STAFF_CREDENTIAL}}}\n")
    serve += ["--staff-accounts", str(accounts), *extra]
    if args.workload == "find":
        serve += ["--cache-seconds", "0"]  # every read goes to the database
    with ServerProcess(*serve, workers=1, log=folder / f"{label}.log") as server:
        if args.workload == "find":
            day = dt.date.today().strftime("%d-%m-%Y")

            def make() -> bytes:
                return _find_raw(day)
        else:
            session = asyncio.run(people(db, args.people))
            login = {"center_id": 100001, "staff_id": "bench", "secret": STAFF_CREDENTIAL}
            token = httpx.post(f"{server.url}/api/v2/staff/login", json=login).json()["token"]
            refs = iter(f"{6 * 10**13 + i}" for i in range(args.people))

            def make() -> bytes:
                return _raw(token, next(refs), session)

        yield server, make


def measure_capacity(args: argparse.Namespace, folder: Path) -> tuple[float, float]:
    """Successful answers per second of a server with shedding off, closed loop; and its CPU use (cores).

    Shedding off: with it on, a closed-loop client answered 503 at once asks again at once, and its
    storm of refusals would both lower the figure and flatter every ratio to it."""
    with serving("capacity", ["--latency-target", "0"], args, folder) as (server, make):
        raws = [make() for _ in range(int(args.capacity_seconds * 5000))]
        began = time.monotonic()
        (capacity, _), cpu = in_process(
            "closed", server.port, raws, (args.capacity_seconds, args.connections), server.proc.pid
        )
        return capacity, cpu_share(cpu, began + 1.0, time.monotonic())


def run(
    label: str, extra: list[str], args: argparse.Namespace, folder: Path, cap: tuple[float, float]
) -> dict[str, Any]:
    capacity, capacity_cpu = cap
    with serving(label, extra, args, folder) as (server, make):
        assert server.proc is not None
        rss_before = rss_mb(server.proc.pid)
        phases = [(s, capacity * f) for s, f in zip(args.seconds, (args.normal, args.surge, args.normal), strict=True)]
        total = int(sum(s * r for s, r in phases)) + 10
        raws = [make() for _ in range(total)]
        (start, samples), cpu = in_process("open", server.port, raws, phases, server.proc.pid)
        result = figures(samples, phases, capacity)
        result["server_cpu_capacity"] = capacity_cpu
        result["server_cpu_surge"] = cpu_share(cpu, start + phases[0][0], start + phases[0][0] + phases[1][0])
        result["rss_mb_before"], result["rss_mb_after"] = rss_before, rss_mb(server.proc.pid)
    print(f"\n{label}:")
    print(f"  normal ({args.normal:g}x): p50 {result['normal_p50_ms']:.1f} ms, p95 {result['normal_p95_ms']:.1f} ms")
    print(
        f"  surge ({args.surge:g}x, {result['surge_offered_rps']:.0f}/s offered): "
        f"{result['surge_ok_rps']:.0f}/s successful ({result['surge_ok_rps'] / capacity:.0%} of capacity), "
        f"admitted p95 {result['surge_admitted_p95_ms']:.0f} ms, {result['surge_shed']} shed with 503 "
        f"({result['surge_shed_with_retry_after']} with Retry-After), {result['surge_failed']} failed"
    )
    print(
        f"  back to normal {result['recovered_after_s']:.2f} s after the surge; "
        f"server memory {result['rss_mb_before']:.0f} -> {result['rss_mb_after']:.0f} MB"
    )
    efficiency = (result["surge_ok_rps"] / result["server_cpu_surge"]) / (capacity / result["server_cpu_capacity"])
    print(
        f"  server CPU: {result['server_cpu_capacity']:.2f} cores measuring capacity, "
        f"{result['server_cpu_surge']:.2f} in the surge (a shared machine gives it what it can); successful "
        f"answers per CPU second in the surge: {efficiency:.0%} of the capacity run's"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workload", choices=("find", "doses"), default="find",
        help="find: availability reads with the cache off (one SQLite query each); doses: online dose records.",
    )  # fmt: skip
    parser.add_argument("--seconds", default="5,10,8", help="Durations of normal, surge, normal (s).")
    parser.add_argument("--normal", type=float, default=0.7, help="Normal load, as a fraction of capacity.")
    parser.add_argument("--surge", type=float, default=3.0, help="Surge load, as a multiple of capacity.")
    parser.add_argument("--capacity-seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16, help="Closed-loop clients measuring capacity.")
    parser.add_argument("--people", type=int, default=150_000, help="Beneficiaries made (one per request).")
    parser.add_argument("--compare-fixed", action="store_true", help="Also run the old fixed in-flight rule.")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    args.seconds = [float(x) for x in args.seconds.split(",")]
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    results: dict[str, Any] = {"when": time.time(), "load_before": os.getloadavg(), "seconds": args.seconds}
    with tempfile.TemporaryDirectory(prefix="vaxdrill-overload-") as tmp:
        folder = Path(tmp)
        cap = measure_capacity(args, folder)
        print(f"capacity: {cap[0]:.0f} answers/s (closed loop, {args.connections} connections, shedding off)")
        results["capacity_rps"] = cap[0]
        results["adaptive"] = adaptive = run("adaptive (default)", [], args, folder, cap)
        if args.compare_fixed:
            results["fixed"] = run(
                "fixed (--latency-target 0, --max-in-flight 200)", ["--latency-target", "0"], args, folder, cap
            )
    results["load_after"] = os.getloadavg()
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in results['load_after'])}")
    share = adaptive["surge_ok_rps"] / adaptive["capacity_rps"]
    checks = [
        (
            f"admitted p95 in the surge <= 250 ms: {adaptive['surge_admitted_p95_ms']:.0f} ms",
            adaptive["surge_admitted_p95_ms"] <= 250,
        ),
        (
            f"successful throughput in the surge >= 85% of capacity: {share:.0%}",
            adaptive["surge_ok_rps"] >= 0.85 * adaptive["capacity_rps"],
        ),
        (
            f"back to normal <= 2 s after the surge: {adaptive['recovered_after_s']:.2f} s",
            adaptive["recovered_after_s"] <= 2.0,
        ),
        (
            f"every 503 has Retry-After: {adaptive['surge_shed_with_retry_after']} of {adaptive['surge_shed']}",
            adaptive["surge_shed_with_retry_after"] == adaptive["surge_shed"],
        ),
    ]
    for text, ok in checks:
        print(f"{'MET   ' if ok else 'MISSED'} {text}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

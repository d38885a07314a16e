"""Benchmark: what vaxdrill's machinery costs Locust, in requests per second.

Against the same trivial loopback HTTP server (asyncio, a fixed JSON answer), run in turn:

- **plain**: Locust ``FastHttpUser`` GETs, nothing else;
- **vaxdrill**: the same GETs through vaxdrill's machinery: ``locustfiles.api_call.call`` (named
  request, answer check, retry policy and budget), full-precision HdrHistogram recording of every
  request (per endpoint, per time window, the SLO watcher's recent view), the SLO watcher itself
  (``abort_after_breach``), a custom metric per request, the one-second CPU/gauge sampler.

Each variant runs ``ROUNDS`` times for ``SECONDS`` seconds, alternating, one Locust process each;
the figures are medians. Two figures per variant: requests per wall-clock second, and requests per
CPU-second of the Locust process (its CPU time between test start and stop). On a shared machine
the wall-clock figure follows whoever else is using the cores; requests per CPU-second is what a
load generator can deliver per core, and the target is judged on it: vaxdrill's overhead at most
15% of plain Locust's. Prints the figures and the ratio; exits 1 over target.

    .venv/bin/python benchmarks/bench_locust.py [--seconds 8] [--rounds 3] [--users 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_OVERHEAD = 0.15

BODY = b'{"sessions": []}'
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\nConnection: keep-alive\r\n\r\n"
    + BODY
)


class _Http(asyncio.Protocol):
    """Answers every request on a keep-alive connection with the same small JSON body."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            self.buffer = self.buffer[end + 4 :]  # GETs only: no request body
            self.transport.write(ANSWER)  # type: ignore[attr-defined]


def serve(port_file: str) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Http, "127.0.0.1", 0)
        Path(port_file).write_text(str(server.sockets[0].getsockname()[1]))
        await server.serve_forever()

    asyncio.run(main())


# Both locustfiles measure the same way: requests and this process's CPU time between test start
# and stop (the machine is shared, so requests per CPU-second is the robust figure).
MEASURE = """
import json, os, time
from locust import events

_m = {}

@events.test_start.add_listener
def _bench_start(**_):
    _m["cpu"], _m["wall"] = time.process_time(), time.time()

@events.test_stop.add_listener
def _bench_stop(environment, **_):
    with open(os.environ["BENCH_OUT"], "w") as fh:
        json.dump({"cpu": time.process_time() - _m["cpu"], "wall": time.time() - _m["wall"],
                   "requests": environment.stats.total.num_requests,
                   "failures": environment.stats.total.num_failures}, fh)
"""

PLAIN = (
    MEASURE
    + """
from locust import FastHttpUser, task

class Plain(FastHttpUser):
    @task
    def get(self):
        self.client.get("/api/v2/appointment/sessions/public/findByDistrict", name="findByDistrict")
"""
)

VAXDRILL = (
    MEASURE
    + """
import numpy as np
from locust import FastHttpUser, events, task

from locustfiles.api_call import call
from locustfiles.lifecycle import install  # the machinery: listeners, recorder, SLO watcher, sampler
from locustfiles.run_context import add_options, context
from vaxdrill.loadtest.retry import RetryBudget

events.init_command_line_parser.add_listener(add_options)
events.init.add_listener(lambda environment, **_: install(environment))

class ThroughVaxdrill(FastHttpUser):
    def on_start(self):
        self.ctx = context(self.environment)
        self.rng = np.random.default_rng(1)
        self.budget = RetryBudget(ratio=0.2)

    @task
    def get(self):
        call(self.client, "GET", "/appointment/sessions/public/findByDistrict", "findByDistrict",
             policy=self.ctx.load.retry, budget=self.budget, rng=self.rng)
        self.ctx.count("iterations")  # a custom metric per request
"""
)

SCENARIO = """
name: bench
load: {shape: constant, abort_after_breach: 1h}
slos:
  - {endpoint: findByDistrict, p95: 1s}
  - {endpoint: findByDistrict, p99: 2s}
  - {error_rate: 1%}
"""


def run_locust(locustfile: Path, host: str, users: int, seconds: int, env: dict[str, str]) -> tuple[float, float]:
    """One headless Locust run: (requests per wall second, requests per CPU second of Locust)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        cmd = [
            sys.executable, "-m", "locust", "-f", str(locustfile), "--host", host, "--headless",
            "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{seconds}s",
            "--only-summary", "--loglevel", "WARNING",
        ]  # fmt: skip
        subprocess.run(
            cmd, cwd=ROOT, env={**env, "BENCH_OUT": str(out)}, check=False, capture_output=True, timeout=seconds + 60
        )
        data = json.loads(out.read_text())
        if data["failures"]:
            raise SystemExit(f"{locustfile.name}: {data['failures']} failed requests; the benchmark is invalid")
        return data["requests"] / data["wall"], data["requests"] / data["cpu"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        port_file = work / "port"
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(port_file)])
        try:
            deadline = time.monotonic() + 10
            while not port_file.exists() or not port_file.read_text():
                if time.monotonic() > deadline:
                    raise SystemExit("the trivial server did not start")
                time.sleep(0.05)
            host = f"http://127.0.0.1:{port_file.read_text()}"
            (work / "plain.py").write_text(PLAIN)
            (work / "through_vaxdrill.py").write_text(VAXDRILL)
            (work / "bench.yaml").write_text(SCENARIO)
            env = {**os.environ, "VAXDRILL_SCENARIO": str(work / "bench.yaml"), "PYTHONPATH": str(ROOT)}
            plain, drill = [], []
            for k in range(args.rounds):
                plain.append(run_locust(work / "plain.py", host, args.users, args.seconds, env))
                drill.append(run_locust(work / "through_vaxdrill.py", host, args.users, args.seconds, env))
                print(
                    f"round {k + 1}: plain {plain[-1][0]:.0f} req/s ({plain[-1][1]:.0f} per CPU-s), "
                    f"vaxdrill {drill[-1][0]:.0f} req/s ({drill[-1][1]:.0f} per CPU-s)",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(timeout=10)
    p_wall, d_wall = statistics.median(r[0] for r in plain), statistics.median(r[0] for r in drill)
    p_cpu, d_cpu = statistics.median(r[1] for r in plain), statistics.median(r[1] for r in drill)
    overhead = 1.0 - d_cpu / p_cpu
    print(
        json.dumps(
            {
                "benchmark": "locust_overhead",
                "users": args.users,
                "seconds": args.seconds,
                "rounds": args.rounds,
                "plain_rps_median": round(p_wall, 1),
                "vaxdrill_rps_median": round(d_wall, 1),
                "wall_ratio": round(d_wall / p_wall, 3),
                "plain_rps_per_cpu_s_median": round(p_cpu, 1),
                "vaxdrill_rps_per_cpu_s_median": round(d_cpu, 1),
                "ratio": round(d_cpu / p_cpu, 3),
                "overhead": round(overhead, 3),
                "target_overhead": TARGET_OVERHEAD,
                "met": overhead <= TARGET_OVERHEAD,
            }
        )
    )
    if overhead > TARGET_OVERHEAD:
        sys.exit(1)


if __name__ == "__main__":
    main()

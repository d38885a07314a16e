"""What ``vaxdrill proxy`` costs and whether its toxics do what they say, in one run.

Upstream: a hello-world ASGI app on uvicorn (1 worker) on loopback. Load generator: ``wrk`` (one thread) if
installed, otherwise a small asyncio client in its own process; keep-alive connections, each sending
one small GET after another (the same generator and settings for both sides of each comparison).

    throughput   requests/s through the proxy (no toxic) vs direct, in interleaved pairs; the median
                 of the pairs' ratios (target: at least 70%)
    latency      p50 of sequential requests through a 100 ms latency toxic minus p50 without it
                 (target: 100 ms +/- 5 ms)
    bandwidth    rate of a 400 KB download through a 100 KB/s bandwidth toxic (target: +/- 10%)

    .venv/bin/python benchmarks/bench_proxy.py [--seconds 3] [--pairs 7] [--connections 16] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
VAXDRILL = Path(sys.executable).with_name("vaxdrill")
APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    size = int(scope["query_string"].decode().partition("=")[2] or 0) if scope["path"] == "/bytes" else 0
    body = b"x" * size if size else b'{"hello":"world"}'
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str) -> None:
    for _ in range(200):
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


@contextlib.contextmanager
def upstream(folder: Path) -> Iterator[int]:
    (folder / "hello_asgi.py").write_text(APP)
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "hello_asgi:app", "--app-dir", str(folder), "--port", str(port)]
    cmd += ["--host", "127.0.0.1", "--no-access-log", "--log-level", "warning", "--lifespan", "off"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        yield port
    finally:
        proc.send_signal(2)
        proc.wait(10)


@contextlib.contextmanager
def proxy_server() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([str(VAXDRILL), "proxy", "--port", str(port)], stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/version")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(2)
        proc.wait(10)


# --- the load generator ----------------------------------------------------------------------------


async def _get(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: bytes) -> int:
    """One keep-alive GET; returns the body's length."""
    writer.write(b"GET " + path + b" HTTP/1.1\r\nHost: bench\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
    await reader.readexactly(length)
    return length


def _generate(port: int, seconds: float, connections: int, queue: Any) -> None:
    async def main() -> int:
        done = 0
        end = time.monotonic() + seconds

        async def client() -> None:
            nonlocal done
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            while time.monotonic() < end:
                await _get(reader, writer, b"/")
                done += 1
            writer.close()

        await asyncio.gather(*(client() for _ in range(connections)))
        return done

    queue.put(asyncio.run(main()))


def throughput(port: int, seconds: float, connections: int) -> float:
    """Requests per second of small keep-alive GETs on ``connections`` connections (wrk if installed)."""
    if shutil.which("wrk"):
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", f"http://127.0.0.1:{port}/"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
        return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    context = mp.get_context("spawn")
    queue: Any = context.Queue()
    proc = context.Process(target=_generate, args=(port, seconds, connections, queue))
    proc.start()
    done = int(queue.get(timeout=seconds + 60))
    proc.join()
    return done / seconds


async def _timed_requests(port: int, count: int, path: bytes) -> list[float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await _get(reader, writer, path)
        times.append(time.perf_counter() - started)
    writer.close()
    return times


# --- the measures ----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    generator = "wrk" if shutil.which("wrk") else "asyncio client"
    with tempfile.TemporaryDirectory() as tmp, upstream(Path(tmp)) as up, proxy_server() as api:
        http = httpx.Client(base_url=api, timeout=10)
        made = http.post("/proxies", json={"name": "bench", "upstream": f"127.0.0.1:{up}", "listen": "127.0.0.1:0"})
        port = int(made.json()["listen"].rsplit(":", 1)[1])
        wait_http(f"http://127.0.0.1:{port}/")

        pairs = []
        for k in range(args.pairs):  # alternate which goes first, so a drift in load falls on both
            order = [("direct", up), ("proxy", port)] if k % 2 == 0 else [("proxy", port), ("direct", up)]
            pair = {name: throughput(p, args.seconds, args.connections) for name, p in order}
            pairs.append(pair)
            print(f"pair {k + 1}: direct {pair['direct']:.0f} req/s, proxy {pair['proxy']:.0f} req/s", flush=True)
        ratio = statistics.median(p["proxy"] / p["direct"] for p in pairs)

        plain = asyncio.run(_timed_requests(port, 60, b"/"))
        http.post("/proxies/bench/toxics", json={"type": "latency", "attributes": {"latency": 100}})
        delayed = asyncio.run(_timed_requests(port, 60, b"/"))
        added_ms = (statistics.median(delayed) - statistics.median(plain)) * 1000
        http.delete("/proxies/bench/toxics/latency_downstream")

        size = 400_000
        http.post("/proxies/bench/toxics", json={"type": "bandwidth", "attributes": {"rate": 100}})
        [elapsed] = asyncio.run(_timed_requests(port, 1, b"/bytes?n=%d" % size))
        rate_kbs = size / elapsed / 1000

    figures = {
        "direct_rps": statistics.median(p["direct"] for p in pairs),
        "proxy_rps": statistics.median(p["proxy"] for p in pairs),
        "throughput_ratio": ratio,
        "latency_added_p50_ms": added_ms,
        "bandwidth_kbs": rate_kbs,
        "pairs": pairs,
        "settings": {"seconds": args.seconds, "connections": args.connections, "generator": generator},
    }
    checks = {
        "throughput >= 70% of direct": ratio >= 0.70,
        "latency 100 ms +/- 5 ms": abs(added_ms - 100) <= 5,
        "bandwidth 100 KB/s +/- 10%": abs(rate_kbs - 100) <= 10,
    }
    print(
        f"throughput: direct {figures['direct_rps']:.0f} req/s, through the proxy {figures['proxy_rps']:.0f} req/s, "
        f"median ratio {ratio:.0%} ({generator}, {args.connections} connections)"
    )
    base_ms = statistics.median(plain) * 1000
    print(f"latency toxic 100 ms: adds {added_ms:.1f} ms at p50 (p50 without: {base_ms:.2f} ms)")
    print(f"bandwidth toxic 100 KB/s: {rate_kbs:.1f} KB/s over {size // 1000} KB")
    for name, ok in checks.items():
        print(f"  {'ok ' if ok else 'MISS'} {name}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()

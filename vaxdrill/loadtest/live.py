"""Run ``vaxdrill serve`` as its own process on a free loopback port (tests, benchmarks, load tests).

Only 127.0.0.1: drills and tests never send traffic anywhere else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx

from vaxdrill.core.errors import RunError

VAXDRILL = Path(sys.executable).with_name("vaxdrill")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def live_server(*args: str, workers: int = 1, timeout: float = 30.0, cwd: Path | None = None) -> Iterator[str]:
    """Start the server with ``args``; yield its base URL; stop it (SIGINT, then SIGKILL) afterwards."""
    port = free_port()
    cmd = [str(VAXDRILL), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), *args]
    # The log goes to a file, not a pipe: a pipe nobody reads would block a chatty server.
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, text=True)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(proc, log, base, timeout)
            if workers > 1:
                time.sleep(0.5)  # let every worker finish start-up, not just the first
            yield base
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _wait_ready(proc: subprocess.Popen[str], log: IO[str], base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            log.seek(0)
            detail = log.read()[-2000:]
            raise RunError(f"the server exited with code {proc.returncode}: {detail.strip()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RunError(f"the server did not become ready within {timeout:g} s")
        time.sleep(0.1)

"""Processes a load test starts: Locust (master, workers), loopback only; the server is in server_process.

Locust monkey-patches the standard library with gevent, so it always runs as its own process
(``python -m locust``); this module only starts and watches processes and never imports it.

Errors (:mod:`vaxdrill.core.errors`): :class:`~vaxdrill.core.errors.LoopbackError` (exit 2) for a
``--host`` that is not a loopback address; :class:`~vaxdrill.core.errors.ProcessFailed` (exit 3) when
the server or Locust fails to start or finish.
"""

from __future__ import annotations

import ipaddress
import math
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from vaxdrill.core.errors import LoopbackError, ProcessFailed
from vaxdrill.core.secrets import DRILL_SECRETS

ROOT = Path(__file__).resolve().parent.parent.parent
LOCUSTFILE = ROOT / "locustfiles" / "launch_day.py"


def require_loopback(url: str) -> str:
    """Return ``url`` without a trailing slash if its host is a loopback address, else raise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoopbackError(f"--host {url!r}: expected a URL such as http://127.0.0.1:8000")
    host = parts.hostname
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise LoopbackError(
            f"--host {url!r}: {host} is not a loopback address; vaxdrill sends load only to this machine "
            "(127.0.0.1, ::1 or localhost)"
        )
    return url.rstrip("/")


def free_port() -> int:
    """A port the OS says is free on 127.0.0.1 (others run servers on this machine too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class LocustRun:
    """Locust headless: one standalone process, or a master and ``workers`` worker processes."""

    host: str
    scenario: Path
    folder: Path
    workers: int = 0
    mode: str = "loadtest"
    duration: float | None = None
    closed_users: tuple[int, float] | None = None  # -u/-r for the `constant` shape
    time_limit: float = 600.0
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Locust runs in the run's folder: every path it is given must not depend on where we started.
        self.scenario = self.scenario.resolve()
        self.folder = self.folder.resolve()

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            VAXDRILL_SCENARIO=str(self.scenario.resolve()),
            VAXDRILL_OUT=str(self.folder.resolve()),
            VAXDRILL_MODE=self.mode,
            VAXDRILL_RUN=self.folder.name[-24:],
            PYTHONUNBUFFERED="1",
        )
        env.update(DRILL_SECRETS.environ())
        if self.duration is not None:
            env["VAXDRILL_DURATION"] = f"{self.duration:g}"
        return env

    def start(self) -> LocustRun:
        base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", self.host]
        main = [
            *base, "--headless", "--only-summary",
            "--csv", str(self.folder / "locust"), "--csv-full-history",
            "--html", str(self.folder / "locust-report.html"),
            # A shape ends the run itself; --run-time is then only a safety net. Without a shape
            # (the `constant` shape: -u/-r), it is the run's length.
            "--run-time", f"{math.ceil(self.duration or 0) if self.closed_users else int(self.time_limit)}s",
            "--stop-timeout", "15",
        ]  # fmt: skip
        if self.closed_users is not None:
            main += ["--users", str(self.closed_users[0]), "--spawn-rate", f"{self.closed_users[1]:g}"]
        env = self.env()
        if self.workers > 0:
            port = free_port()
            main += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                     "--expect-workers", str(self.workers), "--expect-workers-max-wait", "30"]  # fmt: skip
            self.procs.append(self._spawn(main, env, "locust-master.log"))
            for k in range(self.workers):
                cmd = [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
                self.procs.append(self._spawn(cmd, env, f"locust-worker-{k}.log"))
        else:
            self.procs.append(self._spawn(main, env, "locust.log"))
        return self

    def _spawn(self, cmd: list[str], env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
        with (self.folder / log).open("wb") as out:
            return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=self.folder, env=env)

    @property
    def main(self) -> subprocess.Popen[bytes]:
        return self.procs[0]

    def poll(self) -> int | None:
        return self.main.poll()

    def wait(self, timeout: float) -> int:
        try:
            code = self.main.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise ProcessFailed(f"Locust did not finish within {timeout:g}s; stopped it") from None
        for worker in self.procs[1:]:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
        return code

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log_tail(self) -> str:
        name = "locust-master.log" if self.workers else "locust.log"
        return _tail(self.folder / name)

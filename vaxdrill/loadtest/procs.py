"""Processes a load test starts: Locust (master, workers); the server is in server_process.

Locust monkey-patches the standard library with gevent, so it always runs as its own process
(``python -m locust``); this module only starts and watches processes and never imports it.

Three ways to run Locust: standalone; a master with ``workers`` worker processes on this machine;
or a master alone (``master``) that waits for workers started elsewhere with :func:`worker_argv`
(``vaxdrill worker``). Which hosts may be loaded is :mod:`vaxdrill.loadtest.target`'s business.

Errors (:mod:`vaxdrill.core.errors`): :class:`~vaxdrill.core.errors.ProcessFailed` (exit 3) when the
server or Locust fails to start or finish; a malformed ``HOST:PORT`` is a user error (exit 2), and so
is (:class:`~vaxdrill.core.errors.LoopbackError`) a control address off this machine.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from vaxdrill.core.errors import LoopbackError, ProcessFailed, VaxdrillError
from vaxdrill.core.secrets import DRILL_SECRETS, DrillSecrets
from vaxdrill.loadtest.target import is_local

ROOT = Path(__file__).resolve().parent.parent.parent
LOCUSTFILE = ROOT / "locustfiles" / "launch_day.py"  # the built-in pack: the Co-WIN journeys
RUNNER = ROOT / "locustfiles" / "vaxdrill_runner.py"  # vaxdrill's machinery for a plain locustfile
MASTER_PORT = 5557  # Locust's default master port


def locustfile_arg(locustfile: Path | None) -> str:
    """Locust's ``-f``: the built-in pack, or vaxdrill's runner file and the user's plain locustfile."""
    if locustfile is None:
        return str(LOCUSTFILE)
    return f"{RUNNER},{locustfile.resolve()}"


def require_loopback(url: str, option: str = "--host") -> str:
    """Return ``url`` without a trailing slash if its host is on this machine, else raise :class:`LoopbackError`.

    For addresses that stay local whatever the opt-ins (a control API); the target of a load test is
    checked by :func:`vaxdrill.loadtest.target.check_target` instead.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoopbackError(f"{option} {url!r}: expected a URL such as http://127.0.0.1:8000")
    if not is_local(parts.hostname):
        raise LoopbackError(
            f"{option} {url!r}: {parts.hostname} is not a loopback address (127.0.0.0/8, ::1 or localhost)"
        )
    return url.rstrip("/")


def parse_address(text: str, option: str, default_port: int = MASTER_PORT) -> tuple[str, int]:
    """``HOST:PORT`` (or ``HOST``, or ``[v6]:PORT``) of a Locust master, else a one-line error."""
    parts = urlsplit(f"//{text.strip()}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or (port is not None and port <= 0) or parts.path:
        raise VaxdrillError(f"{option} {text!r}: expected HOST:PORT such as 127.0.0.1:{MASTER_PORT}")
    return host, port if port is not None else default_port


def free_port(address: str = "127.0.0.1") -> int:
    """A port the OS says is free on ``address`` (others run servers on this machine too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
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
    locustfile: Path | None = None  # a plain locustfile; None: the built-in pack
    faults: bool = False  # inject the scenario's fault plan (--faults)
    time_limit: float = 600.0
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. the proxy of network faults
    master: tuple[str, int] | None = None  # a master alone, bound here, for workers started elsewhere
    expect_workers: int = 1  # with `master`: the workers it waits for
    workers_wait: float = 120.0  # with `master`: how long it waits for them (seconds)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    secrets: DrillSecrets = DRILL_SECRETS  # what the users log in with (a run's own server: random ones)

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
        env.update(self.secrets.environ())
        env.update(self.extra_env)
        if self.duration is not None:
            env["VAXDRILL_DURATION"] = f"{self.duration:g}"
        if self.faults:
            env["VAXDRILL_FAULTS"] = "true"
        return env

    def start(self) -> LocustRun:
        base = [sys.executable, "-m", "locust", "-f", locustfile_arg(self.locustfile), "--host", self.host]
        main = [
            *base, "--headless", "--only-summary",
            "--csv", str(self.folder / "locust"), "--csv-full-history",
            "--html", str(self.folder / "locust-report.html"),
            "--stop-timeout", "15",
        ]  # fmt: skip
        # A shape ends the run itself (given -u/-t, Locust would use them instead of the shape; the
        # command's own time limit is the safety net). The `constant` shape is -u/-r/-t.
        if self.closed_users is not None:
            main += ["--users", str(self.closed_users[0]), "--spawn-rate", f"{self.closed_users[1]:g}",
                     "--run-time", f"{math.ceil(self.duration or 0)}s"]  # fmt: skip
        env = self.env()
        if self.master is not None:
            host, port = self.master
            main += ["--master", "--master-bind-host", host, "--master-bind-port", str(port),
                     "--expect-workers", str(self.expect_workers),
                     "--expect-workers-max-wait", f"{self.workers_wait:g}"]  # fmt: skip
            self.procs.append(self._spawn(main, env, "locust-master.log"))
        elif self.workers > 0:
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
        if (self.folder / "could-not-run.txt").exists():
            for worker in self.procs[1:]:  # the master stopped before the load: its workers wait in vain
                worker.kill()
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
        name = "locust-master.log" if self.workers or self.master else "locust.log"
        return _tail(self.folder / name)


def worker_argv(master: tuple[str, int], locustfile: Path | None = None) -> list[str]:
    """The command of a Locust worker joining ``master``: it takes the host, the scenario and its
    share of the users from the master (see README, "Test your own system"). ``locustfile``: a plain
    one, run with vaxdrill's machinery; ``None``: the built-in pack."""
    host, port = master
    return [sys.executable, "-m", "locust", "-f", locustfile_arg(locustfile), "--worker",
            "--master-host", host, "--master-port", str(port)]  # fmt: skip

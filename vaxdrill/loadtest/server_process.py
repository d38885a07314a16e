"""The reference server (``vaxdrill serve``) as a child process on a free loopback port.

One launcher for load tests, the test suite and the benchmarks. Only 127.0.0.0/8 (127.0.0.1 unless
``address`` says another, e.g. 127.0.0.2 to test a target other than the usual one): drills and tests
never send traffic anywhere else.

Errors: :class:`~vaxdrill.core.errors.ProcessFailed` (exit 3) when the server exits early or is
not ready in time; the message ends with the tail of its log.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import httpx

from vaxdrill.core.errors import ProcessFailed
from vaxdrill.core.secrets import DRILL_SECRETS, DrillSecrets
from vaxdrill.loadtest.procs import free_port

# Each uvicorn worker logs this once its lifespan (database, fault plan) is up.
WORKER_READY = b"Application startup complete"


class ServerProcess:
    """``vaxdrill serve *serve_args`` in its own process group; a context manager.

    ``log`` is where the server's output goes (a temporary file if None): a file, not a pipe, since a
    pipe nobody reads would block a chatty server. Entering starts the server and returns once every
    worker answers; leaving stops it (SIGINT, then SIGKILL after ``stop_timeout``)::

        with ServerProcess("--db", "sqlite:///drill.db", workers=2) as server:
            httpx.get(f"{server.url}/ready")
    """

    def __init__(
        self,
        *serve_args: str,
        workers: int = 1,
        log: Path | None = None,
        port: int = 0,
        ready_timeout: float = 30.0,
        stop_timeout: float = 10.0,
        address: str = "127.0.0.1",
        secrets: DrillSecrets | None = None,
    ) -> None:
        if any(arg == "--host" or arg.startswith("--host=") for arg in serve_args):
            raise ValueError("ServerProcess listens on 127.0.0.1 or its `address` (127.0.0.0/8); do not pass --host")
        if ipaddress.ip_address(address) not in ipaddress.ip_network("127.0.0.0/8"):
            raise ValueError(f"ServerProcess listens only on 127.0.0.0/8, not {address}")
        self.address = address
        # Handed over in the environment, never as arguments: a command line shows in `ps`.
        self.secrets = secrets
        self.serve_args = serve_args
        self.workers = workers
        self.log = log
        self.port = port
        self.ready_timeout = ready_timeout
        self.stop_timeout = stop_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None

    @classmethod
    def for_run(
        cls,
        scenario: Path,
        folder: Path,
        extra_args: Sequence[str] = (),
        address: str = "127.0.0.1",
        secrets: DrillSecrets | None = None,
    ) -> ServerProcess:
        """The server a load test starts: seeded from ``scenario``, database and log in ``folder``,
        the run's ``secrets`` (drill OTP, drill staff key, admin token: ``vaxdrill loadtest`` gives
        random ones and hands them to the Locust users; by default the documented public ones, which a
        plain ``locust -f`` or ``loadtest --host`` knows), and drill mode (no login limits per address:
        every simulated citizen comes from 127.0.0.1)."""
        return cls(
            "--db", f"sqlite:///{(folder / 'server.sqlite3').resolve()}",
            "--seed-data", str(scenario.resolve()),
            "--drill",
            *extra_args,
            log=folder / "server.log",
            address=address,
            secrets=secrets or DRILL_SECRETS,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def start(self) -> ServerProcess:
        """Start the server and wait until every worker is ready; raise ProcessFailed if it is not."""
        self.port = self.port or free_port(self.address)
        # -P: the current folder is not put on sys.path, so a folder named like a package cannot shadow the install.
        cmd = [
            sys.executable, "-P", "-m", "vaxdrill", "serve",
            "--host", self.address, "--port", str(self.port), "--workers", str(self.workers),
            *self.serve_args,
        ]  # fmt: skip
        # Held open while the server runs (closed by stop), so the log can be read back at any time.
        self._out = self.log.open("w+b") if self.log is not None else tempfile.TemporaryFile()  # noqa: SIM115
        # Its own session, so stopping reaches every worker and nothing outlives the launcher.
        env = {**os.environ, **(self.secrets.environ() if self.secrets is not None else {})}
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if self.proc.poll() is not None:
                raise ProcessFailed(f"the reference server exited with code {self.proc.returncode}:\n{self.log_tail()}")
            if self._answers() and self._output().count(WORKER_READY) >= self.workers:
                return
            if time.monotonic() > deadline:
                raise ProcessFailed(
                    f"the reference server was not ready within {self.ready_timeout:g} s:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def _answers(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(f"{self.url}/ready", timeout=1.0).status_code == 200
        return False

    def _output(self) -> bytes:
        """Everything the server has written so far (read without moving the shared file offset)."""
        if self._out is None:
            return b""
        fd = self._out.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0)

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self._output().decode(errors="replace").strip().splitlines()[-lines:])

    def stop(self) -> None:
        """SIGINT to the server's process group; SIGKILL if it has not ended after ``stop_timeout``."""
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._out is not None:
            self._out.close()
            self._out = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

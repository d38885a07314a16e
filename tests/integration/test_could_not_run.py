"""A database that cannot be reached is "could not run" (exit 3, one line), not the user's mistake."""

from __future__ import annotations

import socket
import subprocess
import sys

from tests.conftest import ROOT
from vaxdrill.core.errors import ExitCode


def _serve(db: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "vaxdrill", "serve", "--db", db, "--port", "0"]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_an_unreachable_database_exits_3_with_one_line() -> None:
    # A socket bound but not listening: a connection to its port is refused at once.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        run = _serve(f"postgresql://postgres@127.0.0.1:{port}/vaxdrill")
    assert run.returncode == ExitCode.COULD_NOT_RUN == 3, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the database" in lines[0], run.stderr
    assert "Traceback" not in run.stderr


def test_a_bad_database_url_is_the_users_mistake() -> None:
    run = _serve("sqlite:///:memory:")
    assert run.returncode == ExitCode.USER_ERROR == 2, run.stderr
    assert run.stderr.strip().splitlines() == [
        "error --db: an in-memory SQLite database cannot be shared by workers; give a file"
    ]

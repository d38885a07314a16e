"""ServerProcess: the reference server as a child process (ready when every worker is, stopped after)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from vaxdrill.loadtest.procs import ProcessFailed
from vaxdrill.loadtest.server_process import ServerProcess


def test_serves_on_loopback_until_the_block_ends(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    with ServerProcess("--db", f"sqlite:///{tmp_path / 's.db'}", workers=2, log=log) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{server.url}/ready", timeout=5).status_code == 200
        assert server.proc is not None
    assert server.proc.returncode is not None  # stopped, workers included
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/ready", timeout=2)
    assert log.read_text().count("Application startup complete") == 2


def test_a_server_that_exits_early_is_reported_with_its_log(tmp_path: Path) -> None:
    bad = tmp_path / "faults.yaml"
    bad.write_text("- {kind: outage, duration: 30}\n", encoding="utf-8")
    with pytest.raises(ProcessFailed) as caught:
        ServerProcess("--db", f"sqlite:///{tmp_path / 's.db'}", "--faults", str(bad)).start()
    assert "exited with code 2" in str(caught.value) and "[0].duration" in str(caught.value)
    assert caught.value.exit_code == 3


def test_host_is_always_loopback() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        ServerProcess("--host", "0.0.0.0")
    with pytest.raises(ValueError, match=r"127\.0\.0\.0/8"):
        ServerProcess(address="192.0.2.1")
    assert ServerProcess(address="127.0.0.2").url.startswith("http://127.0.0.2:")


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the process's memory map (Linux)")
@pytest.mark.parametrize(("extra", "fast"), [((), True), (("--loop", "asyncio", "--http", "h11"), False)])
def test_runs_on_uvloop_and_httptools_unless_told_otherwise(tmp_path: Path, extra: tuple[str, ...], fast: bool) -> None:
    with ServerProcess("--db", f"sqlite:///{tmp_path / 's.db'}", *extra) as server:
        assert server.proc is not None  # one worker: the server process itself
        maps = Path(f"/proc/{server.proc.pid}/maps").read_text()
        # The compiled modules themselves (the database path holds this test's name, and is mapped too).
        assert ("/uvloop/loop." in maps, "/httptools/parser/" in maps) == (fast, fast)

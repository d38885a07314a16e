"""`vaxdrill worker` and `loadtest --master` as a user mistypes them: one line, exit 2, nothing started."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT, SCENARIOS


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaxdrill", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_a_worker_needs_a_master_address_and_an_existing_locustfile() -> None:
    bad = run_cli("worker", "master:port")
    assert bad.returncode == 2 and "expected HOST:PORT" in bad.stderr and "Traceback" not in bad.stderr
    missing = run_cli("worker", "127.0.0.1:5557", "-f", "no-such-locustfile.py")
    assert missing.returncode == 2 and "no such locustfile" in missing.stderr


def test_master_options_go_with_master() -> None:
    scenario = str(SCENARIOS / "raigad-2021-01-16.yaml")
    both = run_cli("loadtest", scenario, "--master", "--workers", "2")
    assert both.returncode == 2 and "choose one" in both.stderr
    stray = run_cli("loadtest", scenario, "--bind", "0.0.0.0:5557")
    assert stray.returncode == 2 and "go with --master" in stray.stderr
    bind = run_cli("loadtest", scenario, "--master", "--bind", "0.0.0.0:port")
    assert bind.returncode == 2 and "--bind" in bind.stderr and "expected HOST:PORT" in bind.stderr

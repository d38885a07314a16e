"""Network faults in a load test: the load goes through a Toxiproxy-compatible proxy, the plan's toxics
are applied on time, and the vaccinators' offline path keeps every dose exactly once (issue 11).

Each test runs ``vaxdrill loadtest`` as a user would, against the reference server it starts.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT
from tests.integration.proxy_support import ProxyProcess
from vaxdrill.loadtest.integrity import LedgerEntry, check

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

SITES = """
sites:
  - {name: Site A, district: Raigad, state: Maharashtra, pincode: "402201", booked: 150}
  - {name: Site B, district: Raigad, state: Maharashtra, pincode: "402107", booked: 150}
"""


def vaxdrill(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaxdrill", *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


def scenario(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nseed: 11\n{SITES}\n{body}", encoding="utf-8")
    return path


def read(folder: Path, name: str) -> Any:
    return json.loads((folder / name).read_text())


def test_reset_and_timeout_faults_lose_and_duplicate_no_dose(tmp_path: Path) -> None:
    path = scenario(
        tmp_path,
        "tcp-faults",
        """
load:
  shape: constant
  duration: 20s
  users: 6
  spawn_rate: 6
  request_timeout: 2s
  mix: {citizen: 0, vaccinator: 1, slot_watcher: 0}
  think_time: {vaccinator: "uniform(200ms, 500ms)"}
  journey: {paper_pace: "uniform(300ms, 600ms)"}
  retry: {max_attempts: 2, base: 100ms, cap: 500ms}
faults:
  # Answers cut by a reset after the server acted; then a link that holds everything until lifted.
  - {kind: network, toxic: reset_peer, attributes: {timeout: 0}, at: 4s, duration: 4s}
  - {kind: network, toxic: timeout, attributes: {timeout: 0}, at: 11s, duration: 4s}
""",
    )
    out = tmp_path / "run"
    result = vaxdrill("loadtest", str(path), "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "load goes through http://127.0.0.1:" in result.stdout and (out / "proxy.log").exists()
    summary, raw = read(out, "summary.json"), read(out, "drill-raw.json")
    reset, hang = summary["faults"]
    for fault, toxic in ((reset, "reset_peer"), (hang, "timeout")):
        assert fault["kind"] == "network" and fault["toxic"] == toxic and fault["applied"], fault
        assert fault["during"]["failures"] > 0, fault  # the toxic really took hold of the load
        assert fault["time_to_recover_s"] is not None, fault
        assert 3.5 < fault["duration_s"] < 6, fault  # from the toxic's addition to its removal
    assert reset["before"]["error_rate"] == 0.0
    assert "fault network reset_peer" in result.stdout and f"at {reset['applied_at_s']:.1f} s" in result.stdout

    integrity = summary["integrity"]
    assert integrity["passed"], integrity
    assert integrity["lost"] == integrity["duplicated"] == integrity["unsynced_at_end"] == 0
    assert integrity["paper"] > 0 and integrity["online"] > 0  # the faults sent the staff to paper
    assert integrity["server_vaccinations"] == integrity["doses_recorded"]
    # Some paper records had reached the server already (their answer was cut): sync said "duplicate".
    statuses = Counter(e.get("sync_status") for e in raw["ledger"] if e["via"] == "paper")
    assert statuses["duplicate"] > 0, statuses

    # The check that passed can fail: the server's own records with one dose taken away.
    with sqlite3.connect(out / "server.sqlite3") as db:
        rows = db.execute("SELECT beneficiary_reference_id, dose FROM vaccinations").fetchall()
    held = [{"beneficiary_reference_id": ref, "dose": dose} for ref, dose in rows]
    ledger = [LedgerEntry.from_json(e) for e in raw["ledger"]]
    assert check(ledger, held, [])["passed"]
    short = check(ledger, held[1:], [])
    assert not short["passed"] and short["lost"] == 1
    assert short["examples"]["lost"] == [f"{held[0]['beneficiary_reference_id']}/dose{held[0]['dose']}"]


def test_a_running_toxiproxy_carries_the_faults_and_is_left_clean(tmp_path: Path) -> None:
    path = scenario(
        tmp_path,
        "proxy-down",
        """
load:
  shape: constant
  duration: 9s
  users: 4
  spawn_rate: 4
  request_timeout: 2s
  mix: {citizen: 0, vaccinator: 0, slot_watcher: 1}
  journey: {watcher_poll: "uniform(100ms, 200ms)"}
  retry: {max_attempts: 1}
faults:
  - {kind: network, toxic: down, at: 3s, duration: 3s}
""",
    )
    proxy = ProxyProcess()
    try:
        out = tmp_path / "run"
        result = vaxdrill("loadtest", str(path), "--toxiproxy", proxy.url, "--out", str(out))
        assert result.returncode == 0, result.stdout + result.stderr
        assert not (out / "proxy.log").exists()  # none started: the running one was used
        [down] = read(out, "summary.json")["faults"]
        assert down["toxic"] == "down" and down["applied"] and down["stream"] is None
        assert down["during"]["failures"] > 0 and down["before"]["error_rate"] == 0.0, down
        assert down["after"]["requests"] > 0 and down["time_to_recover_s"] is not None, down
        assert httpx.get(f"{proxy.url}/proxies", timeout=5).json() == {}  # the run's proxy was deleted
    finally:
        proxy.stop()


def test_toxiproxy_off_this_machine_is_refused(tmp_path: Path) -> None:
    path = scenario(tmp_path, "far", "faults:\n  - {kind: network, toxic: timeout, at: 1s, duration: 1s}\n")
    result = vaxdrill("loadtest", str(path), "--toxiproxy", "http://192.0.2.10:8474", timeout=60)
    assert result.returncode == 2
    assert "--toxiproxy 'http://192.0.2.10:8474'" in result.stdout + result.stderr

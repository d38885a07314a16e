"""A drill survives a server crash: the server is killed (SIGKILL) while a dose is being recorded and
restarted on the same database; no dose given is lost, none is stored twice.

A slow_db fault holds each recording in the server for a moment after its Idempotency-Key is claimed,
so the kill leaves a claimed key whose request died: the vaccinator's retry meets 409
IDEMPOTENCY_IN_FLIGHT and must wait out the lease (Retry-After) or put the dose on paper.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.integration.test_loadtest_runs import SITES, summary_of
from tests.polling import wait_until
from vaxdrill.core.secrets import DRILL_SECRETS
from vaxdrill.loadtest.server_process import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]
LEASE = "12"  # seconds; longer than a restart takes on a busy machine


def _running_claims(db: Path) -> list[str]:
    with sqlite3.connect(db, timeout=5) as conn:
        return [row[0] for row in conn.execute("SELECT scope_key FROM idempotency WHERE state = 'running'")]


def test_a_server_killed_mid_record_and_restarted_loses_no_dose(tmp_path: Path) -> None:
    scenario = tmp_path / "crash.yaml"
    scenario.write_text(
        f"""name: crash
seed: 11
{SITES}
load:
  shape: constant
  duration: 30s
  users: 4
  spawn_rate: 4
  mix: {{citizen: 0, vaccinator: 1, slot_watcher: 0}}
  think_time: {{vaccinator: "uniform(100ms, 300ms)"}}
  journey: {{paper_pace: "uniform(200ms, 400ms)"}}
  retry: {{max_attempts: 12, base: 300ms, cap: 1s, budget: 1.0}}
""",
        encoding="utf-8",
    )
    faults = tmp_path / "faults.yaml"
    faults.write_text(
        '- {kind: slow_db, at: 0s, duration: 1h, latency: 400ms, routes: ["/api/v2/staff/vaccinations"]}\n'
    )
    db = tmp_path / "server.sqlite3"
    first = ServerProcess.for_run(
        scenario, tmp_path, [f"--faults={faults}", f"--idempotency-lease={LEASE}"], secrets=DRILL_SECRETS
    )
    first.start()
    port = first.port
    out = tmp_path / "drill"
    drill = subprocess.Popen(
        [sys.executable, "-m", "vaxdrill", "loadtest", str(scenario), "--host", first.url, "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    second: ServerProcess | None = None
    try:
        # Kill the server while a recording holds its claimed key (state "running").
        wait_until(lambda: bool(_running_claims(db)), timeout=40, what="a dose being recorded")
        assert first.proc is not None
        os.killpg(first.proc.pid, signal.SIGKILL)
        first.stop()
        dead = _running_claims(db)
        assert dead, "the kill left no claimed key; nothing was in flight"
        second = ServerProcess(
            "--db", f"sqlite:///{db}", f"--idempotency-lease={LEASE}",
            port=port, log=tmp_path / "server-after-crash.log", secrets=DRILL_SECRETS,
        )  # fmt: skip
        second.start()
        output, _ = drill.communicate(timeout=120)
    finally:
        if drill.poll() is None:
            drill.kill()
            drill.wait()
        if second is not None:
            second.stop()
    assert drill.returncode == 0, output
    # Piped, as in CI: a progress line every 10 s with requests/s, error share and p95.
    assert re.search(r"^progress 10 s of 30 s: [\d.]+ req/s, errors [\d.]+%, p95 ", output, re.M), output
    assert re.search(r"^progress 20 s of 30 s: ", output, re.M), output
    summary = summary_of(out)
    integrity = summary["integrity"]
    assert integrity["passed"], integrity
    assert integrity["lost"] == integrity["duplicated"] == integrity["unsynced_at_end"] == 0
    assert integrity["server_vaccinations"] == integrity["doses_recorded"] > 0
    # The dose whose request died was asked about again with its key and told to wait (Retry-After).
    assert summary["vaccinators"]["in_flight_waits"] >= 1, summary["vaccinators"]
    # Each key whose request died in the crash ended as a stored dose: recorded online once the lease
    # passed (a retry with the same key) or from paper (the key sent as client_record_id).
    with sqlite3.connect(db) as conn:
        stored = {
            key
            for row in conn.execute("SELECT idempotency_key, client_record_id FROM vaccinations")
            for key in row
            if key
        }
        done = {row[0] for row in conn.execute("SELECT scope_key FROM idempotency WHERE state = 'done'")}
    for scope in dead:
        assert scope in done or scope.rsplit(":", 1)[-1] in stored, f"{scope}: a dose given and never recorded"

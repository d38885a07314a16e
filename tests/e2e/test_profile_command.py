"""`vaxdrill profile` as a command, and a server profile of a real short load test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT
from tests.unit.test_bridges_profile import capacity_folder
from vaxdrill.bridges.server_profile import ProfileError, build_profile
from vaxdrill.cli.app import _register_commands, app
from vaxdrill.core.results import write_json


def test_profile_command_writes_and_errors(tmp_path: Path) -> None:
    _register_commands()
    runner = CliRunner()
    folder = capacity_folder(tmp_path)
    res = runner.invoke(app, ["profile", str(folder)])
    assert res.exit_code == 0, res.output
    assert json.loads((folder / "server_profile.json").read_text())["kind"] == "capacity"
    assert "knee: 25.00/s" in res.output
    other = tmp_path / "out.json"
    assert runner.invoke(app, ["profile", str(folder), "--output", str(other)]).exit_code == 0
    assert other.exists()
    sim = tmp_path / "sim"
    sim.mkdir()
    write_json(sim / "summary.json", {"schema": "vaxdrill.simulation/1"})
    res = runner.invoke(app, ["profile", str(sim)])
    assert isinstance(res.exception, ProfileError) and "neither a load test nor a capacity run" in str(res.exception)
    lt = tmp_path / "lt"
    lt.mkdir()
    write_json(lt / "summary.json", {"schema": "vaxdrill.loadtest/1"})
    res = runner.invoke(app, ["profile", str(lt)])
    assert isinstance(res.exception, ProfileError) and "without drill-raw.json" in str(res.exception)
    # Through the real entry point: exit code 2 and one line, no traceback.
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run([sys.executable, "-m", "vaxdrill", "profile", str(empty)], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 2 and "neither a load-test folder" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_profile_of_a_real_short_load_test(tmp_path: Path) -> None:
    """A 10 s open-model run against the reference server with a 3 s outage: the outage's 503s stay out."""

    path = tmp_path / "real.yaml"
    path.write_text(
        """name: real-profile
seed: 5
sites:
  - {name: Site A, district: Raigad, state: Maharashtra, pincode: "402201", booked: 100, opens: "10:00"}
load:
  shape: open
  duration: 10s
  arrival_rate: 15
  compression: 120
  mix: {citizen: 1, vaccinator: 0, slot_watcher: 2}
  think_time: {citizen: "uniform(50ms, 150ms)"}
  open: {max_users: 40}
faults:
  - {kind: outage, at: 4s, duration: 3s, routes: ["/api/v2/*"], mode: "503"}
""",
        encoding="utf-8",
    )
    run = tmp_path / "run"
    res = subprocess.run([sys.executable, "-m", "vaxdrill", "loadtest", str(path), "--out", str(run)],
                         capture_output=True, text=True, cwd=ROOT, timeout=110, check=False)  # fmt: skip
    assert (run / "drill-raw.json").exists(), res.stdout + res.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["faults"][0]["during"]["failures"] > 0
    doc = build_profile(run).to_json()
    assert doc["kind"] == "loadtest" and doc["points"]
    assert sum(p["requests"] for p in doc["points"]) < summary["requests"]
    assert all(p["failure_rate"] < 0.05 for p in doc["points"])  # the outage's 503s are left out
    assert doc["day_load"][0]["clock"] == "10:01"  # window 0's middle: 10:00 + 0.5 s x 120

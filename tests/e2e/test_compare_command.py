"""`vaxdrill compare` as a user runs it: the table, the JSON file, and a clean error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.unit.test_compare import _sim_run


def test_cli_prints_table_writes_json_and_fails_cleanly(tmp_path: Path) -> None:
    r1, r2 = _sim_run(tmp_path / "r1", 100, 20), _sim_run(tmp_path / "r2", 130, 15)
    out = tmp_path / "cmp.json"
    cmd = [sys.executable, "-m", "vaxdrill", "compare", str(r1), str(r2), "--json", str(out)]
    result = subprocess.run(
        cmd, capture_output=True, text=True, cwd=ROOT, timeout=60, env={**os.environ, "COLUMNS": "200"}
    )
    assert result.returncode == 0, result.stderr
    assert "policies.wait.vaccinated" in result.stdout and "+30" in result.stdout
    data = json.loads(out.read_text())
    assert data["metrics"]["policies.wait.vaccinated"][1]["value"] == 130
    bad = subprocess.run(
        [sys.executable, "-m", "vaxdrill", "compare", str(r1), str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert bad.returncode == 2 and "not a results folder" in bad.stderr and "Traceback" not in bad.stderr


def test_compare_hides_noise_unless_all_and_says_how_many(tmp_path: Path) -> None:
    r1, r2 = _sim_run(tmp_path / "r1", 100, 20), _sim_run(tmp_path / "r2", 103, 15)  # vaccinated: overlapping
    cmd = [sys.executable, "-m", "vaxdrill", "compare", str(r1), str(r2)]
    env = {**os.environ, "COLUMNS": "200"}
    quiet = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=60, env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert "wait_minutes" in quiet.stdout and "policies.wait.vaccinated" not in quiet.stdout
    hidden = int(quiet.stdout.split(" figure(s) hidden: changes inside the noise")[0].split()[-1])
    full = subprocess.run([*cmd, "--all"], capture_output=True, text=True, cwd=ROOT, timeout=60, env=env)
    assert "policies.wait.vaccinated" in full.stdout and "hidden" not in full.stdout
    assert hidden >= 1

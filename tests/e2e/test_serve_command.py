"""`vaxdrill serve` refuses a broken fault plan and bad options with one clear line: exit 2 for a mistake,
3 for a database it cannot reach."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

VAXDRILL = [sys.executable, "-m", "vaxdrill"]


def test_fault_plan_file_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "faults.yaml"
    bad.write_text("- {kind: outage, duration: 30}\n- {kind: latency, duration: 5s}\n", encoding="utf-8")
    run = subprocess.run(
        [*VAXDRILL, "serve", "--faults", str(bad)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "[0].duration" in run.stderr and "[1]" in run.stderr and "latency" in run.stderr


def test_serve_refuses_bad_options_clearly(tmp_path: Path) -> None:
    for args, words, code in [
        (["--db", "mysql://x/y"], "unsupported database URL", 2),
        (["--db", "sqlite:///:memory:"], "in-memory", 2),
        (["--db", "postgresql://nobody@127.0.0.1:1/none"], "cannot reach", 3),  # could not run, not a mistake
        (["--seed-data", str(tmp_path / "missing.yaml")], "no such file", 2),
    ]:
        run = subprocess.run([*VAXDRILL, "serve", *args], capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert run.returncode == code, (args, run.stderr)
        assert words in run.stderr and "Traceback" not in run.stderr

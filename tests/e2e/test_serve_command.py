"""`vaxdrill serve` refuses a broken fault plan and bad options with exit 2 and one clear line."""

from __future__ import annotations

import subprocess
from pathlib import Path

from vaxdrill.loadtest.live import VAXDRILL


def test_fault_plan_file_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "faults.yaml"
    bad.write_text("- {kind: outage, duration: 30}\n- {kind: latency, duration: 5s}\n", encoding="utf-8")
    run = subprocess.run([str(VAXDRILL), "serve", "--faults", str(bad)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "[0].duration" in run.stderr and "[1]" in run.stderr and "latency" in run.stderr


def test_serve_refuses_bad_options_clearly(tmp_path: Path) -> None:
    for args, words in [
        (["--db", "mysql://x/y"], "unsupported database URL"),
        (["--db", "sqlite:///:memory:"], "in-memory"),
        (["--db", "postgresql://nobody@127.0.0.1:1/none"], "cannot"),
        (["--seed-data", str(tmp_path / "missing.yaml")], "no such file"),
    ]:
        run = subprocess.run([str(VAXDRILL), "serve", *args], capture_output=True, text=True, timeout=60)
        assert run.returncode == 2, (args, run.stderr)
        assert words in run.stderr and "Traceback" not in run.stderr

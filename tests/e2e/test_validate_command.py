"""`vaxdrill validate`, `schema`, `--version` and `--help` as a user runs them: exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import ROOT, SCENARIOS

WriteYaml = Callable[..., Path]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaxdrill", *args], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_validate_command_passes_on_every_shipped_scenario() -> None:
    result = run_cli("validate", *[str(p) for p in sorted(SCENARIOS.glob("*.yaml"))])
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_missing_file() -> None:
    result = run_cli("validate", "scenarios/does-not-exist.yaml")
    assert result.returncode == 2
    assert "scenarios/does-not-exist.yaml: no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_reports_every_broken_file_and_exits_2(write_yaml: WriteYaml) -> None:
    good = SCENARIOS / "raigad-2021-01-16.yaml"
    bad = write_yaml("name: x\nsites: [{name: A, bookd: 3}]\n", "bad.yaml")
    result = run_cli("validate", str(good), str(bad))
    assert result.returncode == 2
    assert "ok" in result.stdout and "did you mean `booked`?" in result.stderr
    assert "Traceback" not in result.stderr


def test_schema_command_prints_the_schema() -> None:
    result = run_cli("schema")
    assert result.returncode == 0
    assert json.loads(result.stdout)["title"] == "vaxdrill scenario"


def test_version_and_help() -> None:
    assert run_cli("--version").stdout.startswith("vaxdrill ")
    assert "validate" in run_cli("--help").stdout

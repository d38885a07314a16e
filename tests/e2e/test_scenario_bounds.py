"""Hostile or oversized scenario files end in seconds with one clear line, exit 2 and little memory.

Each command runs under a small wrapper process that reports its child's peak memory, so one test's
figure is not mixed with another's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, SCENARIOS

WriteYaml = Callable[..., Path]
MAX_RSS_MB = 500
# The wrapper runs the command (killing it after 45 s: each of these ends within seconds; the margin is for a
# loaded machine), then prints the peak resident memory of its children (KiB on Linux).
MEASURE = (
    "import resource, subprocess, sys\n"
    "try:\n"
    "    code = subprocess.run(sys.argv[1:], timeout=45).returncode\n"
    "except subprocess.TimeoutExpired:\n"
    "    code = 124\n"
    "sys.stderr.write(f'\\nMAXRSS_KB={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n')\n"
    "sys.exit(code)\n"
)


def run_bounded(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run ``vaxdrill *args``: (exit code, stdout, stderr without the memory line); check its memory."""
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, sys.executable, "-m", "vaxdrill", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=90,
        env={**os.environ, **(env or {})},
    )
    stderr, _, tail = result.stderr.rpartition("MAXRSS_KB=")
    assert result.returncode != 124, "still running after 45 s"
    assert int(tail.strip()) < MAX_RSS_MB * 1024, f"peak memory {int(tail) // 1024} MB"
    assert "Traceback" not in stderr, stderr
    return result.returncode, result.stdout, stderr.strip()


BILLION_LAUGHS = "name: laughs\nsites: &a0 [{name: x}]\n" + "".join(
    f"x{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]\n"
    for i in range(1, 10)
)


def test_alias_expansion_is_bounded(write_yaml: WriteYaml) -> None:
    code, _, err = run_bounded("validate", str(write_yaml(BILLION_LAUGHS)))
    assert code == 2
    assert "alias" in err and "scenario.yaml" in err
    assert len(err.splitlines()) == 1, err


def test_a_recursive_alias_is_refused(write_yaml: WriteYaml) -> None:
    code, _, err = run_bounded("validate", str(write_yaml("name: loop\nx: &a [*a]\n")))
    assert code == 2
    assert "alias" in err


def test_nesting_depth_is_bounded(write_yaml: WriteYaml) -> None:
    code, _, err = run_bounded("validate", str(write_yaml("name: deep\nx: " + "[" * 3000 + "]" * 3000 + "\n")))
    assert code == 2
    assert "nested deeper than" in err and "line 2" in err.replace(":2", " line 2")
    assert len(err.splitlines()) == 1, err


def test_file_size_is_capped_with_an_override(write_yaml: WriteYaml) -> None:
    path = write_yaml("name: big\n" + "#" * 100 + "\n" * 1)
    code, _, err = run_bounded("--max-file-size", "50", "validate", str(path))
    assert code == 2
    assert "larger than" in err and "--max-file-size" in err
    code, _, err = run_bounded("validate", str(path), env={"VAXDRILL_MAX_FILE_SIZE": "50"})
    assert code == 2 and "larger than" in err
    code, _, err = run_bounded("--max-file-size", "1MB", "validate", str(path))
    assert code == 0, err


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("name: b\nsites: [{name: A, booked: 100000000}]\n", "sites[0].booked"),
        ("name: b\nreplications: 100000\nsites: [{name: A}]\n", "replications"),
        ("name: b\nsites: [{name: A, arrivals: {walk_ins_per_hour: 1000000000}}]\n", "walk_ins_per_hour"),
    ],
)
def test_numeric_bounds_name_the_field(write_yaml: WriteYaml, text: str, field: str) -> None:
    code, _, err = run_bounded("validate", str(write_yaml(text)))
    assert code == 2
    assert field in err and "less than or equal to" in err, err


def test_simulate_refuses_a_run_over_budget_unless_forced(write_yaml: WriteYaml, tmp_path: Path) -> None:
    sites = "".join(f"  - {{name: S{i}, booked: 10000}}\n" for i in range(400))
    path = write_yaml(f"name: huge\nreplications: 1000\nsites:\n{sites}")
    code, _, err = run_bounded("simulate", str(path), "--out", str(tmp_path / "run"))
    assert code == 2
    assert "estimated" in err and "--force" in err
    assert not (tmp_path / "run").exists()


def test_simulate_out_naming_a_file_exits_2(tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("not a folder\n")
    code, _, err = run_bounded("simulate", str(SCENARIOS / "raigad-2021-01-16.yaml"), "-n", "1", "--out", str(target))
    assert code == 2
    assert "not a folder" in err

"""Behaviour is kept across refactors: the Raigad simulation for a fixed seed gives byte-identical outputs.

The golden files were written before the layering work (issue 9) by
``vaxdrill simulate scenarios/raigad-2021-01-16.yaml -n 4 --seed 7``. A change that moves a figure on
purpose regenerates them with that command and says why in its commit.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

GOLDEN = ROOT / "tests" / "golden" / "raigad-seed7-n4"


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("golden") / "run"
    cmd = [
        sys.executable,
        "-m",
        "vaxdrill",
        "simulate",
        str(ROOT / "scenarios" / "raigad-2021-01-16.yaml"),
        "-n",
        "4",
        "--seed",
        "7",
        "--out",
        str(out),
    ]
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    return out


@pytest.mark.parametrize("name", ["summary.json", "replications.csv", "sites.csv"])
def test_raigad_outputs_match_the_golden_files(run_folder: Path, name: str) -> None:
    out = run_folder
    got = (out / name).read_text(encoding="utf-8")
    want = (GOLDEN / name).read_text(encoding="utf-8")
    assert got == want, f"{name} differs from the golden file"

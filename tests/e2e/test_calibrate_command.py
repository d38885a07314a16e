"""``vaxdrill calibrate`` end to end: summary, plot, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, SCENARIOS

UNEVEN = str(SCENARIOS / "uneven-district.yaml")


def vaxdrill(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaxdrill", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def test_calibrate_writes_fitted_values_with_intervals_and_a_plot(tmp_path: Path) -> None:
    observed = tmp_path / "observed.csv"
    observed.write_text("kind,vaccinated\nurban,120\nurban,95\nrural,70\nrural,64\nrural,81\n", encoding="utf-8")
    out = tmp_path / "cal"
    result = vaxdrill(
        "calibrate", UNEVEN, "--observed", str(observed), "--metric", "vaccinated",
        "--fit", "site_defaults.stations.vaccination.staff=1..3", "--trials", "3", "-n", "1", "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = json.loads((out / "summary.json").read_text())
    assert doc["schema"] == "vaxdrill.calibrate/1" and doc["observed_by"] == "kind"
    fit = doc["fitted"]["site_defaults.stations.vaccination.staff"]
    assert 1 <= fit["ci95"][0] <= fit["value"] <= 3 and len(doc["trials"]) == 3
    assert (out / "calibration.png").stat().st_size > 0
    assert "95% interval" in result.stdout


def test_bad_calibration_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    observed = tmp_path / "observed.csv"
    observed.write_text("site,attainment\nNowhere,0.8\n", encoding="utf-8")
    for args, message in [
        (["--fit", "site_defaults.booked=50..150"], "site 'Nowhere' is not in the scenario"),
        (["--fit", "site_defaults.bookd=50..150"], "did you mean `booked`"),
        (["--fit", "site_defaults.booked=150..50"], "must run from low to high"),
    ]:
        result = vaxdrill("calibrate", UNEVEN, "--observed", str(observed), *args, "--out", str(tmp_path / "x"))
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr

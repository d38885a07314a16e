"""``vaxdrill simulate`` on station flows and uneven sites: per-station figures, across-site figures, same bytes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, SCENARIOS


def simulate(scenario: str, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "vaxdrill", "simulate", str(SCENARIOS / scenario), "--out", str(out), *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_a_routed_flow_reports_every_station_and_repeats_byte_for_byte(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        result = simulate("second-dose-scheduling.yaml", out, "-n", "2")
        assert result.returncode == 0, result.stderr
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    doc = json.loads((a / "summary.json").read_text())
    wait = doc["policies"]["wait"]
    stations = {"temperature_check", "registration", "vaccination", "scheduling", "observation"}
    assert set(wait["queue_length_by"]) == stations
    assert set(wait["utilisation"]) == stations - {"observation"}  # self-service: no staff
    with (a / "sites.csv").open() as handle:
        row = next(csv.DictReader(handle))
    assert float(row["wait_minutes.scheduling.mean"]) >= 0 and "utilisation.scheduling" in row
    report = (a / "report.html").read_text()
    assert "<h2>Stations</h2>" in report and 'data-station="scheduling"' in report


def test_uneven_sites_give_the_worst_tenth_and_a_histogram(tmp_path: Path) -> None:
    out = tmp_path / "uneven"
    result = simulate("uneven-district.yaml", out, "-n", "2", "-p", "wait")
    assert result.returncode == 0, result.stderr
    with (out / "across_sites.csv").open() as handle:
        rows = {(r["metric"], r["statistic"]): float(r["mean"]) for r in csv.DictReader(handle)}
    assert rows[("attainment", "lowest")] <= rows[("attainment", "worst_tenth")] <= rows[("attainment", "site_mean")]
    assert rows[("attainment", "site_mean")] <= rows[("attainment", "highest")]
    assert (out / "site_attainment.png").stat().st_size > 0
    with (out / "sites.csv").open() as handle:
        drawn = [float(r["drawn.arrivals.no_show"]) for r in csv.DictReader(handle)]
    assert len(set(drawn)) == len(drawn) and all(0.02 <= x <= 0.30 for x in drawn)
    report = (out / "report.html").read_text()
    assert 'data-across="attainment"' in report and "worst tenth" in report

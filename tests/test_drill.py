"""The launch-day drill: derived scenarios, the combined report, and one real drill in Chromium."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, SCENARIOS
from vaxdrill.cli.browser import BrowserUnavailable, check_page, find_browser
from vaxdrill.cli.drill import measured_scenario
from vaxdrill.core.documents import DrillSummary, read_document
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.report.drill import build_report, engineer_verdict
from vaxdrill.report.html import Report

RAIGAD = SCENARIOS / "raigad-2021-01-16.yaml"


def _browser_or_skip() -> None:
    try:
        find_browser()
    except BrowserUnavailable as exc:
        pytest.skip(f"no headless browser here: {exc}")


def test_measured_scenario_reads_back_the_same_with_the_profile(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIOS / "district-typical-day.yaml")  # sites from a CSV and defaults
    profile = tmp_path / "server_profile.json"
    written = measured_scenario(scenario, profile, tmp_path / "measured.yaml")
    text = written.read_text()
    assert text.startswith("# ")
    raw = yaml.safe_load(text)
    assert raw["server"]["profile"] == str(profile.resolve())
    assert len(raw["sites"]) == len(scenario.sites) and raw["sites_csv"] is None
    reread = Scenario.model_validate(raw)
    assert reread.sites == scenario.sites and reread.policies == scenario.policies
    assert reread.server.model_copy(update={"profile": None}) == scenario.server


def _load_summary(passed: bool, lost: int) -> dict[str, object]:
    return {
        "requests": 1000, "rps": 20.0, "latency_ms": {"p95": 40.0},
        "slos": [{"name": "all error_rate < 2%", "limit": 0.02, "observed": 0.01 if passed else 0.3,
                  "passed": passed, "unit": "share"}],
        "integrity": {"passed": lost == 0, "doses_recorded": 50, "paper": 7, "lost": lost, "duplicated": 0},
        "faults": [{"kind": "outage", "applied_at_s": 20.0, "duration_s": 15.0, "time_to_recover_s": 1.2,
                    "before": {"error_rate": 0}, "during": {"error_rate": 0.9}, "after": {"error_rate": 0}}],
        "endpoints": {"schedule": {"requests": 10, "failures": 0, "p50": 5, "p95": 9, "p99": 12}},
        "generator": {"cpu_saturated": True, "cpu_peak_percent": {"local": 99.0}},
    }  # fmt: skip


def test_engineer_verdict_says_what_failed() -> None:
    good = engineer_verdict(_load_summary(True, 0))
    assert "SLOs 1/1 met" in good and "none lost" in good and "recovered 1.2 s" in good
    bad = engineer_verdict(_load_summary(False, 3))
    assert "SLOs 0/1 met (failed: all error_rate < 2%)" in bad and "integrity FAILED: 3 lost" in bad


def test_report_is_self_contained_and_warns_of_a_saturated_generator(tmp_path: Path) -> None:
    scenario = load_scenario(RAIGAD)
    assumed = {"answer": "paper after 30 min vaccinates 200 more", "replications": 5, "checkpoints": ["13:30"],
               "policies": {"wait": {"vaccinated": {"mean": 10, "ci95": [9, 11]}}}}  # fmt: skip
    path = build_report(scenario, tmp_path, assumed, _load_summary(False, 0), None, None, [("seed", "1")])
    html = path.read_text()
    assert "paper after 30 min vaccinates 200 more" in html and "FAIL" in html and "30.00%" in html
    assert "saturated" in html
    assert "http://" not in html and "https://" not in html  # nothing fetched when opened


def test_chromium_sees_broken_images_and_console_errors(tmp_path: Path) -> None:
    """The check itself must be able to fail, or a passing drill test would prove nothing."""
    _browser_or_skip()
    report = Report("broken")
    report.paragraph("x")
    page = tmp_path / "broken.html"
    page.write_text(
        report.render().replace(
            "</body>", '<img src="missing.png" alt="gone"><script>console.error("boom")</script></body>'
        )
    )
    seen = check_page(page)
    assert seen.broken_images == ["gone"]
    assert any("boom" in e for e in seen.console_errors)
    assert not seen.ok


def test_a_short_drill_end_to_end(tmp_path: Path) -> None:
    """Simulation, load test with the outage, profile, measured simulation, report, Chromium."""
    _browser_or_skip()
    out = tmp_path / "drill"
    result = subprocess.run(
        [sys.executable, "-m", "vaxdrill", "drill", str(RAIGAD), "--replications", "3", "--duration", "30s",
         "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=240, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ("report.html", "report.png", "summary.json", "run.json", "server_profile.json",
                 "scenario-measured.yaml", "simulation/summary.json", "loadtest/summary.json",
                 "simulation-measured/summary.json"):  # fmt: skip
        assert (out / name).is_file(), name
    assert "report checked in headless Chromium" in result.stdout and "no console error" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["schema"] == "vaxdrill.cli.drill/1"
    assert read_document(out / "summary.json", DrillSummary).to_json() == summary  # the document as modelled
    assert summary["integrity"]["passed"] and summary["integrity"]["lost"] == 0
    assert [p["name"] for p in summary["phases"]] == ["simulation", "loadtest", "profile", "simulation-measured"]
    html = (out / "report.html").read_text()
    assert "For the planner" in html and "For the engineer" in html and "What was run" in html
    assert html.count("data:image/png;base64,") >= 3
    seen = check_page(out / "report.html")
    assert seen.ok and seen.images >= 3


def test_loadtest_replays_the_simulated_day(tmp_path: Path) -> None:
    """`loadtest --from-simulation`: the simulated day's arrival curve, as an open model, on loopback."""
    out = tmp_path / "replay"
    result = subprocess.run(
        [sys.executable, "-m", "vaxdrill", "loadtest", str(RAIGAD), "--from-simulation", "--duration", "15s",
         "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=180, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode in (0, 99), result.stdout[-3000:] + result.stderr[-3000:]
    curve = json.loads((out / "arrival_curve.json").read_text())
    assert curve["schema"] == "vaxdrill.arrival_curve/1"
    replayed = curve["replayed_points"]
    assert replayed[-1][0] == pytest.approx(15.0)
    assert max(rate for _, rate in replayed) == pytest.approx(8.0)  # the scenario's load.arrival_rate
    replay = yaml.safe_load((out / "scenario-from-simulation.yaml").read_text())
    assert replay["load"]["shape"] == "open" and len(replay["load"]["curve"]) == len(replayed)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "open"
    # The open model scheduled about what the curve asks for: its integral over the run.
    expected = sum((t1 - t0) * (r0 + r1) / 2 for (t0, r0), (t1, r1) in itertools.pairwise(replayed))
    assert summary["open_model"]["scheduled"] == pytest.approx(expected, rel=0.35)

"""The launch-day drill end to end, the report check in Chromium, and the replay of the simulated day."""

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
from vaxdrill.cli.browser import check_page, find_browser
from vaxdrill.core.documents import DrillSummary, read_document
from vaxdrill.core.errors import BrowserUnavailable
from vaxdrill.report.html import render

RAIGAD = SCENARIOS / "raigad-2021-01-16.yaml"


def _browser_or_skip() -> None:
    try:
        find_browser()
    except BrowserUnavailable as exc:
        pytest.skip(f"no headless browser here: {exc}")


def test_chromium_sees_broken_images_and_console_errors(tmp_path: Path) -> None:
    """The check itself must be able to fail, or a passing drill test would prove nothing."""
    _browser_or_skip()
    page = tmp_path / "broken.html"
    page.write_text(
        render("base.html.j2", title="broken", heading="broken", subtitle="x").replace(
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
    # Raigad without its latency SLOs, whose verdict would hang on how busy the machine is: a sound replay
    # (no dose lost or duplicated, not aborted) then has exactly one exit code, 0.
    raw = yaml.safe_load(RAIGAD.read_text(encoding="utf-8"))
    raw["slos"] = []
    scenario = tmp_path / "raigad-no-slos.yaml"
    scenario.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    out = tmp_path / "replay"
    result = subprocess.run(
        [sys.executable, "-m", "vaxdrill", "loadtest", str(scenario), "--from-simulation", "--duration", "15s",
         "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=180, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    curve = json.loads((out / "arrival_curve.json").read_text())
    assert curve["schema"] == "vaxdrill.arrival_curve/1"
    replayed = curve["replayed_points"]
    assert replayed[-1][0] == pytest.approx(15.0)
    assert max(rate for _, rate in replayed) == pytest.approx(8.0)  # the scenario's load.arrival_rate
    replay = yaml.safe_load((out / "scenario-from-simulation.yaml").read_text())
    assert replay["load"]["shape"] == "open" and len(replay["load"]["curve"]) == len(replayed)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "open" and summary["exit_code"] == 0
    # The open model scheduled about what the curve asks for: its integral over the run.
    expected = sum((t1 - t0) * (r0 + r1) / 2 for (t0, r0), (t1, r1) in itertools.pairwise(replayed))
    assert summary["open_model"]["scheduled"] == pytest.approx(expected, rel=0.35)

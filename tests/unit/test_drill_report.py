"""Parts of the launch-day drill on their own: the measured scenario, the verdict, the combined report."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import SCENARIOS
from vaxdrill.cli.drill import measured_scenario
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.report.drill import build_report, engineer_verdict

RAIGAD = SCENARIOS / "raigad-2021-01-16.yaml"


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
                  "passed": passed, "metric": "error_rate", "unit": "share"}],
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
    assert "SLOs 0/1 met (failed: error rate 30.0% > 2.0%)" in bad and "integrity FAILED: 3 lost" in bad


def test_report_is_self_contained_and_warns_of_a_saturated_generator(tmp_path: Path) -> None:
    scenario = load_scenario(RAIGAD)
    assumed = {"answer": "paper after 30 min vaccinates 200 more", "replications": 5, "checkpoints": ["13:30"],
               "policies": {"wait": {"vaccinated": {"mean": 10, "ci95": [9, 11]}}}}  # fmt: skip
    path = build_report(scenario, tmp_path, assumed, _load_summary(False, 0), None, None, [("seed", "1")])
    html = path.read_text()
    assert "paper after 30 min vaccinates 200 more" in html and "FAIL" in html and "30.00%" in html
    assert "saturated" in html
    assert "http://" not in html and "https://" not in html  # nothing fetched when opened

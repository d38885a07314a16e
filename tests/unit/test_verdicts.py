"""Verdicts say what was observed against each failed limit; the report's box and the exit code follow."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import SCENARIOS
from tests.unit.test_reports import _load_summary
from vaxdrill.core.errors import ExitCode
from vaxdrill.core.scenario import load_scenario
from vaxdrill.loadtest.slo import breach_text
from vaxdrill.loadtest.summary import exit_code
from vaxdrill.report import drill, loadtest
from vaxdrill.report.loadtest import engineer_verdict

ERROR_SLO = {"name": "all error_rate < 2.00%", "metric": "error_rate", "limit": 0.02, "observed": 0.4397,
             "passed": False, "unit": "share"}  # fmt: skip


def test_each_failed_slo_is_given_as_observed_against_limit() -> None:
    assert breach_text(ERROR_SLO) == "error rate 44.0% > 2.0%"
    p95 = {"name": "findByDistrict p95 < 400ms", "metric": "p95", "limit": 400.0, "observed": 512.4,
           "passed": False, "unit": "ms"}  # fmt: skip
    assert breach_text(p95) == "findByDistrict p95 512 ms > 400 ms"
    rps = {"name": "all rps >= 10", "metric": "min_rps", "limit": 10.0, "observed": 3.14, "passed": False,
           "unit": "req/s"}  # fmt: skip
    assert breach_text(rps) == "throughput 3.1 req/s < 10.0 req/s"
    named = {**p95, "name": "search is quick"}
    assert breach_text(named) == "search is quick (p95 512 ms > 400 ms)"
    assert "no requests" in breach_text({**p95, "observed": None})


def test_integrity_comes_before_an_abort_and_a_failed_slo() -> None:
    assert exit_code(False, {"passed": False}, True) == ExitCode.INTEGRITY_FAILED == 98
    assert exit_code(False, {"passed": False}, False) == ExitCode.INTEGRITY_FAILED
    assert exit_code(False, {"passed": True}, True) == ExitCode.ABORTED
    assert exit_code(False, None, False) == ExitCode.SLO_FAILED


def _box(page: str) -> str:
    found = re.search(r'<div class="(answer[^"]*)" data-verdict="(\w+)">', page)
    assert found, "no verdict box"
    return f"{found.group(1)}|{found.group(2)}"


def test_the_reports_verdict_box_follows_the_verdict(tmp_path: Path) -> None:
    raigad = load_scenario(SCENARIOS / "raigad-2021-01-16.yaml")
    good = _load_summary()
    failed = {**good, "slos": [ERROR_SLO], "exit_code": 99}
    assert "(failed: error rate 44.0% > 2.0%)" in engineer_verdict(failed)
    (tmp_path / "good").mkdir()
    (tmp_path / "bad").mkdir()
    assert _box(loadtest.write_report(tmp_path / "good", raigad, good).read_text()) == "answer|ok"
    page = loadtest.write_report(tmp_path / "bad", raigad, failed).read_text()
    assert _box(page) == "answer bad|failed" and "error rate 44.0% &gt; 2.0%" in page
    drill_page = drill.build_report(raigad, tmp_path / "bad", None, failed, None, None, []).read_text()
    assert _box(drill_page) == "answer bad|failed"

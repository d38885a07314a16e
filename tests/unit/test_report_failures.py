"""The engineer's report explains failures: a table from Locust's failures CSV, per-endpoint rps and
failure %, links to Locust's HTML report and the CSVs."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SCENARIOS
from tests.unit.test_reports import _load_summary
from vaxdrill.core.scenario import load_scenario
from vaxdrill.report import drill, loadtest
from vaxdrill.report.failures import failure_rows, message_of, status_of

FAILURES = """Method,Name,Error,Occurrences,First Seen,Last Seen
POST,verify,CatchResponseError('HTTP 503'),27,2026-11-28T00:20:44Z,2026-11-28T00:20:48Z
POST,generateOTP,LocustBadStatusCode(code=503),35,2026-11-28T00:20:46Z,2026-11-28T00:20:48Z
GET,findByDistrict,"ConnectionResetError(104, 'Connection reset by peer')",3,2026-11-28T00:20:46Z,2026-11-28T00:20:48Z
"""


def test_failures_are_tabled_by_endpoint_status_and_message(tmp_path: Path) -> None:
    (tmp_path / "locust_failures.csv").write_text(FAILURES, encoding="utf-8")
    rows = failure_rows(tmp_path, total_requests=1000)
    assert rows[0] == ["generateOTP", "POST", "503", "HTTP 503", "35", "3.5%"]
    assert rows[1] == ["verify", "POST", "503", "HTTP 503", "27", "2.7%"]
    assert rows[2][:3] == ["findByDistrict", "GET", "ConnectionResetError"] and "reset by peer" in rows[2][3]
    assert status_of("LocustBadStatusCode(code=429)") == "429" and message_of("Timeout()") == "Timeout()"


def test_the_load_test_report_links_its_files_and_gives_rps_and_failure_share(tmp_path: Path) -> None:
    raigad = load_scenario(SCENARIOS / "raigad-2021-01-16.yaml")
    (tmp_path / "loadtest").mkdir()
    folder = tmp_path / "loadtest"
    for name in ("locust-report.html", "locust_stats.csv", "locust_failures.csv", "summary.json"):
        (folder / name).write_text(FAILURES if name == "locust_failures.csv" else "x", encoding="utf-8")
    load = {**_load_summary(), "endpoints": {"schedule": {"requests": 300, "failures": 6, "p50": 5.25,
                                                          "p95": 38.75, "p99": 91.0}}}  # fmt: skip
    page = loadtest.write_report(folder, raigad, load).read_text()
    assert '<a href="locust-report.html">' in page and '<a href="locust_failures.csv">' in page
    assert "<td>10.0</td>" in page and "<td>2.0%</td>" in page  # 300 requests in 30 s; 6 failed
    assert "share of all requests" in page and "<td>2.8%</td>" in page  # 35 of 1,234
    assert "passed</td>" in page and ">True<" not in page
    drill_page = drill.build_report(raigad, tmp_path, None, load, None, None, []).read_text()
    assert '<a href="loadtest/locust-report.html">' in drill_page


def test_on_the_server_as_measured_says_when_and_why_it_matches_the_plain_run() -> None:
    from vaxdrill.report.drill import measured_change

    def sim(vaccinated: float, wait: float) -> dict[str, object]:
        return {"policies": {"wait": {"vaccinated": {"mean": vaccinated}, "wait_minutes": {"mean": {"mean": wait}}}}}

    profile = {"points": [{"offered_rps": 5.6, "p95_ms": 16.0, "failure_rate": 0.0},
                          {"offered_rps": 19.1, "p95_ms": 96.0, "failure_rate": 0.001}]}  # fmt: skip
    same = measured_change(sim(340, 135), sim(340.2, 135.3), profile)
    assert "matches the plain run" in same and "up to 19.1 requests/s" in same and "96 ms at p95" in same
    assert "0.1% failures" in same and "would differ if" in same
    moved = measured_change(sim(340, 135), sim(300, 160), profile)
    assert "-40.0 vaccinated" in moved and "matches" not in moved


def test_the_response_time_distribution_is_drawn_and_shown(tmp_path: Path) -> None:
    from vaxdrill.loadtest import plots
    from vaxdrill.loadtest.recorder import Recorder

    rec = Recorder(t0=0.0)
    for i in range(200):
        rec.request("schedule" if i % 2 else "findByDistrict", 5.0 + i, i % 50 == 0, now=i / 100)
    plots.latency_distribution(rec, tmp_path / "latency.png", "response times")
    raigad = load_scenario(SCENARIOS / "raigad-2021-01-16.yaml")
    page = loadtest.write_report(tmp_path, raigad, _load_summary()).read_text()
    assert "Response-time distribution" in page and page.count("data:image/png;base64,") == 1

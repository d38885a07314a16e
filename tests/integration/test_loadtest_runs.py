"""End-to-end load tests against the reference server: loopback only, each run bounded (~10-30 s).

Each test runs ``vaxdrill loadtest`` / ``vaxdrill capacity`` as a user would; the command starts
the reference server on a free loopback port and Locust as its own process(es).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from vaxdrill.loadtest.server_process import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

SITES = """
sites:
  - {name: Site A, district: Raigad, state: Maharashtra, pincode: "402201", booked: 100}
  - {name: Site B, district: Raigad, state: Maharashtra, pincode: "402107", booked: 100}
"""


def vaxdrill(*args: str, timeout: float = 110) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vaxdrill", *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


def scenario(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nseed: 11\n{SITES}\n{body}", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One reference server (own process, free loopback port) for runs that book nothing lasting."""
    folder = tmp_path_factory.mktemp("server")
    seed = folder / "seed.yaml"
    seed.write_text(f"name: seed\nseed: 11\n{SITES}", encoding="utf-8")
    with ServerProcess.for_run(seed, folder) as server:
        yield server.url


def summary_of(folder: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((folder / "summary.json").read_text())


OPEN_LOAD = """
load:
  shape: open
  duration: 6s
  arrival_rate: 6
  mix: {citizen: 1, vaccinator: 0, slot_watcher: 2}
  think_time: {citizen: "uniform(50ms, 150ms)"}
  open: {max_users: 40}
"""


def test_a_run_meeting_its_slos_exits_0_and_a_breaching_run_exits_99(tmp_path: Path, shared_server: str) -> None:
    good = scenario(
        tmp_path, "meets", OPEN_LOAD + "slos:\n  - {endpoint: findByDistrict, p95: 2s}\n  - {error_rate: 5%}\n"
    )
    result = vaxdrill("loadtest", str(good), "--host", shared_server, "--out", str(tmp_path / "good"))
    assert result.returncode == 0, result.stdout + result.stderr
    summary = summary_of(tmp_path / "good")
    assert summary["schema"] == "vaxdrill.loadtest/1" and summary["model"] == "open"
    assert all(s["passed"] for s in summary["slos"]) and summary["requests"] > 20
    assert summary["endpoints"]["findByDistrict"]["p95"] < 2000
    assert summary["open_model"]["scheduled"] >= summary["open_model"]["started"] > 10
    for name in ("locust_stats.csv", "locust_stats_history.csv", "locust-report.html", "timeline.png", "run.json"):
        assert (tmp_path / "good" / name).exists(), name
    page = (tmp_path / "good" / "report.html").read_text()
    assert f'data-metric="requests" data-value="{summary["requests"]}"' in page
    assert page.count("data:image/png;base64,") == 2 and "https://" not in page  # timeline, response times
    assert (tmp_path / "good" / "latency.png").exists()

    bad = scenario(tmp_path, "breaches", OPEN_LOAD + "slos:\n  - {p99: 1ms}\n  - {min_rps: 10000}\n")
    result = vaxdrill("loadtest", str(bad), "--host", shared_server, "--out", str(tmp_path / "bad"))
    assert result.returncode == 99, result.stdout + result.stderr
    assert "SLO failed" in result.stderr and "FAIL" in result.stdout
    summary = summary_of(tmp_path / "bad")
    assert [s["passed"] for s in summary["slos"]] == [False, False] and summary["exit_code"] == 99


def test_host_outside_loopback_is_refused(tmp_path: Path) -> None:
    path = scenario(tmp_path, "refused", OPEN_LOAD)
    result = vaxdrill("loadtest", str(path), "--host", "http://192.0.2.10:8000", timeout=30)
    assert result.returncode == 2 and "--allow-host 192.0.2.10" in result.stderr
    assert "Traceback" not in result.stderr


def test_capacity_search_finds_the_servers_ceiling(tmp_path: Path) -> None:
    # 8 requests in flight at most, each held 200 ms by a latency fault: a ceiling of 40 requests/s.
    faults = tmp_path / "faults.yaml"
    faults.write_text('- {kind: latency, at: 0s, duration: 1h, latency: 200ms, routes: ["/api/v2/appointment/*"]}\n')
    path = scenario(
        tmp_path,
        "ceiling",
        """
load:
  shape: steps
  mix: {citizen: 0, vaccinator: 0, slot_watcher: 1}
  retry: {max_attempts: 1}
  open: {max_users: 60, poisson: false, drop_after: 1s}
  steps: {start_rate: 10, step_rate: 10, max_rate: 60, step_duration: 3s, warmup: 1s, bisections: 2}
slos:
  - {endpoint: findByDistrict, p95: 400ms}
  - {error_rate: 1%}
""",
    )
    out = tmp_path / "cap"
    result = vaxdrill(
        "capacity", str(path), "--out", str(out), "--server-arg=--max-in-flight=8", f"--server-arg=--faults={faults}"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    cap = json.loads((out / "capacity.json").read_text())
    assert 32.0 <= cap["max_sustainable_rate"] <= 48.0  # within 20% of 40/s
    assert cap["first_breach_rate"] > cap["max_sustainable_rate"]
    assert any(s["phase"] == "bisection" for s in cap["steps"])
    assert cap["little_ok"], cap["steps"]
    assert cap["usl"] is not None and (out / "capacity.png").exists()


def test_fault_drill_with_an_outage_loses_and_duplicates_no_dose(tmp_path: Path) -> None:
    path = scenario(
        tmp_path,
        "outage",
        """
load:
  shape: constant
  duration: 14s
  users: 6
  spawn_rate: 6
  mix: {citizen: 0, vaccinator: 1, slot_watcher: 0}
  think_time: {vaccinator: "uniform(200ms, 500ms)"}
  journey: {paper_pace: "uniform(300ms, 600ms)"}
  retry: {max_attempts: 2, base: 100ms, cap: 500ms}
faults:
  - {kind: outage, at: 4s, duration: 5s, routes: ["/api/v2/*"], mode: "503"}
""",
    )
    result = vaxdrill("loadtest", str(path), "--out", str(tmp_path / "drill"))
    assert result.returncode == 0, result.stdout + result.stderr
    summary = summary_of(tmp_path / "drill")
    integrity = summary["integrity"]
    assert integrity["passed"], integrity
    assert integrity["paper"] > 0 and integrity["online"] > 0  # the outage really sent staff to paper
    assert integrity["lost"] == integrity["duplicated"] == integrity["unsynced_at_end"] == 0
    assert integrity["server_vaccinations"] == integrity["doses_recorded"]
    assert summary["vaccinators"]["paper_records"] == summary["vaccinators"]["synced_records"] == integrity["paper"]
    [fault] = summary["faults"]
    # The fault's first one-second window may still hold answers from before it took hold on a busy machine.
    assert fault["applied"] and fault["during"]["error_rate"] > 0.3 and not fault["before"]["error_rate"]
    assert fault["time_to_recover_s"] is not None and fault["time_to_recover_s"] < 5


def test_distributed_run_with_two_workers_merges_results(tmp_path: Path) -> None:
    path = scenario(
        tmp_path,
        "workers",
        """
load:
  shape: open
  duration: 8s
  arrival_rate: 8
  open: {poisson: false, max_users: 24}
  mix: {citizen: 2, vaccinator: 1, slot_watcher: 1}
  think_time: {citizen: "uniform(100ms, 300ms)"}
slos:
  - {error_rate: 5%}
""",
    )
    out = tmp_path / "dist"
    result = vaxdrill("loadtest", str(path), "--workers", "2", "--out", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    summary = summary_of(out)
    assert summary["generator"]["workers"] == 2 and len(summary["generator"]["worker_nodes"]) == 2
    assert "cpu_saturated" in summary["generator"]
    # Each worker runs its share of the arrival rate: together 8/s for 8 s, not 8/s each.
    assert 0.7 * 64 <= summary["open_model"]["scheduled"] <= 1.05 * 64
    with (out / "locust_stats.csv").open() as fh:
        aggregated = next(row for row in csv.DictReader(fh) if row["Name"] == "Aggregated")
    # Locust merges its own (rounded) stats from the workers; ours count the same requests, or a few more when
    # a busy machine delays a worker's last stats report past the moment Locust writes its CSV.
    locust_count = int(aggregated["Request Count"])
    assert locust_count > 20 and locust_count <= summary["requests"] <= 1.2 * locust_count
    assert summary["endpoints"].get("beneficiary/new", {}).get("failures", 0) == 0  # unique people per worker
    integrity = summary["integrity"]
    assert integrity["passed"] and integrity["doses_recorded"] > 0, integrity
    cpu = summary["generator"]["cpu_peak_percent"]
    assert len([node for node in cpu if node != "master"]) == 2  # both workers reported their CPU


def test_sustained_breach_aborts_the_run_with_exit_97(tmp_path: Path, shared_server: str) -> None:
    path = scenario(
        tmp_path,
        "abort",
        """
load:
  shape: open
  duration: 60s
  arrival_rate: 5
  mix: {citizen: 0, vaccinator: 0, slot_watcher: 1}
  abort_after_breach: 4s
slos:
  - {p99: 1ms}
""",
    )
    result = vaxdrill("loadtest", str(path), "--host", shared_server, "--out", str(tmp_path / "abort"), timeout=60)
    assert result.returncode == 97, result.stdout + result.stderr
    summary = summary_of(tmp_path / "abort")
    assert summary["aborted"] and summary["breached"] == ["all p99 < 1ms"]
    assert summary["duration_s"] < 20  # stopped long before the planned 60 s

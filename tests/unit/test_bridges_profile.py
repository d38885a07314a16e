"""Server profiles from synthetic load-test and capacity folders (the command: tests/e2e/test_profile_command.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.documents import capacity_result, capacity_step, loadtest_summary
from tests.documents import fault as document_fault
from vaxdrill.bridges.server_profile import ProfileError, build_profile, read_profile
from vaxdrill.core.results import write_json
from vaxdrill.loadtest.recorder import Recorder

T0 = 1_000_000.0


def _scenario(**extra: Any) -> dict[str, Any]:
    return {
        "name": "synthetic",
        "sites": [{"name": "a", "booked": 10, "opens": "09:00", "closes": "17:00"}],
        "load": {"compression": 240},
        "slos": [{"p95": "500ms"}, {"error_rate": "5%"}],
        **extra,
    }


def loadtest_folder(tmp: Path, fault: tuple[float, float] | None = (20.0, 5.0)) -> Path:
    """40 one-second windows: 10 at 20 req/s (fast), 10 at 60 (slower), 10 at 120 (past the knee), 10 at 60.

    Windows inside the fault (20-25 s plus 2 s recovery) answer in 9 s with every request failed.
    """
    rng = np.random.default_rng(5)
    rec = Recorder(t0=T0)
    plan = [(20, 20.0, 0.0)] * 10 + [(60, 80.0, 0.0)] * 10 + [(120, 900.0, 0.2)] * 10 + [(60, 80.0, 0.0)] * 11
    for sec, (rps, median, fail) in enumerate(plan):
        in_fault = fault is not None and fault[0] <= sec < fault[0] + fault[1] + 2
        for k in range(rps):
            now = T0 + sec + k / rps
            if in_fault:
                rec.request("x", 9000.0, True, now)
            else:
                rec.request("x", float(median * rng.lognormal(0.0, 0.3)), bool(rng.random() < fail), now)
    folder = tmp / "lt"
    folder.mkdir()
    faults = []
    if fault is not None:
        faults = [document_fault(fault[0], fault[1], 2.0)]
    write_json(folder / "drill-raw.json", {"schema": "vaxdrill.cli.drill-raw/1", "recorder": rec.to_json()})
    write_json(folder / "summary.json", loadtest_summary(faults=faults))
    write_json(folder / "run.json", {"schema": "vaxdrill.run/1", "scenario": _scenario()})
    return folder


def test_loadtest_profile_bins_by_load_and_leaves_out_faults(tmp_path: Path) -> None:
    doc = build_profile(loadtest_folder(tmp_path)).to_json()
    assert doc["schema"] == "vaxdrill.server_profile/1" and doc["kind"] == "loadtest"
    pts = doc["points"]
    offered = [p["offered_rps"] for p in pts]
    assert offered == sorted(offered) and len(pts) >= 3
    assert all(p["requests"] >= 200 for p in pts)
    # Nothing from the fault: no point is anywhere near 9 s, and the low-load points have no failures.
    assert max(p["p99_ms"] for p in pts) < 5000
    low, high = pts[0], pts[-1]
    assert low["offered_rps"] == pytest.approx(20.0, rel=0.05) and low["failure_rate"] == 0.0
    assert high["offered_rps"] == pytest.approx(120.0, rel=0.05)
    assert high["p50_ms"] > 5 * low["p50_ms"] and 0.1 < high["failure_rate"] < 0.3
    # SLOs p95 500 ms and 5% errors: the 120/s points break them, 60/s meets them.
    assert doc["knee_rps"] == pytest.approx(60.0, rel=0.05)
    # Load-test second t is clock 09:00 + t x 240 s: window 0 (mid 0.5 s) is 09:02, window 10 is 09:42.
    day = doc["day_load"]
    assert day[0] == {"clock": "09:02", "rps": 20.0}
    assert day[10]["clock"] == "09:42" and day[10]["rps"] == 60.0
    # The profile reads back for the simulation.
    folder = tmp_path / "lt"
    write_json(folder / "server_profile.json", doc)
    prof = read_profile(folder / "server_profile.json")
    assert prof.knee_rps == doc["knee_rps"] and len(prof.day_load) == len(day)


def test_without_fault_the_outage_windows_count(tmp_path: Path) -> None:
    """Same run with the fault not declared: the failed windows show up (so exclusion did the work)."""
    rec_folder = loadtest_folder(tmp_path, fault=(20.0, 5.0))
    summary = json.loads((rec_folder / "summary.json").read_text())
    summary["faults"] = []
    write_json(rec_folder / "summary.json", summary)
    doc = build_profile(rec_folder).to_json()
    assert max(p["p99_ms"] for p in doc["points"]) > 5000


def capacity_folder(tmp: Path) -> Path:
    folder = tmp / "cap"
    folder.mkdir()
    steps = []
    ladder = [(10, 50.0, 0.0, True), (20, 80.0, 0.0, True), (30, 900.0, 0.12, False), (25, 300.0, 0.01, True)]
    for rate, p95, err, ok in ladder:
        steps.append(capacity_step(rate, p95, err, ok))
    write_json(folder / "capacity.json", capacity_result(steps, step_duration_s=10.0, warmup_s=2.0))
    return folder


def test_capacity_profile_one_point_per_step(tmp_path: Path) -> None:
    doc = build_profile(capacity_folder(tmp_path)).to_json()
    assert doc["kind"] == "capacity" and doc["offered_unit"] == "journeys/s"
    assert [p["offered_rps"] for p in doc["points"]] == [10, 20, 25, 30]
    assert doc["knee_rps"] == 25
    assert doc["points"][-1]["failure_rate"] == 0.12 and doc["points"][-1]["p95_ms"] == 900.0


def test_capacity_with_timeline_gets_requests_per_second_and_percentiles(tmp_path: Path) -> None:
    folder = capacity_folder(tmp_path)
    rec = Recorder(t0=T0)
    # Ladder starts at 1 s; 3 requests per journey; steps of 10 s back to back (rates as in capacity.json).
    for k, rate in enumerate([10, 20, 30, 25]):
        for sec in range(10):
            t = T0 + 1 + k * 10 + sec
            for j in range(rate):
                rec.count("started", 1, t + j / rate)
                for r in range(3):
                    rec.request("x", 10.0 * (k + 1), False, t + j / rate + r * 0.001)
    write_json(folder / "drill-raw.json", {"recorder": rec.to_json()})
    doc = build_profile(folder).to_json()
    assert doc["offered_unit"] == "requests/s" and doc["requests_per_journey"] == pytest.approx(3.0)
    pts = {p["offered_rps"]: p for p in doc["points"]}
    assert set(pts) == {30, 60, 75, 90}
    assert pts[30]["p50_ms"] == pytest.approx(10.0, rel=0.01) and pts[90]["p50_ms"] == pytest.approx(30.0, rel=0.01)
    assert pts[75]["p50_ms"] == pytest.approx(40.0, rel=0.01)


def test_read_profile_refuses_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text("{not json")
    with pytest.raises(ProfileError, match="cannot be read as JSON"):
        read_profile(bad)
    point = {"offered_rps": 1.0, "throughput_rps": 1.0, "p50_ms": 5.0, "p95_ms": 9.0, "p99_ms": 12.0,
             "failure_rate": 0.0, "requests": 300}  # fmt: skip
    good = {"schema": "vaxdrill.server_profile/1", "source": "x", "kind": "loadtest", "points": [point],
            "knee_rps": None, "day_load": None}  # fmt: skip
    write_json(bad, good)
    assert read_profile(bad).points[0].p95_ms == 9.0
    cases = [
        ({"points": [{"offered_rps": 1}]}, "points\\[0\\].throughput_rps: Field required"),
        ({"points": [{**point, "p50_ms": 10.0}]}, "points\\[0\\]: .*p50_ms <= p95_ms"),
        ({"points": [{**point, "p50_ms": 0.0}]}, "points\\[0\\]: .*0 < p50_ms"),
        ({"points": [{**point, "p50_ms": None}]}, "points\\[0\\]: needs 0 < p50_ms <= p95_ms"),
        ({"points": [{**point, "failure_rate": 1.5}]}, "points\\[0\\].failure_rate"),
        ({"points": [{**point, "offered_rps": 2.0}, point]}, "sorted by offered_rps"),
        ({"points": []}, "points: List should have at least 1 item"),
        ({"schema": "vaxdrill.server_profile/2"}, "server_profile/2, expected vaxdrill.server_profile/1"),
    ]
    for change, message in cases:
        write_json(bad, {**good, **change})
        with pytest.raises(ProfileError, match=message):
            read_profile(bad)
    with pytest.raises(ProfileError, match="missing"):
        read_profile(tmp_path / "nope.json")

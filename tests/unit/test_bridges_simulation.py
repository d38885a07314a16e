"""The simulation with a measured server profile, and the sites' request series."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from simulation.model import run_replication
from simulation.serverload import ServerLoad
from vaxdrill.bridges.server_profile import SCHEMA, read_profile
from vaxdrill.core.errors import ScenarioError
from vaxdrill.core.results import write_json
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.system import Server

# lognormal(2s, 1s) (mean, sd): sigma^2 = ln(1 + 1/4), mu = ln 2 - sigma^2 / 2
SIGMA = math.sqrt(math.log(1.25))
MU = math.log(2.0) - SIGMA**2 / 2
BASE_P50 = math.exp(MU) * 1000.0
BASE_P95 = math.exp(MU + 1.6448536269514722 * SIGMA) * 1000.0


def point(rps: float, p50: float, p95: float, fail: float) -> dict[str, Any]:
    return {"offered_rps": rps, "throughput_rps": rps * (1 - fail), "p50_ms": p50, "p95_ms": p95,
            "p99_ms": p95 * 1.5, "failure_rate": fail, "requests": 1000}  # fmt: skip


PAST_KNEE = [point(10, BASE_P50, BASE_P95, 0.0), point(100, 20000.0, 60000.0, 0.3)]
MATCHING = [point(10, BASE_P50, BASE_P95, 0.0), point(100, BASE_P50, BASE_P95, 0.0)]


def write_scenario(tmp: Path, points: list[dict[str, Any]] | None, load: float | None = None, **server: Any) -> Path:
    """Three sites 09:00-13:00, 60 booked each; with ``points``, a profile in ``prof/`` (path relative)."""
    if points is not None:
        (tmp / "prof").mkdir(exist_ok=True)
        doc = {"schema": SCHEMA, "source": "synthetic", "kind": "loadtest", "points": points, "knee_rps": 10.0}
        write_json(tmp / "prof" / "server_profile.json", doc)
        server["profile"] = "prof/server_profile.json"
    if load is not None:
        server["load"] = [{"at": "00:00", "rps": load}]
    doc = {
        "name": "profiled",
        "seed": 7,
        "site_defaults": {"booked": 60, "opens": "09:00", "closes": "13:00",
                          "stations": {"verification": {"staff": 1, "service": "1min + exp(1min)", "needs_system": True,
                                                       "paper_service": "2min + exp(1min)"},
                                      "vaccination": {"staff": 2, "service": "3min + exp(1min)"}}},
        "sites": [{"name": f"s{i}"} for i in range(3)],
        "server": {"latency": "lognormal(2s, 1s)", "timeout": "30s", **server},
        "policies": {"wait": {"rule": "wait"}},
    }  # fmt: skip
    path = tmp / f"scenario-{load}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def totals(path: Path, reps: int) -> list[dict[str, float]]:
    sc = load_scenario(path)
    return [run_replication(sc, sc.seed, r).policies["wait"].total for r in range(reps)]


def test_past_the_knee_the_sites_do_worse_under_common_random_numbers(tmp_path: Path) -> None:
    below = totals(write_scenario(tmp_path, PAST_KNEE, load=5.0), 3)
    above = totals(write_scenario(tmp_path, PAST_KNEE, load=150.0), 3)
    for b, a in zip(below, above, strict=True):
        assert a["wait_minutes.mean"] > b["wait_minutes.mean"] + 1.0  # minutes
        assert a["vaccinated"] <= b["vaccinated"]
        assert a["blocked_minutes.verification"] > b["blocked_minutes.verification"]


def test_a_profile_matching_the_base_latency_gives_about_the_same_day(tmp_path: Path) -> None:
    plain = totals(write_scenario(tmp_path, None), 4)
    prof = totals(write_scenario(tmp_path, MATCHING, load=50.0), 4)
    for key in ("wait_minutes.mean", "utilisation.verification"):
        a, b = np.mean([t[key] for t in plain]), np.mean([t[key] for t in prof])
        assert b == pytest.approx(a, rel=0.1), key
    assert np.mean([t["vaccinated"] for t in prof]) == pytest.approx(np.mean([t["vaccinated"] for t in plain]), abs=2)


def test_same_seed_same_day_with_a_profile(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, PAST_KNEE, load=60.0)
    sc = load_scenario(path)
    one, two = run_replication(sc, 3, 1), run_replication(sc, 3, 1)
    assert one.policies["wait"].total == two.policies["wait"].total
    assert one.policies["wait"].series == two.policies["wait"].series


def test_server_load_interpolates_and_clamps(tmp_path: Path) -> None:
    write_scenario(tmp_path, PAST_KNEE)
    prof = read_profile(tmp_path / "prof" / "server_profile.json")
    server = Server.model_validate({"load": [{"at": "09:00", "rps": 10}, {"at": "10:00", "rps": 100},
                                             {"at": "11:00", "rps": 1000}]})  # fmt: skip
    load = ServerLoad(server, prof)
    nine, half, ten, late = (int(h * 12) for h in (9, 9.5, 10, 12))
    assert load.load[nine] == pytest.approx(10 + 90 / 12 / 2, rel=1e-6)  # bin middle, 2.5 min past
    assert math.exp(load.mu[0]) * 1000 == pytest.approx(BASE_P50)  # before 09:00: held at 10/s
    assert math.exp(load.mu[late]) == pytest.approx(20.0)  # past the last point: held at 100/s
    assert math.isinf(load.zfail[0]) and load.zfail[late] == pytest.approx(0.5244, abs=1e-3)  # ndtri(0.7)
    assert load.latency(0.0, 9.5 * 3600) > load.latency(0.0, 9.0 * 3600)
    assert math.isinf(load.latency(1.0, 12 * 3600))  # u = 0.84 > 1 - 0.3: the slow tail times out
    assert load.latency(0.0, 12 * 3600) == pytest.approx(20.0)  # median at u = 0.5
    assert half < ten


def test_requests_series_counts_every_attempt(tmp_path: Path) -> None:
    sc = load_scenario(write_scenario(tmp_path, None))
    day = run_replication(sc, sc.seed, 0).policies["wait"]
    req = np.asarray(day.series["requests"])
    # Two system steps per beneficiary (verification, recording), nothing fails: exactly 2 per vaccinated.
    assert req.sum() == 2 * day.total["vaccinated"]
    assert req[: 9 * 12].sum() == 0 and req[9 * 12 : 14 * 12].sum() > 0


def test_scenario_errors_name_the_profile_field(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, PAST_KNEE, load=5.0)
    sc = load_scenario(path)
    assert sc.server.profile == str((tmp_path / "prof" / "server_profile.json").resolve())
    (tmp_path / "prof" / "server_profile.json").unlink()
    with pytest.raises(ScenarioError, match=r"server.profile: not a usable server profile: .*missing"):
        load_scenario(path)
    (tmp_path / "prof" / "server_profile.json").write_text('{"schema": "other"}')
    with pytest.raises(ScenarioError, match=r":\d+: server.profile: .*schema"):
        load_scenario(path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nserver:\n  load: [{at: '10:00', rps: 1}, {at: '09:00', rps: 2}]\n")
    with pytest.raises(ScenarioError, match="must increase"):
        load_scenario(bad)


def test_a_rewritten_profile_is_read_again(tmp_path: Path) -> None:
    from simulation.serverload import server_load

    sc = load_scenario(write_scenario(tmp_path, PAST_KNEE, load=150.0))
    first = server_load(sc.server)
    assert first is not None and math.exp(first.mu[0]) == pytest.approx(20.0)
    write_scenario(tmp_path, MATCHING, load=150.0)  # same path, new points
    again = server_load(sc.server)
    assert again is not None and math.exp(again.mu[0]) * 1000 == pytest.approx(BASE_P50)

"""The simulated day's request curve, compressed into an open-model load shape."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vaxdrill.bridges.arrivals import SCHEMA, arrival_curve, write_arrival_curve
from vaxdrill.core.errors import ArrivalCurveError
from vaxdrill.core.scenario.model import Scenario


def scenario(**load: object) -> Scenario:
    """Two sites 09:00-13:00; the server is down 10:00-10:40, so the held transactions burst at 10:40."""
    return Scenario.model_validate(
        {
            "name": "curve",
            "seed": 3,
            "sites": [
                {"name": "a", "booked": 80, "opens": "09:00", "closes": "13:00"},
                {"name": "b", "booked": 80, "opens": "09:30", "closes": "13:00"},
            ],
            "server": {"outages": [{"start": "10:00", "end": "10:40"}], "retries": 0},
            "policies": {"wait": {"rule": "wait"}, "paper": {"rule": "offline_first"}},
            "load": {"compression": 60, **load},
        }
    )


def test_curve_starts_at_opening_peaks_with_the_transactions_and_is_compressed(tmp_path: Path) -> None:
    sc = scenario(arrival_rate=8)
    curve = arrival_curve(sc, replications=2)
    assert curve["schema"] == SCHEMA and curve["policy"] == "wait"
    day = curve["day"]
    clocks = [d["clock"] for d in day]
    nine = clocks.index("09:00")
    assert all(d["total_rpm"] == 0 for d in day[:nine]) and day[nine]["total_rpm"] > 0
    assert all(d["site_rpm"] == 0 for d in day[:nine])
    # Load-test time 0 is the first opening; 5 day minutes are 300 / 60 = 5 load-test seconds.
    pts = curve["points"]
    assert pts[0][0] == 0.0 and pts[1][0] == pytest.approx(5.0)
    assert curve["duration_s"] == pytest.approx(4 * 3600 / 60)
    assert len(pts) == 4 * 12 and pts[-1][0] == pytest.approx(curve["duration_s"] - 5.0)
    # The peak is where the simulated sites' transactions peak (the burst when the server returns).
    site = np.array([d["site_rpm"] for d in day])
    rates = np.array([p[1] for p in pts])
    peak_bin = int(np.argmax(site))
    assert clocks[peak_bin] == "10:40" == curve["peak_clock"]
    assert pts[int(np.argmax(rates))][0] == pytest.approx((peak_bin - nine) * 300 / 60)
    assert rates.max() == pytest.approx(8.0)  # scaled to load.arrival_rate
    # Inside the outage nothing reaches the server from the sites; citizens are still there.
    ten = clocks.index("10:00")
    assert all(d["site_rpm"] == 0 for d in day[ten + 1 : ten + 8])
    # Citizens: 80 booked x 5 requests over each site's session, per minute.
    assert day[ten + 2]["citizen_rpm"] == pytest.approx(80 * 5 / 240 + 80 * 5 / 210, abs=1e-4)
    path = write_arrival_curve(tmp_path, curve)
    assert json.loads(path.read_text())["points"] == pts


def test_other_policy_and_users_fallback() -> None:
    curve = arrival_curve(scenario(), policy="paper", replications=1)
    assert max(p[1] for p in curve["points"]) == pytest.approx(50.0)  # load.users, the default
    # Paper from the start: no online transactions during the day, the records are entered after close.
    assert curve["requests_after_last_closing"] > 0
    with pytest.raises(ArrivalCurveError, match="unknown policy"):
        arrival_curve(scenario(), policy="nope", replications=1)

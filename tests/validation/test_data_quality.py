"""Data quality and the next day (issue 19, items 5 and 6): errors grow with mode switches as the
model says; what is visible at reporting time plus the backlog is what was vaccinated."""

from __future__ import annotations

import math

import numpy as np

from simulation.experiment import run_replications
from simulation.quality import next_day, record_errors
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.quality import Reporting

# One site, the server down for 30 min every hour from 10:00: offline_after switches to paper and
# back several times a day; wait never switches.
FLIPPING = """
name: flipping
seed: 4
site_defaults:
  booked: 150
  opens: "09:00"
  closes: "17:00"
  paper: {back_entry: "1min", back_entry_when: after_close}
sites: [{name: A}, {name: B}]
server:
  outages:
    - {start: "10:00", end: "10:30"}
    - {start: "11:00", end: "11:30"}
    - {start: "12:00", end: "12:30"}
    - {start: "13:00", end: "13:30"}
    - {start: "14:00", end: "14:30"}
policies:
  wait: {rule: wait}
  flip: {rule: offline_after, after: 5min, back_after: 5min}
"""


def _run(write_yaml, extra: str, reps: int = 20):  # type: ignore[no-untyped-def]
    scenario = load_scenario(write_yaml(FLIPPING + extra))
    return run_replications(scenario, reps, scenario.seed, ["wait", "flip"])


def test_expected_errors_grow_linearly_with_switches_and_the_draws_follow_them() -> None:
    rng = np.random.default_rng(1)
    base, per = 0.01, 0.03
    n = 20_000
    for k in range(5):
        ks = np.full(n, k)
        expected, from_switches, drawn = record_errors(ks, base, per, rng.random(n))
        assert math.isclose(expected, n * (base + per * k), rel_tol=1e-9)
        assert math.isclose(from_switches, n * per * k, rel_tol=1e-9, abs_tol=1e-6)
        p = base + per * k
        assert abs(drawn - n * p) < 4 * math.sqrt(n * p * (1 - p)), (k, drawn, n * p)


def test_without_per_switch_growth_reconciliation_is_the_flat_share(write_yaml) -> None:  # type: ignore[no-untyped-def]
    plain = _run(write_yaml, "")
    flat = _run(write_yaml, "data_quality: {reconciliation_per_switch: 0}\n")
    grown = _run(write_yaml, "data_quality: {reconciliation_per_switch: 30%}\n")
    for a, b, c in zip(plain, flat, grown, strict=True):
        assert a.policies["flip"].total["reconciliation"] == b.policies["flip"].total["reconciliation"]
        # A policy that never switches makes no paper records, hence nothing switch-driven.
        assert c.policies["wait"].total["reconciliation"] == a.policies["wait"].total["reconciliation"]
    more = sum(r.policies["flip"].total["reconciliation"] for r in grown)
    less = sum(r.policies["flip"].total["reconciliation"] for r in plain)
    papers = sum(r.policies["flip"].total["paper_records"] for r in plain)
    assert papers > 200 and more > less + 0.1 * papers  # every record after >= 1 switch: +30 points


def test_duplicates_follow_the_switches_within_a_binomial_bound(write_yaml) -> None:  # type: ignore[no-untyped-def]
    results = _run(write_yaml, "data_quality: {duplicate_base: 1%, duplicate_per_switch: 2%}\n", reps=30)
    for r in results:
        wait, flip = r.policies["wait"].total, r.policies["flip"].total
        assert wait["mode_switches"] == 0
        assert wait["duplicates_from_switches_expected"] == 0
        assert math.isclose(wait["duplicates_expected"], 0.01 * wait["vaccinated"], rel_tol=1e-9)
        assert flip["mode_switches"] >= 4  # at least two paper episodes per site
        assert flip["duplicates_from_switches_expected"] > 0
    expected = sum(r.policies["flip"].total["duplicates_expected"] for r in results)
    drawn = sum(r.policies["flip"].total["duplicates"] for r in results)
    assert abs(drawn - expected) < 4 * math.sqrt(expected), (drawn, expected)  # Var <= sum of p


def test_next_day_clearing_is_hand_computable() -> None:
    rep = Reporting(time="19:00", next_day_start="09:00", next_day_deadline="12:00", next_day_records_per_hour=30.0)
    assert rep.next_day_start == 9 * 3600.0
    # 75 records at 30 an hour from 09:00: cleared at 11:30; 90 entered by 12:00 would be needed for 90.
    assert next_day(75, rep) == (9 * 3600.0 + 2.5 * 3600.0, 75)
    cleared, by_deadline = next_day(100, rep)
    assert cleared == 9 * 3600.0 + 100 / 30 * 3600.0 and by_deadline == 90
    assert next_day(0, rep) == (0.0, 0)


def test_visible_at_report_plus_backlog_is_vaccinated(write_yaml) -> None:  # type: ignore[no-untyped-def]
    # 25 min per record from 17:00 (after close, system up): 16 records entered by midnight; the
    # rest at 12 an hour from 09:00 the next day, so 12 by the 10:00 deadline.
    text = FLIPPING.replace('back_entry: "1min"', 'back_entry: "25min"') + (
        "checkpoints: ['12:45']\n"
        "reporting: {time: '12:45', next_day_start: '09:00', next_day_deadline: '10:00',"
        " next_day_records_per_hour: 12}\n"
    )
    scenario = load_scenario(write_yaml(text))
    for r in run_replications(scenario, 5, scenario.seed, ["flip"]):
        for m in r.policies["flip"].sites.values():
            assert m["visible_at_report"] + m["backlog_at_report"] == m["vaccinated_by.12:45"]
            assert m["backlog_at_report"] > 0  # paper records wait for the close
            left = m["backlog_at_midnight"]
            assert m["paper_records"] > 40 and left == m["paper_records"] - 16
            assert m["backlog_at_next_deadline"] == max(0, left - 12)
            assert m["visible_at_next_deadline"] == m["vaccinated"] - max(0, left - 12)
            assert m["cleared_by_next_deadline"] == float(left <= 12)
            assert m["next_day_cleared_minutes"] == (9 * 3600 + left / 12 * 3600) / 60

"""District-wide order (issue 19, item 2): paper once k of n sites have failed, the order reaching
each site after its own random delay; the delays follow their distribution."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simulation.availability import Timeline
from simulation.district import failed_at, order_delays, order_time
from simulation.experiment import run_replications
from simulation.model import realise
from vaxdrill.core.errors import ScenarioError
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.policies import DistrictOrder

DISTRICT = """
name: district
seed: 8
site_defaults:
  booked: 60
  opens: "09:00"
  closes: "17:00"
  arrivals: {no_show: 0%, no_show_without_sms: 0%, patience: null, punctuality_sd: 0s}
sites:
  - {name: A, connectivity: {outages: [{start: "10:00", end: "20:00"}]}}
  - {name: B, connectivity: {outages: [{start: "11:00", end: "20:00"}]}}
  - {name: C, connectivity: {outages: [{start: "12:00", end: "12:10"}]}}
  - {name: D}
policies:
  order_2: {rule: district_order, sites_failed: 2, after: 30min, delay: "exp(1h)"}
  order_3: {rule: district_order, sites_failed: 3, after: 30min, delay: "exp(1h)"}
"""


def test_the_order_is_given_when_the_kth_site_has_failed(write_yaml) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(write_yaml(DISTRICT))
    day = realise(scenario, scenario.seed, 0)
    opens = [s.opens for s in scenario.sites]
    two, three = (p for p in scenario.policies.values() if isinstance(p, DistrictOrder))
    # A fails at 10:30, B at 11:30; C's 10-minute outage is no failure, D never fails.
    assert [failed_at(tl, 9 * 3600, 1800) for tl in day.timelines] == [10.5 * 3600, 11.5 * 3600, math.inf, math.inf]
    assert order_time(two, day.timelines, opens) == 11.5 * 3600
    assert order_time(three, day.timelines, opens) == math.inf
    assert failed_at(Timeline([]), 0.0, 60.0) == math.inf


def test_each_site_goes_to_paper_when_its_order_arrives(write_yaml) -> None:  # type: ignore[no-untyped-def]
    text = (
        DISTRICT
        + """  soon: {rule: district_order, sites_failed: 2, after: 30min, delay: "5min"}
  after_midnight: {rule: district_order, sites_failed: 2, after: 30min, delay: "16h"}
"""
    )
    scenario = load_scenario(write_yaml(text))
    [res] = run_replications(scenario, 1, seed=3)
    soon, late, never = (res.policies[p].sites for p in ("soon", "after_midnight", "order_3"))
    # The order (11:30) reaches D, whose system never fails, at 11:35: from then on D works on
    # paper; 60 booked evenly over 8 hourly slots from 09:00, so at least the 5.5 slots after 11:35.
    assert soon["D"]["paper_records"] >= 5 * 60 // 8
    assert soon["D"]["paper_records"] < 60
    assert late["D"]["paper_records"] == 0 and late["D"]["vaccinated"] == 60  # the order never arrives
    assert all(s["paper_records"] == 0 for s in never.values())  # 3 sites never fail: no order
    # A is down from 10:00 to 20:00: without the order its people wait for the system until 20:00.
    assert late["A"]["overtime_minutes"] >= 180 > soon["A"]["overtime_minutes"]


def test_order_delays_follow_their_distribution() -> None:
    policy = DistrictOrder(rule="district_order", sites_failed=1, delay="30min + exp(1h)")  # type: ignore[arg-type]
    delays = np.concatenate([order_delays(policy, "p", 11, r, 40) for r in range(100)])
    # Kolmogorov-Smirnov against 30 min + exponential(mean 1 h): 4,000 delays.
    ks = stats.kstest(delays, stats.expon(loc=1800, scale=3600).cdf)
    assert ks.pvalue > 0.001, ks
    # Each replication and policy has its own delays; the same seed gives the same ones.
    assert order_delays(policy, "p", 11, 0, 40) == order_delays(policy, "p", 11, 0, 40)
    assert order_delays(policy, "p", 11, 0, 40) != order_delays(policy, "q", 11, 0, 40)
    assert order_delays(policy, "p", 11, 0, 40) != order_delays(policy, "p", 11, 1, 40)


def test_the_planner_sentence_names_the_district_order(write_yaml) -> None:  # type: ignore[no-untyped-def]
    from simulation.district import order_assumptions

    scenario = load_scenario(write_yaml(DISTRICT))
    assert order_assumptions(scenario.policies.values()) == [
        "a district order is given when 2 sites have been down 30 min and reaches each site after a random "
        "delay (mean 60 min)",
        "a district order is given when 3 sites have been down 30 min and reaches each site after a random "
        "delay (mean 60 min)",
    ]


def test_an_order_waiting_for_more_sites_than_the_district_has_is_an_input_error(write_yaml) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(
        ScenarioError, match=r"policies.order_5.sites_failed: expected at most the 4 site\(s\), found 5"
    ):
        load_scenario(write_yaml(DISTRICT + '  order_5: {rule: district_order, sites_failed: 5, delay: "1h"}\n'))

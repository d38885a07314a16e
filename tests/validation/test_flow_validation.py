"""Station flows against queueing theory: Erlang C inside a longer flow, a Jackson tandem, routing.

Poisson walk-ins and exponential service make each staffed station an M/M/c queue; by Burke's
theorem its departures are Poisson again, so in an open Jackson network every station behaves as
an isolated M/M/c queue at its own arrival rate (Jackson 1957). Service is in seconds and the day
20 hours long, so the empty-start transient is short against thousands of beneficiaries.
"""

from __future__ import annotations

import math

import pytest

from simulation.experiment import ci95, run_replications
from simulation.flow import FlowSiteModel
from simulation.model import realise
from tests.validation.test_simulation_validation import erlang_c_wait
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.flow import expected_visits
from vaxdrill.core.scenario.policies import Wait

BASE = """
name: flow-validation
sites:
  - name: Clinic
    booked: 0
    opens: "01:00"
    closes: "21:00"
    at_close: finish
    arrivals: {{walk_ins_per_hour: {rate}, patience: null}}
    vials: {{doses_per_vial: 10, discard_after: 24h}}
    flow:
{flow}
policies:
  wait: {{rule: wait}}
"""


def scenario(write_yaml, rate: float, flow: str):  # type: ignore[no-untyped-def]
    return load_scenario(write_yaml(BASE.format(rate=rate, flow=flow)))


def test_mmc_station_inside_a_longer_flow_matches_erlang_c(write_yaml) -> None:  # type: ignore[no-untyped-def]
    # 360/h: check-in M/M/3 at rho 0.5, vaccination M/M/2 at rho 0.8, then a self-service observation.
    flow = """
      - {name: check_in, staff: 3, service: exp(15s)}
      - {name: vaccination, staff: 2, service: exp(16s)}
      - {name: observation, staff: 0, service: 15min}
"""
    sc = scenario(write_yaml, 360, flow)
    results = run_replications(sc, 12, seed=21)
    lam = 360 / 3600
    for name, c, mean in (("check_in", 3, 15.0), ("vaccination", 2, 16.0)):
        waits = ci95([r.policies["wait"].total[f"wait_minutes.{name}.mean"] * 60 for r in results])
        expected = erlang_c_wait(lam, 1 / mean, c)
        assert waits.lo <= expected <= waits.hi, (name, waits, expected)
        util = ci95([r.policies["wait"].total[f"utilisation.{name}"] for r in results])
        assert util.mean == pytest.approx(lam * mean / c, rel=0.03)
    # Nobody queues at a self-service station.
    assert all(r.policies["wait"].total["wait_minutes.observation.max"] == 0.0 for r in results)
    assert "utilisation.observation" not in results[0].policies["wait"].total


def test_two_station_tandem_matches_the_jackson_network(write_yaml) -> None:  # type: ignore[no-untyped-def]
    # Two M/M/1 stations in tandem at rho 0.6 and 0.75: time from arrival to the start of the
    # second service is the first station's sojourn 1/(mu1 - lambda) plus the second's M/M/1 wait.
    flow = """
      - {name: verification, staff: 1, service: exp(12s)}
      - {name: vaccination, staff: 1, service: exp(15s)}
"""
    sc = scenario(write_yaml, 180, flow)
    results = run_replications(sc, 12, seed=5)
    lam, mu1, mu2 = 180 / 3600, 1 / 12, 1 / 15
    jackson = 1 / (mu1 - lam) + (lam / mu2) / (mu2 - lam)
    total = ci95([r.policies["wait"].total["wait_minutes.mean"] * 60 for r in results])
    assert total.lo <= jackson <= total.hi, (total, jackson)
    # Product form: each station's mean queue length is its isolated M/M/1 value rho^2 / (1 - rho).
    for name, rho in (("verification", 0.6), ("vaccination", 0.75)):
        queue = ci95([r.policies["wait"].total[f"queue_length_by.{name}"] for r in results])
        assert queue.lo <= rho**2 / (1 - rho) <= queue.hi, (name, queue)


def test_routing_probabilities_give_the_expected_visit_counts(write_yaml) -> None:  # type: ignore[no-untyped-def]
    # Screening is visited by 30%; after the dose 60% book a second dose (of whom 25% also see a
    # counsellor), 40% go straight to observation; 10% of the booked leave after booking.
    flow = """
      - {name: check_in, staff: 4, service: exp(10s)}
      - {name: screening, staff: 4, service: exp(10s), probability: 30%}
      - {name: vaccination, staff: 6, service: exp(20s), next: {scheduling: 60%, observation: 40%}}
      - {name: scheduling, staff: 4, service: exp(10s), next: {counselling: 25%, observation: 65%}}
      - {name: counselling, staff: 2, service: exp(10s)}
      - {name: observation, staff: 0, service: 5min}
"""
    sc = scenario(write_yaml, 300, flow)
    site = sc.sites[0]
    assert site.flow is not None
    expected = expected_visits(site.flow)
    assert expected == pytest.approx([1.0, 0.3, 1.0, 0.6, 0.15, 0.6 * 0.9 + 0.4])
    counts = [0] * len(site.flow)
    arrived = 0
    for rep in range(3):
        day = realise(sc, 9, rep)
        model = FlowSiteModel(site, day.plans[0], day.timelines[0], sc.server, Wait(rule="wait"), []).run()
        arrived += len(day.plans[0].arrivals)
        for k, f in enumerate(site.flow):
            counts[k] += len(model.stations[f.name].waits)
        assert model.turned_away["left_unvaccinated"] == 0
    for k, f in enumerate(site.flow):
        share = counts[k] / arrived
        sd = math.sqrt(max(expected[k] * (1 - expected[k]), 1e-12) / arrived)
        assert abs(share - expected[k]) <= 4 * sd + 1e-12, (f.name, share, expected[k])


def test_routing_out_before_the_dose_is_counted_as_left_unvaccinated(write_yaml) -> None:  # type: ignore[no-untyped-def]
    flow = """
      - {name: screening, staff: 2, service: exp(10s), next: {vaccination: 80%}}
      - {name: vaccination, staff: 2, service: exp(20s)}
"""
    sc = scenario(write_yaml, 120, flow)
    [r] = run_replications(sc, 1, seed=3)
    total = r.policies["wait"].total
    left = total["turned_away_by.left_unvaccinated"]
    came = total["vaccinated"] + left
    assert left / came == pytest.approx(0.2, abs=4 * math.sqrt(0.16 / came))


def test_a_batch_station_serves_groups_of_at_most_its_size(write_yaml) -> None:  # type: ignore[no-untyped-def]
    # One counsellor runs 10-minute group sessions for up to 5; 60 arrive an hour (10 per session
    # could come), so sessions run full and the counsellor is busy all day.
    flow = """
      - {name: counselling, staff: 1, service: 10min, batch: 5}
      - {name: vaccination, staff: 4, service: exp(30s)}
"""
    sc = scenario(write_yaml, 60, flow)
    site = sc.sites[0]
    day = realise(sc, 1, 0)
    model = FlowSiteModel(site, day.plans[0], day.timelines[0], sc.server, Wait(rule="wait"), []).run()
    st = model.stations["counselling"]
    sessions = round(st.busy / 600)
    served = len(st.waits)
    assert served > 0 and sessions > 0
    assert served <= 5 * sessions
    assert served / sessions > 4.5  # groups fill up under this load

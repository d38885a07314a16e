"""Shifts and roles (issue 19, item 3): shift end, breaks, staff-hours, a vaccinator who records and a
verifier who does back-entry, against queueing theory and the model's own bookkeeping."""

from __future__ import annotations

import pytest

from simulation.experiment import ci95, run_replications
from simulation.model import realise
from simulation.site import SiteModel
from vaxdrill.core.scenario import Scenario, load_scenario

SATURATED = """
name: saturated
seed: 9
checkpoints: ["11:00"]
site_defaults:
  booked: 200
  opens: "09:00"
  closes: "10:00"
  arrivals: {slot_length: 1h, punctuality_sd: 0s, no_show: 0%, no_show_without_sms: 0%, patience: null}
  stations:
    entry: null
    verification: null
    vaccination: {service: exp(2min)}
    recording: {service: exp(2min)}
    observation: {duration: 1min}
sites: [{name: A}, {name: B}, {name: C}, {name: D}]
"""


def _with(scenario: Scenario, **site_update: object) -> Scenario:
    sites = [s.model_copy(update=site_update) for s in scenario.sites]
    return scenario.model_copy(update={"sites": sites})


def test_a_vaccinator_who_records_halves_a_saturated_stations_throughput(write_yaml) -> None:  # type: ignore[no-untyped-def]
    """Saturated single server: throughput is 1 / mean cycle. Separate recorder: 1 / 2 min (the
    vaccinator is the bottleneck, recording runs alongside); vaccinator records: 1 / (2 + 2) min."""
    base = load_scenario(write_yaml(SATURATED))
    shared = _with(base, roles=base.sites[0].roles.model_copy(update={"vaccinator_records": True}))
    n = 8

    def per_hour(sc: Scenario) -> list[float]:
        # 200 booked arrive between 09:00 and 10:00: the queue never empties by 11:00.
        res = run_replications(sc, n, seed=4)
        return [r.policies["wait"].total["vaccinated_by.11:00"] / 4 / 2 for r in res]

    sep, both = ci95(per_hour(base)), ci95(per_hour(shared))
    assert sep.lo - 1 < 30 < sep.hi + 1, sep  # 60 / 2 min per hour (1 for the first arrival's delay)
    assert both.lo - 0.5 < 15 < both.hi + 0.5, both
    assert both.mean / sep.mean == pytest.approx(0.5, abs=0.04)


SHIFT = """
name: shift
seed: 2
site_defaults:
  booked: 150
  opens: "09:00"
  closes: "15:00"
  arrivals: {punctuality_sd: 0s, no_show: 0%, no_show_without_sms: 0%, patience: null}
  stations:
    entry: null
    recording: null
    verification: {service: 1min}
    vaccination: {service: 3min}
    observation: {duration: 30min}
  shift:
    ends: "16:00"
    at_shift_end: rebook
    breaks: [{start: "12:00", duration: 30min, stations: [vaccination]}]
sites: [{name: A}]
"""


def _model(scenario: Scenario) -> SiteModel:
    day = realise(scenario, scenario.seed, 0)
    site, plan, tl = scenario.sites[0], day.plans[0], day.timelines[0]
    return SiteModel(site, plan, tl, scenario.server, scenario.policies.get("wait") or _wait(), [], day.load).run()


def _wait():  # type: ignore[no-untyped-def]
    from vaxdrill.core.scenario.policies import Wait

    return Wait(rule="wait")


def test_shift_end_rebooks_whoever_waits_and_a_break_stops_a_one_person_station(write_yaml) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(write_yaml(SHIFT))
    m = _model(scenario)
    # 150 booked at 3 min each on one vaccinator is 7.5 h of work: the 6 h session + 1 h overtime
    # minus the 30 min break serves 130 (less a few minutes idle before the queue builds up), the
    # rest are rebooked when staff leave at 16:00.
    assert m.turned_away["rebooked"] == 150 - m.vaccinated
    assert m.vaccinated == pytest.approx((7 * 60 - 30) / 3, abs=3)
    assert max(m.vacc_times) <= 16 * 3600 + 3 * 60  # the one in service at 16:00 is finished
    # Nobody is vaccinated during the break (the dose started before 12:00 ends by 12:03).
    assert not [t for t in m.vacc_times if 12 * 3600 + 180 < t < 12.5 * 3600]
    # Staff-hours: 2 people (verifier, vaccinator) + 1 back-entry clerk from 09:00 to the last
    # departure (the last vaccinated leaves observation 30 min after 16:00), less the break.
    res = run_replications(scenario, 1, seed=scenario.seed)[0].policies["wait"].sites["A"]
    end = 9 + res["span_minutes"] / 60
    assert res["staff"] == 3
    assert res["staff_hours"] == pytest.approx(3 * (end - 9) - 0.5)
    assert res["staff_hours_after_close"] == pytest.approx(3 * (end - 15))
    assert res["turned_away_by.rebooked"] == 150 - res["vaccinated"]


BACK_ENTRY = """
name: back-entry
seed: 5
site_defaults:
  booked: 80
  opens: "09:00"
  closes: "17:00"
  arrivals: {no_show: 0%, no_show_without_sms: 0%, patience: null}
  paper: {back_entry: 1min, reconciliation_share: 0%}
  stations:
    entry: null
    recording: null
    verification: {service: 1min, needs_system: true, paper_service: 2min}
sites: [{name: A}]
policies:
  offline_first: {rule: offline_first}
"""


def test_a_verifier_who_does_back_entry_spends_the_records_time_at_the_desk(write_yaml) -> None:  # type: ignore[no-untyped-def]
    """All day on paper: the verifier works 2 min per beneficiary, then 1 min per record after close."""
    scenario = load_scenario(write_yaml(BACK_ENTRY))
    shared = _with(scenario, roles=scenario.sites[0].roles.model_copy(update={"verifier_back_entry": True}))
    day = realise(scenario, scenario.seed, 0)

    def run(sc: Scenario) -> SiteModel:
        site, plan, tl = sc.sites[0], day.plans[0], day.timelines[0]
        pol = sc.policies["offline_first"]
        return SiteModel(site, plan, tl, sc.server, pol, [(0.0, True)], day.load).run()

    alone, both = run(scenario), run(shared)
    n = both.vaccinated
    assert n == alone.vaccinated == 80 and len(both.backlog.entered_times) == n
    assert alone.stations["verification"].busy == pytest.approx(n * 120)
    assert both.stations["verification"].busy == pytest.approx(n * 120 + n * 60)
    # The verifier enters the records one after another from close (one person, 1 min each).
    assert both.backlog.entered_times[-1] == pytest.approx(17 * 3600 + n * 60)
    res = run_replications(shared, 1, seed=scenario.seed)[0].policies["offline_first"].sites["A"]
    assert res["staff"] == 2  # verifier and vaccinator, no back-entry clerk

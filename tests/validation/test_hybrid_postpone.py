"""Hybrid policies and postpone-and-rebook (issue 19, item 2).

Hybrid: verify on paper during a fallback, enter the dose records online later the same day.
Postpone: a share of those arriving during a fallback go home with a new appointment.
"""

from __future__ import annotations

import math

import pytest

from simulation.experiment import run_replications
from simulation.model import realise, simulate_policy
from simulation.planner import assumptions
from simulation.site import SiteModel
from vaxdrill.core.errors import ScenarioError
from vaxdrill.core.scenario import load_scenario

SITE = """
name: hybrid
seed: 5
site_defaults:
  booked: 120
  opens: "09:00"
  closes: "17:00"
  arrivals: {{no_show: 0%, no_show_without_sms: 0%, patience: null}}
  paper: {{back_entry_when: after_close}}
sites:
  - {{name: A{outage}}}
policies:
  wait: {{rule: wait}}
  paper: {{rule: offline_after, after: 15min}}
  hybrid: {{rule: offline_after, after: 15min, hybrid: true}}
"""
OUTAGE = ', connectivity: {outages: [{start: "10:00", end: "12:00"}]}'
HYBRID_KEYS = ("same_day_", "postpone_affected", "turned_away_by.postponed")


def _run(write_yaml, outage: str, n: int = 6):  # type: ignore[no-untyped-def]
    scenario = load_scenario(write_yaml(SITE.format(outage=outage)))
    return run_replications(scenario, n, seed=scenario.seed)


def _plain(m: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in m.items() if not k.startswith(HYBRID_KEYS)}


def test_without_an_outage_the_hybrid_is_online_exactly(write_yaml) -> None:  # type: ignore[no-untyped-def]
    for res in _run(write_yaml, ""):
        hybrid, wait = res.policies["hybrid"].total, res.policies["wait"].total
        assert hybrid["same_day_records"] == 0
        assert _plain(hybrid) == _plain(wait)
        assert res.policies["hybrid"].series == res.policies["wait"].series


def test_after_an_outage_that_ends_before_close_every_hybrid_record_is_online_the_same_day(write_yaml) -> None:  # type: ignore[no-untyped-def]
    for res in _run(write_yaml, OUTAGE):
        hybrid, paper, wait = (res.policies[p].total for p in ("hybrid", "paper", "wait"))
        # The same switches as full paper: the same people verified on paper, the same doses.
        assert hybrid["same_day_records"] == paper["paper_records"] > 0
        assert hybrid["vaccinated"] >= wait["vaccinated"]
        # Unlike full paper (after-close back-entry), nothing is left for back-entry and every
        # record is entered online before the session closes.
        assert hybrid["same_day_entered"] == hybrid["same_day_records"]
        assert hybrid["same_day_entered_by_close"] == hybrid["same_day_records"]
        assert hybrid["same_day_left_for_back_entry"] == 0
        assert hybrid["paper_records"] == 0 and hybrid["reconciliation"] == 0
        assert paper["backlog_at_close"] == paper["paper_records"]


def test_hybrid_entries_wait_for_the_system_and_the_deadline(write_yaml) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(write_yaml(SITE.format(outage=OUTAGE)))
    day = realise(scenario, 5, 0)
    model = SiteModel(
        scenario.sites[0], day.plans[0], day.timelines[0], scenario.server, scenario.policies["hybrid"],
        [(9.25 * 3600 + 3600, True), (12.25 * 3600, False)],
    ).run()  # fmt: skip
    same = model.same_day
    assert same is not None and same.held_times
    assert min(same.entered_times) >= 12.25 * 3600  # only once the site is back online
    # A deadline before the system returns: every record is left for back-entry.
    late = scenario.policies["hybrid"].model_copy(update={"record_by": 11 * 3600.0})
    day = realise(scenario, 5, 0)
    model = SiteModel(
        scenario.sites[0], day.plans[0], day.timelines[0], scenario.server, late,
        [(10.25 * 3600, True), (12.25 * 3600, False)],
    ).run()  # fmt: skip
    assert model.same_day is not None and not model.same_day.entered_times
    assert model.same_day.left == len(model.same_day.held_times) == len(model.backlog.paper_times) > 0


POSTPONE = """
name: postpone
seed: 9
site_defaults:
  booked: 200
  opens: "09:00"
  closes: "17:00"
  arrivals: {{no_show: 0%, no_show_without_sms: 0%, patience: null}}
sites:
  - {{name: A, connectivity: {{outages: [{{start: "09:30", end: "13:00"}}]}}}}
  - {{name: B}}
policies:
  paper: {{rule: offline_after, after: 15min}}
  paper_0: {{rule: offline_after, after: 15min, postpone_share: 0}}
  paper_s: {{rule: offline_after, after: 15min, postpone_share: {share}}}
  first_all: {{rule: offline_first, postpone_share: 1}}
"""


def test_share_zero_changes_nothing(write_yaml) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(write_yaml(POSTPONE.format(share=0.3)))
    for res in run_replications(scenario, 4, seed=9):
        assert res.policies["paper_0"].total == res.policies["paper"].total
        assert res.policies["paper_0"].series == res.policies["paper"].series


@pytest.mark.parametrize("share", [0.1, 0.3, 0.7])
def test_share_s_rebooks_about_s_of_those_affected(write_yaml, share: float) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(write_yaml(POSTPONE.format(share=share)))
    rebooked = affected = 0.0
    for res in run_replications(scenario, 10, seed=9):
        t = res.policies["paper_s"].total
        rebooked += t["turned_away_by.postponed"]
        affected += t["postpone_affected"]
        b = res.policies["paper_s"].sites["B"]  # never in fallback: nobody postponed
        assert b["postpone_affected"] == 0 and b["turned_away_by.postponed"] == 0
        assert t["turned_away_by.postponed"] <= t["postpone_affected"]
        # Postponed people are turned away, never vaccinated: everyone who came is accounted for.
        came = t["booked"] + t["walk_ins"] - t["no_shows"]
        assert t["vaccinated"] + t["turned_away"] + t["still_inside"] == came
        assert t["vaccinated"] == res.policies["paper"].total["vaccinated"] - t["turned_away_by.postponed"]
    # Binomial: within 4 standard deviations (plus one) of share x affected.
    sd = math.sqrt(affected * share * (1 - share))
    assert affected > 500
    assert abs(rebooked - share * affected) <= 4 * sd + 1


def test_everyone_postponed_means_nobody_vaccinated(write_yaml) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(write_yaml(POSTPONE.format(share=0.3)))
    [res] = run_replications(scenario, 1, seed=9)
    t = res.policies["first_all"].total
    assert t["vaccinated"] == 0
    came = t["booked"] + t["walk_ins"] - t["no_shows"]
    admitted = came - t["turned_away_by.after_close"] - t["turned_away_by.waiting_area_full"]
    assert t["turned_away_by.postponed"] == t["postpone_affected"] == admitted > 0.9 * came


def test_a_share_above_one_is_a_clear_error(write_yaml) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ScenarioError, match=r"policies\.paper_s\.postpone_share"):
        load_scenario(write_yaml(POSTPONE.format(share=1.5)))


def test_postponement_does_not_change_other_policies(write_yaml) -> None:  # type: ignore[no-untyped-def]
    """The postpone stream is drawn only when a policy postpones, and never moves other draws."""
    with_p = load_scenario(write_yaml(POSTPONE.format(share=0.3)))
    without = with_p.model_copy(update={"policies": {"paper": with_p.policies["paper"]}})
    a, b = realise(with_p, 9, 0), realise(without, 9, 0)
    assert a.plans[0].postpone and not b.plans[0].postpone
    assert simulate_policy(with_p, a, "paper", dict(with_p.policies)).total == (
        simulate_policy(without, b, "paper", dict(without.policies)).total
    )


def test_the_planner_names_what_the_options_assume(write_yaml) -> None:  # type: ignore[no-untyped-def]
    with_options = assumptions(load_scenario(write_yaml(POSTPONE.format(share=0.3))))
    assert "30%, 100% of those arriving during a fallback are rebooked and do not come back that day" in with_options
    plain = load_scenario(write_yaml(SITE.format(outage=OUTAGE)))
    assert any(a.startswith("hybrid records are entered online") for a in assumptions(plain))
    without = plain.model_copy(update={"policies": {"wait": plain.policies["wait"]}})
    assert not any("hybrid" in a or "rebooked" in a for a in assumptions(without))


TEAM = """
name: team
seed: 11
site_defaults:
  booked: 150
  opens: "09:00"
  closes: "17:00"
  connectivity: {{outages: [{{start: "10:00", end: "12:30"}}]}}
  {flow}
sites: [{{name: A}}, {{name: B}}]
policies:
  wait: {{rule: wait, postpone_share: 40%}}
  paper: {{rule: offline_after, after: 15min, postpone_share: 40%}}
"""
TEAM_FLOW = """flow:
    - {name: entry, service: 1min + exp(30s)}
    - {name: verification, service: 1min + exp(1min), needs_system: true, paper_service: 2min + exp(1min)}
    - {name: vaccination, service: 3min + exp(1min)}
    - {name: recording, service: 30s + exp(30s), needs_system: true, paper_service: 1min + exp(30s)}
    - {name: observation, staff: 0, service: 30min}"""


def test_a_flow_site_postpones_as_the_team_it_spells_out(write_yaml) -> None:  # type: ignore[no-untyped-def]
    """The MoHFW team written as a ``flow:`` postpones the same people as the team's own stations."""
    team = load_scenario(write_yaml(TEAM.format(flow="")))
    flow = load_scenario(write_yaml(TEAM.format(flow=TEAM_FLOW)))
    assert flow.sites[0].flow and not team.sites[0].flow
    for a, b in zip(run_replications(team, 3, seed=11), run_replications(flow, 3, seed=11), strict=True):
        for policy in ("wait", "paper"):
            fixed, flowed = a.policies[policy].total, b.policies[policy].total
            assert fixed["turned_away_by.postponed"] > 10  # the check itself can fail: people were rebooked
            # Counts and waits alike; time averages (queue lengths, utilisation) and overtime are over
            # the site's day, which a flow ends at its last station's exit, not the observation room's.
            same = [k for k in fixed if not k.startswith(("queue_length", "utilisation", "overtime"))]
            assert "postpone_affected" in same and "wait_minutes.mean" in same
            assert {k: flowed[k] for k in same} == {k: fixed[k] for k in same}


def test_hybrid_on_a_flow_site_is_a_clear_error(write_yaml) -> None:  # type: ignore[no-untyped-def]
    flow = """
name: flow
sites:
  - name: A
    booked: 10
    flow:
      - {name: check_in, staff: 1, service: 1min}
      - {name: vaccination, staff: 1, service: 3min, vaccinates: true}
policies:
  p: {rule: offline_first, hybrid: true}
"""
    with pytest.raises(ScenarioError, match=r"policies\.p\.hybrid: expected no hybrid with `flow:`"):
        load_scenario(write_yaml(flow))

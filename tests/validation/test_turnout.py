"""Turnout (issue 19, item 4): the turnout share with the SMS effect on top, and substitution from a
waiting list up to the vials opened or a cap."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulation.experiment import run_replications
from simulation.model import realise
from simulation.turnout import places
from vaxdrill.core.scenario import load_scenario

TURNOUT = """
name: turnout
seed: 11
site_defaults:
  booked: 200
  opens: "09:00"
  closes: "17:00"
  arrivals: {no_show: 2%, no_show_without_sms: 15%, turnout: 60%}
sites: [{name: A}, {name: B}, {name: C}, {name: D}]
sms: {delivery: 50%}
policies:
  wait: {rule: wait}
"""


def test_the_number_who_come_is_binomial_with_the_sms_effect_on_top(write_yaml) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(write_yaml(TURNOUT))
    reps = 300
    came = np.array(
        [sum(p.booked - p.no_shows for p in realise(scenario, scenario.seed, r).plans) for r in range(reps)],
        dtype=float,
    )
    # Half the SMS arrive: come with 0.6, or 0.6 * 0.85 / 0.98 without it; 800 independent people.
    p = 0.5 * 0.6 + 0.5 * 0.6 * 0.85 / 0.98
    n = 800
    se = math.sqrt(n * p * (1 - p) / reps)
    assert abs(came.mean() - n * p) < 4 * se, (came.mean(), n * p, se)
    # The spread is the binomial one too (sample variance within 25% for 300 replications).
    assert came.var(ddof=1) == pytest.approx(n * p * (1 - p), rel=0.25)


def test_without_a_turnout_share_the_no_show_rates_apply(write_yaml) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(write_yaml(TURNOUT.replace(", turnout: 60%", "")))
    came = np.mean([sum(p.booked - p.no_shows for p in realise(scenario, 3, r).plans) for r in range(100)])
    p = 0.5 * 0.98 + 0.5 * 0.85
    assert abs(came - 800 * p) < 4 * math.sqrt(800 * p * (1 - p) / 100)


SUBSTITUTION = """
name: substitution
seed: 5
site_defaults:
  booked: 95
  opens: "09:00"
  closes: "17:00"
  arrivals: {turnout: 70%, patience: null, punctuality_sd: 0s}
  vials: {doses_per_vial: 10}
sites:
  - {name: vials, arrivals: {substitution: {waiting_list: 1000}}}
  - {name: capped, arrivals: {substitution: {waiting_list: 1000, cap: 80}}}
  - {name: short_list, arrivals: {substitution: {waiting_list: 5}}}
  - {name: none}
policies:
  wait: {rule: wait}
"""


def test_substitutes_fill_the_empty_places_and_never_exceed_the_cap_or_the_vials(write_yaml) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(write_yaml(SUBSTITUTION))
    vials, capped, short_list, none = scenario.sites
    for r in range(50):
        plans = realise(scenario, scenario.seed, r).plans
        came = [p.booked - p.no_shows for p in plans]
        # A long waiting list fills the vials opened for 95 booked (10 vials, 100 doses) exactly.
        assert came[0] + plans[0].substitutes == 100
        assert plans[0].substitutes == places(vials, came[0])
        # With a cap of 80, those who came and the substitutes together never pass it.
        assert plans[1].substitutes == max(0, 80 - came[1])
        assert came[1] + plans[1].substitutes <= max(80, came[1])
        # A short list gives what it has, at most.
        assert plans[2].substitutes == min(5, places(short_list, came[2]))
        assert plans[3].substitutes == 0
        for p in plans:  # substitutes arrive within the session, after the walk-ins' indices
            subs = [t for t, i in p.arrivals if i >= p.booked + p.walk_ins]
            assert len(subs) == p.substitutes
            assert all(9 * 3600 <= t <= 17 * 3600 for t in subs)
    assert none.arrivals.substitution.waiting_list == 0 and capped.arrivals.substitution.cap == 80


def test_substitutes_are_vaccinated_and_reported(write_yaml) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(write_yaml(SUBSTITUTION))
    [res] = run_replications(scenario, 1, seed=2)
    sites = res.policies["wait"].sites
    assert sites["vials"]["vaccinated"] == 100 and sites["vials"]["substitutes"] > 0
    assert sites["capped"]["vaccinated"] == max(80, sites["capped"]["booked"] - sites["capped"]["no_shows"])
    assert "substitutes" not in sites["none"]  # only reported where a waiting list is given


def test_a_stock_limits_the_substitutes(write_yaml) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(
        write_yaml(SUBSTITUTION.replace("{doses_per_vial: 10}", "{doses_per_vial: 10, stock: 90}"))
    )
    for r in range(20):
        plan = realise(scenario, scenario.seed, r).plans[0]
        came = plan.booked - plan.no_shows
        assert came + plan.substitutes == max(90, came)


def test_the_planner_sentence_names_the_turnout_assumption(write_yaml) -> None:  # type: ignore[no-untyped-def]
    from simulation.turnout import turnout_assumptions

    with_share = load_scenario(write_yaml(SUBSTITUTION))
    assert turnout_assumptions(with_share.sites) == [
        "70% of the booked come when the SMS arrives",
        "3 of 4 sites admit people from a waiting list into empty places",
    ]
    plain = load_scenario(write_yaml(TURNOUT.replace(", turnout: 60%", "")))
    assert turnout_assumptions(plain.sites) == ["2% of the booked do not come when the SMS arrives"]

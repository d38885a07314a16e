"""Sites that differ: `per_site` fields are checked at load and drawn per site and replication."""

from __future__ import annotations

import numpy as np
import pytest

from simulation.acrosssites import spread
from simulation.model import realise
from simulation.persite import draw_sites
from vaxdrill.core.errors import ScenarioError
from vaxdrill.core.scenario import load_scenario

SCENARIO = """
name: uneven
site_defaults:
  per_site:
{spread}
sites:
{sites}
"""


def load(write_yaml, spread_text: str, n: int = 40):  # type: ignore[no-untyped-def]
    sites = "\n".join(f"  - name: S{i}" for i in range(n))
    return load_scenario(write_yaml(SCENARIO.format(spread=spread_text, sites=sites)))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("    stations.vaccination.servce.mean: uniform(1min, 2min)", "has no `servce`"),
        ("    booked: gamma(1, 2)", "expected a distribution over sites"),
        ("    booked: uniform(1, 2, 3)", "uniform takes 2 value(s)"),
        ("    arrivals.no_show: uniform(2%, abc)", "expected a share"),
        ("    at_close: uniform(1, 2)", "not a number, duration or share"),
        ("    booked: lognormal(0, 2)", "mean above zero"),
    ],
)
def test_a_bad_spread_is_refused_naming_the_path(write_yaml, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ScenarioError) as info:
        load(write_yaml, text, n=2)
    assert message in str(info.value)
    assert "per_site" in str(info.value)


def test_draws_follow_the_distribution_and_stay_in_bounds(write_yaml) -> None:  # type: ignore[no-untyped-def]
    sc = load(
        write_yaml,
        "    stations.vaccination.staff: uniform(-3, 3)\n"
        "    arrivals.no_show: normal(10%, 30%)\n"
        "    stations.vaccination.service.shift: lognormal(3min, 1min)",
        n=400,
    )
    sites, drawn = draw_sites(sc, 1, 0)
    staff = [s.stations.vaccination.staff for s in sites]
    assert set(staff) <= {1, 2, 3} and isinstance(staff[0], int)  # at least one vaccinator, whole
    no_show = np.array([s.arrivals.no_show for s in sites])
    assert no_show.min() == 0.0 and no_show.max() <= 1.0 and (no_show == 0).mean() > 0.2  # clipped at 0
    shift = np.array([d["stations.vaccination.service.shift"] for d in drawn])
    assert shift.mean() == pytest.approx(180, rel=0.08) and shift.std() == pytest.approx(60, rel=0.2)
    assert [s.stations.vaccination.service.shift for s in sites] == shift.tolist()
    assert len({s.stations.vaccination.service.shift for s in sites}) == 400  # each site its own draw


def test_a_sites_draws_depend_on_seed_replication_and_site_only(write_yaml) -> None:  # type: ignore[no-untyped-def]
    text = "    booked: uniform(50, 150)\n    arrivals.punctuality_sd: uniform(5min, 45min)"
    few, many = load(write_yaml, text, n=3), load(write_yaml, text, n=30)
    a, _ = draw_sites(few, 7, 2)
    b, _ = draw_sites(many, 7, 2)
    assert [s.booked for s in a] == [s.booked for s in b[:3]]
    again, _ = draw_sites(few, 7, 2)
    assert a == again
    other, _ = draw_sites(few, 7, 3)
    assert [s.booked for s in a] != [s.booked for s in other]
    # The day's plans are drawn for the drawn sites: booked beneficiaries follow each site's draw.
    day = realise(few, 7, 2)
    assert [p.booked for p in day.plans] == [s.booked for s in a]


def test_a_scenario_without_spreads_keeps_its_sites(write_yaml) -> None:  # type: ignore[no-untyped-def]
    sc = load_scenario(write_yaml("name: same\nsites: [{name: A}, {name: B}]\n"))
    day = realise(sc, 1, 0)
    assert day.sites is None and day.drawn == []


def test_the_worst_tenth_is_the_mean_of_the_lowest_tenth_of_sites() -> None:
    values = [0.1 * i for i in range(1, 21)]  # 20 sites: the worst tenth is the lowest two
    s = spread(values)
    assert s["worst_tenth"] == pytest.approx(0.15)
    assert s["lowest"] == pytest.approx(0.1) and s["highest"] == pytest.approx(2.0)
    assert s["site_mean"] == pytest.approx(1.05)
    assert spread([0.5, 0.9])["worst_tenth"] == 0.5  # at least one site

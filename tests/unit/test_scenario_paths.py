"""Dotted scenario paths and sweep parameters: read, set, validate; errors name the path."""

from __future__ import annotations

import pytest

from simulation.explore.space import design, parse_parameter
from tests.conftest import SCENARIOS
from vaxdrill.core.errors import ParameterError
from vaxdrill.core.scenario import Scenario, load_scenario
from vaxdrill.core.scenario.paths import field, parse_path, with_values


@pytest.fixture(scope="module")
def district() -> Scenario:
    return load_scenario(SCENARIOS / "district-typical-day.yaml")


@pytest.fixture(scope="module")
def raigad() -> Scenario:
    return load_scenario(SCENARIOS / "raigad-2021-01-16.yaml")


def test_parse_path_takes_list_indices() -> None:
    assert parse_path("server.outages[0].end") == ("server", "outages", 0, "end")
    assert parse_path("policies.offline_after_30min.after") == ("policies", "offline_after_30min", "after")
    with pytest.raises(ParameterError, match="not a path"):
        parse_path("server..end")


def test_fields_know_their_kind_and_value(district: Scenario, raigad: Scenario) -> None:
    assert (field(district, "sms.delivery").kind, field(district, "sms.delivery").value) == ("share", 0.97)
    assert field(district, "policies.offline_after_15min.after").value == 900.0
    assert field(district, "site_defaults.stations.vaccination.staff").kind == "int"
    assert field(raigad, "server.outages[0].end").kind == "clock"
    assert field(raigad, "site_defaults.arrivals.patience").kind == "duration"


def test_with_values_changes_only_what_is_named(raigad: Scenario) -> None:
    changed = with_values(raigad, {"server.outages[0].end": "12:00", "policies.offline_after_30min.after": "45min"})
    assert changed.server.outages[0].end == 12 * 3600
    assert changed.policies["offline_after_30min"].after == 2700  # type: ignore[union-attr]
    assert changed.sites == raigad.sites
    assert raigad.server.outages[0].end == 20 * 3600  # the original is untouched


def test_site_defaults_reach_every_site_that_takes_the_default(write_yaml) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(
        write_yaml(
            """
name: two
site_defaults: {stations: {vaccination: {staff: 1, service: 4min}}}
sites:
  - {name: Takes the default}
  - {name: Has its own, stations: {vaccination: {staff: 3, service: 4min}}}
"""
        )
    )
    changed = with_values(scenario, {"site_defaults.stations.vaccination.staff": 2})
    assert [s.stations.vaccination.staff for s in changed.sites] == [2, 3]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sms.delivery": "abc"}, "--param sms.delivery: expected a share such as 2% or 0.02, found 'abc'"),
        ({"sms.delivry": 0.5}, "--param sms.delivry: sms has no `delivry`; did you mean `delivery`?"),
        (
            {"site_defaults.stations.vaccination.staff": 0},
            "--param site_defaults.stations.vaccination.staff: expected greater than or equal to 1 (found 0)",
        ),
        ({"server.outages[3].end": "12:00"}, "--param server.outages[3].end: server.outages has 1 item(s), no [3]"),
        ({"server.outages[0].end": "09:00"}, "server.outages[0]: end must be after start"),
        ({"sms": 1}, "--param sms: a section or a yes/no field, not a value to vary"),
    ],
)
def test_a_bad_path_or_value_is_one_line_naming_the_path(
    raigad: Scenario, values: dict[str, object], message: str
) -> None:
    with pytest.raises(ParameterError) as err:
        with_values(raigad, values)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_values_as_lists_and_ranges(raigad: Scenario) -> None:
    ends = parse_parameter(raigad, "server.outages[0].end=11:30..13:00:30min")
    assert [ends.show(v) for v in ends.grid()] == ["11:30", "12:00", "12:30", "13:00"]
    after = parse_parameter(raigad, "policies.offline_after_30min.after=15min,30min,1h")
    assert after.grid() == (900.0, 1800.0, 3600.0)
    staff = parse_parameter(raigad, "site_defaults.stations.vaccination.staff=1..4")
    assert staff.grid() == (1, 2, 3, 4)
    service = parse_parameter(raigad, "site_defaults.stations.vaccination.service=exp(4min),normal(4min, 30s)")
    assert service.grid() == ("exp(4min)", "normal(4min, 30s)")
    with pytest.raises(ParameterError, match="a grid needs a step"):
        parse_parameter(raigad, "sms.delivery=50%..90%").grid()
    with pytest.raises(ParameterError, match=r"expected a range LO\.\.HI"):
        parse_parameter(raigad, "sms.delivery=50%,90%", ranged=True)


def test_designs_are_the_grid_or_a_seeded_sample(raigad: Scenario) -> None:
    a = parse_parameter(raigad, "sms.delivery=50%..100%")
    b = parse_parameter(raigad, "site_defaults.stations.vaccination.staff=1..3")
    grid = design([parse_parameter(raigad, "sms.delivery=50%,90%"), b], "grid", None, 1)
    assert grid == [(0.5, 1), (0.5, 2), (0.5, 3), (0.9, 1), (0.9, 2), (0.9, 3)]
    for sample in ("lhs", "sobol"):
        points = design([a, b], sample, 8, 7)  # type: ignore[arg-type]
        assert points == design([a, b], sample, 8, 7)
        assert len(points) == 8
        assert all(0.5 <= x <= 1.0 and y in (1, 2, 3) for x, y in points)
        assert len({y for _, y in points}) == 3


UNEVEN = """
name: uneven
site_defaults:
  booked: 50
  per_site:
    arrivals.no_show: uniform(2%, 30%)
    stations.vaccination.service.shift: lognormal(3min, 1min)
    stations.vaccination.staff: choice(1, 2)
sites:
  - {name: A}
  - {name: B, per_site: {arrivals.no_show: "uniform(10%, 20%)"}}
  - {name: C}
"""


def test_one_number_of_a_per_site_distribution_is_a_path(write_yaml) -> None:  # type: ignore[no-untyped-def]
    uneven = load_scenario(write_yaml(UNEVEN))
    high = field(uneven, "site_defaults.per_site.arrivals.no_show:high")
    assert (high.kind, high.value) == ("share", 0.30)
    assert field(uneven, "site_defaults.per_site.stations.vaccination.service.shift:sd").value == 60.0
    assert field(uneven, "sites[1].per_site.arrivals.no_show:low").value == 0.10
    changed = with_values(uneven, {"site_defaults.per_site.arrivals.no_show:high": "45%"})
    assert changed.site_defaults["per_site"]["arrivals.no_show"] == "uniform(2%, 45%)"
    # Sites that took the default follow it; a site with its own entry keeps it.
    assert [s.per_site["arrivals.no_show"] for s in changed.sites] == [
        "uniform(2%, 45%)",
        "uniform(10%, 20%)",
        "uniform(2%, 45%)",
    ]
    assert changed.sites[0].per_site["stations.vaccination.service.shift"] == "lognormal(3min, 1min)"
    # Two numbers of one entry at once (a sweep or an optimisation over both ends) keep both.
    both = with_values(
        uneven,
        {"site_defaults.per_site.arrivals.no_show:low": "5%", "site_defaults.per_site.arrivals.no_show:high": "40%"},
    )
    assert both.sites[0].per_site["arrivals.no_show"] == "uniform(5%, 40%)"
    swept = parse_parameter(uneven, "site_defaults.per_site.stations.vaccination.service.shift:sd=30s..2min:30s")
    assert swept.grid() == (30.0, 60.0, 90.0, 120.0)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("site_defaults.per_site.arrivals.no_show:sd", r"uniform\(...\) has no `sd`; its numbers: low, high"),
        ("site_defaults.per_site.arrivals.nope:high", r"has no entry `arrivals.nope` \(known: arrivals.no_show"),
        ("site_defaults.per_site.stations.vaccination.staff:low", r"choice\(...\) has no `low`"),
    ],
)
def test_a_wrong_per_site_number_is_named(write_yaml, path: str, message: str) -> None:  # type: ignore[no-untyped-def]
    uneven = load_scenario(write_yaml(UNEVEN))
    with pytest.raises(ParameterError, match=message):
        field(uneven, path)
    with pytest.raises(ParameterError, match=r"high: expected a share between 0% and 100%"):
        with_values(uneven, {"site_defaults.per_site.arrivals.no_show:high": "140%"})

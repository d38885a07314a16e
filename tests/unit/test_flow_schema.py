"""A site's `flow:` is checked when the scenario loads: one clear line per mistake."""

from __future__ import annotations

import pytest

from vaxdrill.core.errors import ScenarioError
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.flow import FlowStation, expected_visits

SCENARIO = """
name: flows
sites:
  - name: A
    flow:
{flow}
"""


def load(write_yaml, flow: str):  # type: ignore[no-untyped-def]
    return load_scenario(write_yaml(SCENARIO.format(flow=flow)))


@pytest.mark.parametrize(
    ("flow", "message"),
    [
        ("      - {name: check_in, service: 1min}", "no station vaccinates"),
        ("      - {name: vaccination, service: 1min}\n      - {name: vaccination, service: 1min}", "two flow stations"),
        ("      - {name: vaccination, service: 1min, next: {nowhere: 50%}}", "not a later station"),
        (
            "      - {name: a, service: 1min}\n      - {name: vaccination, service: 1min, next: {a: 50%}}",
            "not a later station",
        ),
        ("      - {name: vaccination, service: 1min, probability: 50%}", "every beneficiary visits it"),
        ("      - {name: vaccination, staff: 0, service: 1min}", "needs staff"),
        ("      - {name: Check-in, service: 1min}", "lower-case"),
        ("      - {name: a, staff: 0, service: 1min, needs_system: true}", "self-service"),
        ("      - {name: a, service: 1min, next: {b: 70%, c: 40%}}", "more than 100%"),
    ],
)
def test_a_bad_flow_is_refused_with_its_reason(write_yaml, flow: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ScenarioError) as info:
        load(write_yaml, flow)
    assert message in str(info.value)
    assert "flow" in str(info.value)


def test_a_flow_loads_and_the_marked_station_vaccinates(write_yaml) -> None:  # type: ignore[no-untyped-def]
    sc = load(
        write_yaml,
        "      - {name: jab, service: 1min, vaccinates: true}\n      - {name: wait, staff: 0, service: 15min}",
    )
    assert [f.name for f in sc.sites[0].flow or []] == ["jab", "wait"]


def test_expected_visits_follow_skips_and_shares() -> None:
    flow = [
        FlowStation.model_validate({"name": "a", "service": "1min", "probability": 0.5, "next": {"c": 1.0}}),
        FlowStation.model_validate({"name": "vaccination", "service": "1min"}),
        FlowStation.model_validate({"name": "c", "service": "1min"}),
    ]
    # Half visit a and jump to c (skipping the vaccinator); the other half skip a and go on.
    assert expected_visits(flow) == pytest.approx([0.5, 0.5, 1.0])

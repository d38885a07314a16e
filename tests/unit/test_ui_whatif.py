"""The what-if page's state: query keys -> scenario changes, and one-line errors for bad values."""

from __future__ import annotations

import pytest

from tests.conftest import SCENARIOS
from vaxdrill.core.errors import ParameterError
from vaxdrill.core.scenario import load_scenario
from vaxdrill.ui.whatif import WHAT_IF, WhatIf, apply, written_values

OUTAGE = SCENARIOS / "outage-length.yaml"
DISTRICT = SCENARIOS / "district-typical-day.yaml"


def _apply(path, **query: str):  # type: ignore[no-untyped-def]
    return apply(load_scenario(path), WhatIf.from_query(query, str(path)))


def test_empty_keys_keep_the_scenario_as_written_and_the_query_round_trips() -> None:
    what = WhatIf.from_query({"scenario": "outage-length", "sms": " ", "seed": "3", "outage_length": "2h"}, "x")
    assert what.values == (("outage_length", "2h"), ("seed", "3"))
    assert what.query() == "scenario=outage-length&outage_length=2h&seed=3"
    assert WhatIf.from_query(dict(p.split("=") for p in what.query().split("&")), "x") == what
    assert what.without_changes().values == (("seed", "3"),)
    assert _apply(OUTAGE) == load_scenario(OUTAGE)


def test_outage_start_and_length_move_the_first_server_outage() -> None:
    s = _apply(OUTAGE, outage_start="11:00", outage_length="90min")
    assert [(w.start, w.end) for w in s.server.outages] == [(11 * 3600, 12.5 * 3600)]
    assert _apply(OUTAGE, outage_length="0s").server.outages == []
    # A scenario without a scripted outage gets one, from the earliest opening.
    s = _apply(DISTRICT, outage_length="1h")
    assert [(w.start, w.end) for w in s.server.outages] == [(9 * 3600, 10 * 3600)]


def test_link_reliability_becomes_a_failure_process_with_that_long_run_up_share() -> None:
    written = load_scenario(DISTRICT)
    s = _apply(DISTRICT, **{"link.0": "90%", "link.1": "100%", "link.2": "0%"})
    f = s.sites[0].connectivity.failures
    assert f is not None and f.time_to_repair == written.sites[0].connectivity.failures.time_to_repair  # type: ignore[union-attr]
    up, down = f.time_between_failures.expected(), f.time_to_repair.expected()
    assert up / (up + down) == pytest.approx(0.9, abs=1e-3)
    assert s.sites[1].connectivity.failures is None and s.sites[1].connectivity.outages == []
    assert [(w.start, w.end) for w in s.sites[2].connectivity.outages] == [(0, 24 * 3600 - 1)]
    assert s.sites[3] == written.sites[3]
    assert written_values(written)["link.0"] == "97.56%"  # exp(10h) up, exp(15min) repair: 600 / 615


def test_switch_rule_staff_sms_and_no_shows() -> None:
    s = _apply(DISTRICT, rule="offline_at", rule_time="12:30", **{"staff.vaccination": "3"}, sms="80%", no_show="5%")
    policy = s.policies[WHAT_IF]
    assert (policy.rule, policy.at) == ("offline_at", 12.5 * 3600)  # type: ignore[union-attr]
    assert {site.stations.vaccination.staff for site in s.sites} == {3}  # the CSV's 2s too
    assert s.sms.delivery == 0.8
    assert {site.arrivals.no_show for site in s.sites} == {0.05}
    assert list(s.policies)[:-1] == list(load_scenario(DISTRICT).policies)


def test_turnout_and_a_district_order_with_its_delay() -> None:
    s = _apply(DISTRICT, rule="district_order", rule_time="2", order_delay="45min", turnout="65%")
    policy = s.policies[WHAT_IF]
    assert (policy.rule, policy.sites_failed) == ("district_order", 2)  # type: ignore[union-attr]
    assert policy.delay.expected() == pytest.approx(45 * 60)  # type: ignore[union-attr]
    assert {site.arrivals.turnout for site in s.sites} == {0.65}
    default = _apply(DISTRICT, rule="district_order", rule_time="1").policies[WHAT_IF]
    assert default.delay.expected() == pytest.approx(30 * 60)  # type: ignore[union-attr]
    assert written_values(load_scenario(DISTRICT))["turnout"] == "1 - no-show"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"staff.vaccination": "two"}, "what-if staff.vaccination: expected a whole number, found 'two'"),
        ({"replications": "0"}, "what-if replications: expected a whole number of at least 1, found '0'"),
        ({"rule": "offline_after"}, "what-if rule_time: offline_after needs an outage length such as 30min"),
        ({"rule": "sometimes"}, "what-if rule: expected one of offline_after, offline_at, offline_when_queue, "
         "district_order, offline_first, wait, found 'sometimes'"),
        ({"rule": "district_order"}, "what-if rule_time: district_order needs a number of failed sites such as 2"),
        ({"rule": "wait", "order_delay": "10min"}, "what-if order_delay: only with rule district_order"),
        ({"turnout": "120%"}, "what-if turnout:"),
        ({"link.9": "50%"}, "what-if link.9: the scenario has 4 site(s), no site 9"),
        ({"outage_start": "25:00"}, None),
        ({"colour": "red"}, "what-if colour: not a control of this page"),
    ],
)  # fmt: skip
def test_bad_values_are_one_line_naming_the_key(query: dict[str, str], message: str | None) -> None:
    with pytest.raises(ParameterError) as err:
        _apply(OUTAGE, **query)
    text = str(err.value)
    assert "\n" not in text
    if message:
        assert text.startswith(message)
    else:
        assert text.startswith("what-if outage_start:")

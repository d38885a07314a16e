"""Parts of the simulation: availability timelines, policy switch times, random streams."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulation.availability import DEGRADED, DOWN, UP, Timeline, alternating
from simulation.model import realise
from simulation.policies import switches
from simulation.streams import stream
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.policies import OfflineAfter, OfflineAt, OfflineFirst, Wait
from vaxdrill.core.scenario.sites import FailureProcess

H = 3600.0


def test_timeline_states_next_up_and_stable() -> None:
    tl = Timeline([(10 * H, 12 * H, DOWN), (11 * H, 13 * H, DEGRADED), (14 * H, 14.5 * H, DOWN)])
    assert tl.state_at(9 * H) == UP
    assert tl.state_at(11.5 * H) == DOWN  # down wins over degraded
    assert tl.state_at(12.5 * H) == DEGRADED
    assert tl.next_up(10.5 * H) == 12 * H
    assert tl.next_up(9 * H) == 9 * H
    assert tl.down_intervals() == [(10 * H, 12 * H), (14 * H, 14.5 * H)]
    # Stable for 1 h after the first outage? It is down again at 14:00, so only after 14:30.
    assert tl.stable_from(12 * H, 2.5 * H) == 17 * H
    assert tl.stable_from(12 * H, 1 * H) == 13 * H
    assert Timeline([(0.0, math.inf, DOWN)]).next_up(5.0) == math.inf


def _worst_state_covering(intervals: list[tuple[float, float, int]], t: float) -> int:
    """The definition: the worst state of the intervals that hold at ``t`` (start <= t < end), else up."""
    return max((st for s, e, st in intervals if s <= t < e), default=UP)


@pytest.mark.parametrize("seed", range(6))
def test_timeline_is_the_worst_state_of_the_intervals_holding_at_each_time(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(60):
        intervals = []
        for _ in range(int(rng.integers(0, 10))):
            start = float(rng.choice([rng.uniform(0, 80_000), 600.0 * int(rng.integers(0, 20))]))
            length = float(rng.choice([0.0, 1e-9, rng.uniform(0, 20_000), 600.0 * int(rng.integers(0, 5))]))
            intervals.append((start, start + length, int(rng.choice([DEGRADED, DOWN]))))
        timeline = Timeline(intervals)
        probes = {0.0, *(x for s, e, _ in intervals for x in (s, e, s + 1e-10, (s + e) / 2))}
        for t in sorted(probes):
            assert timeline.state_at(t) == _worst_state_covering(intervals, t), (intervals, t)
        assert all(a != b for a, b in zip(timeline.states, timeline.states[1:], strict=False))  # merged


def test_offline_after_switches_after_trigger_plus_escalation_and_back_when_stable() -> None:
    tl = Timeline([(10 * H, 13 * H, DOWN), (15 * H, 15.2 * H, DOWN)])
    rule = OfflineAfter(rule="offline_after", after="30min", escalation="10min", back_after="15min")
    assert switches(rule, tl, 9 * H) == [(10 * H + 2400, True), (13 * H + 900, False)]
    # An outage shorter than the trigger changes nothing; one under way at opening counts from opening.
    assert switches(rule, Timeline([(10 * H, 10.4 * H, DOWN)]), 9 * H) == []
    assert switches(rule, Timeline([(8 * H, 17 * H, DOWN)]), 9 * H) == [(9 * H + 2400, True), (17 * H + 900, False)]
    assert switches(Wait(rule="wait"), tl, 9 * H) == []
    assert switches(OfflineFirst(rule="offline_first"), tl, 9 * H) == [(0.0, True)]
    assert switches(OfflineAt(rule="offline_at", at="13:30"), tl, 9 * H) == [(13.5 * H, True)]


def test_streams_depend_on_seed_replication_and_source_only() -> None:
    a = stream(1, 0, "arrivals").random(5)
    assert np.array_equal(a, stream(1, 0, "arrivals").random(5))
    assert not np.array_equal(a, stream(1, 1, "arrivals").random(5))
    assert not np.array_equal(a, stream(1, 0, "service").random(5))
    assert not np.array_equal(a, stream(2, 0, "arrivals").random(5))


def test_alternating_failures_have_the_right_long_run_share_down() -> None:
    process = FailureProcess.model_validate({"time_between_failures": "exp(3h)", "time_to_repair": "exp(1h)"})
    rng = np.random.default_rng(4)
    down = sum(e - s for s, e, _ in alternating(process, rng, 0.0, 4000 * H))
    assert down / (4000 * H) == pytest.approx(0.25, abs=0.02)


def test_realised_day_is_reproducible_and_shared_by_policies() -> None:
    from tests.conftest import SCENARIOS

    scenario = load_scenario(SCENARIOS / "district-typical-day.yaml")
    one, two = realise(scenario, 5, 2), realise(scenario, 5, 2)
    assert [p.arrivals for p in one.plans] == [p.arrivals for p in two.plans]
    assert [t.times for t in one.timelines] == [t.times for t in two.timelines]
    other = realise(scenario, 5, 3)
    assert [p.arrivals for p in one.plans] != [p.arrivals for p in other.plans]


def test_sites_with_different_stations_and_an_empty_site(write_yaml) -> None:  # type: ignore[no-untyped-def]
    from simulation.model import run_replication

    scenario = load_scenario(
        write_yaml("""
name: mixed
sites:
  - {name: Empty, booked: 0}
  - name: Bare
    booked: 5
    stations: {entry: null, verification: null, recording: null, observation: {duration: 0s, seats: 1}}
  - name: Degraded
    booked: 30
    connectivity: {outages: [{start: "09:00", end: "17:00", state: degraded}]}
server: {latency: "lognormal(8s, 4s)", timeout: 30s}
""")
    )
    result = run_replication(scenario, 3, 0)
    day = result.policies["wait"]
    assert day.sites["Empty"]["vaccinated"] == 0
    assert day.sites["Bare"]["vaccinated"] == 5 - day.sites["Bare"]["no_shows"]
    assert "blocked_minutes.verification" not in day.sites["Bare"]
    # Degraded latency (x5) often exceeds the 30 s timeout: attempts are retried, staff blocked.
    assert day.sites["Degraded"]["blocked_minutes.verification"] > 0
    assert day.total["vaccinated"] == sum(s["vaccinated"] for s in day.sites.values())

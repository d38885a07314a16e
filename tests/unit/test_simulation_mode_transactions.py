"""The site's working mode and its line to the registration system, apart from the site model."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import simpy

from simulation.availability import DEGRADED, DOWN, UP, Timeline
from simulation.mode import Mode
from simulation.transactions import SystemLink
from vaxdrill.core.scenario.system import Server


def test_mode_wakes_each_waiter_once_per_change() -> None:
    env = simpy.Environment()
    mode = Mode(env)
    seen: list[tuple[float, str]] = []

    def waiter(kind: str) -> Any:
        for _ in range(2):
            yield mode.paper_event if kind == "paper" else mode.online_event
            seen.append((env.now, kind))

    env.process(waiter("paper"))
    env.process(waiter("online"))
    env.process(mode.follow([(10.0, True), (20.0, True), (30.0, False), (40.0, True), (50.0, False)]))
    env.run()
    assert seen == [(10.0, "paper"), (30.0, "online"), (40.0, "paper"), (50.0, "online")]
    assert mode.paper is False


def _link(intervals: list[tuple[float, float, int]], retry_latency: list[float]) -> SystemLink:
    env = simpy.Environment()
    server = Server.model_validate({"timeout": "10s", "retries": 2, "backoff": "5s", "degraded_factor": 3.0})
    plan: Any = SimpleNamespace(retry_latency=retry_latency)
    return SystemLink(env, server, Timeline(intervals), plan, None)


def test_first_attempt_degraded_multiplies_the_latency() -> None:
    link = _link([(0.0, 100.0, DEGRADED)], [1.0])
    assert link.attempt(2.0) == (6.0, DEGRADED)
    assert _link([], [1.0]).attempt(2.0) == (2.0, UP)


def test_retries_back_off_then_hold_until_the_system_answers() -> None:
    # Down from 0 to 200 s: attempts at 0, 10+5, 25+10 fail (timeout 10 s, backoff 5 s doubling),
    # then the operator holds until 200 s; each retry draws the next latency (1, 2, then 3 s).
    link = _link([(0.0, 200.0, DOWN)], [1.0, 2.0, 3.0, 4.0])
    tries: list[float] = []
    done = link.completion(0.0, 1.0, DOWN, tries)
    assert tries == [0.0, 15.0, 35.0]
    assert done == 200.0 + 3.0
    assert link.retry_i == 3


def test_a_system_that_never_comes_back_never_completes() -> None:
    link = _link([(0.0, math.inf, DOWN)], [1.0])
    assert link.completion(0.0, 1.0, DOWN, []) == math.inf


def test_the_remembered_segment_answers_as_the_timeline_at_every_time() -> None:
    intervals = [(100.0, 200.0, DOWN), (150.0, 400.0, DEGRADED), (500.0, 500.5, DOWN), (900.0, 1000.0, DEGRADED)]
    link = _link(intervals, [1.0])
    timeline = link.timeline
    cuts = [t for s, e, _ in intervals for t in (s, e)]
    # Every boundary and its neighbours, forward (as the clock moves) and then in a scrambled order.
    times = sorted({0.0, 2000.0, *cuts, *(t - 1e-9 for t in cuts), *(t + 0.25 for t in cuts)})
    forward = [link.state_now(t) for t in times]
    assert forward == [timeline.state_at(t) for t in times]
    assert {UP, DOWN, DEGRADED} <= set(forward)
    scrambled = times[::3] + times[1::3] + times[2::3][::-1]
    assert [link.state_now(t) for t in scrambled] == [timeline.state_at(t) for t in scrambled]

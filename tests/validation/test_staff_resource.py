"""The site model's lean :class:`~simulation.staff.Staff` against ``simpy.Resource``.

Staff grants a free member without an event and handles patience lazily (a waiter carries the time at
which they give up). Fed the same arrivals, service times and patience from one seed, it must serve the
same beneficiaries at the same times as ``simpy.Resource`` with an eager patience timeout, and see the
same people give up at their deadlines.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass

import pytest
import simpy

from simulation.staff import Staff
from simulation.streams import stream

# What happened to each beneficiary: ("served", start, end) or ("gave_up", left, left).
Outcome = tuple[str, float, float]


@dataclass(frozen=True)
class Person:
    arrives: float
    service: float
    patience: float  # math.inf: waits however long it takes


def people(seed: int, n: int, staff: int, load: float) -> list[Person]:
    """``n`` beneficiaries arriving as a Poisson process at ``load`` times what ``staff`` can serve."""
    arrivals, service = stream(seed, 0, "arrivals"), stream(seed, 0, "service")
    mean_service = 270.0  # 4.5 min, the Raigad vaccination step
    gaps = arrivals.exponential(mean_service / (staff * load), n)
    patience = arrivals.exponential(1800.0, n)
    patient = arrivals.random(n) < 0.5  # half wait however long it takes
    times = service.lognormal(math.log(mean_service) - 0.125, 0.5, n)
    clock = gaps.cumsum()
    return [Person(float(clock[i]), float(times[i]), math.inf if patient[i] else float(patience[i])) for i in range(n)]


def with_staff(crowd: list[Person], capacity: int) -> dict[int, Outcome]:
    env = simpy.Environment()
    staff = Staff(env, capacity)
    seen: dict[int, Outcome] = {}

    def visit(i: int, p: Person) -> Generator[simpy.Event, object, None]:
        yield env.timeout(p.arrives)
        deadline = p.arrives + p.patience
        if not staff.acquire():
            served = yield staff.wait(deadline)
            if not served:
                seen[i] = ("gave_up", deadline, deadline)  # as the site model books it
                return
        start = env.now
        yield env.timeout(p.service)
        staff.release()
        seen[i] = ("served", start, env.now)

    for i, p in enumerate(crowd):
        env.process(visit(i, p))
    env.run()
    return seen


def with_simpy_resource(crowd: list[Person], capacity: int) -> dict[int, Outcome]:
    env = simpy.Environment()
    resource = simpy.Resource(env, capacity)
    seen: dict[int, Outcome] = {}

    def visit(i: int, p: Person) -> Generator[simpy.Event, object, None]:
        yield env.timeout(p.arrives)
        request = resource.request()
        if math.isinf(p.patience):
            yield request
        else:
            yield request | env.timeout(p.patience)
            if not request.triggered:
                request.cancel()
                seen[i] = ("gave_up", env.now, env.now)
                return
        start = env.now
        yield env.timeout(p.service)
        resource.release(request)
        seen[i] = ("served", start, env.now)

    for i, p in enumerate(crowd):
        env.process(visit(i, p))
    env.run()
    return seen


@pytest.mark.parametrize(("seed", "capacity", "load"), [(7, 1, 0.9), (11, 3, 1.3), (23, 5, 1.1)])
def test_staff_serves_the_same_people_at_the_same_times_as_simpy_resource(
    seed: int, capacity: int, load: float
) -> None:
    crowd = people(seed, 400, capacity, load)
    lean, reference = with_staff(crowd, capacity), with_simpy_resource(crowd, capacity)
    assert len(reference) == len(crowd)
    gave_up = sum(kind == "gave_up" for kind, _, _ in reference.values())
    assert 0 < gave_up < len(crowd) // 2  # the queue builds: some give up, most are served
    for i in range(len(crowd)):
        assert lean[i][0] == reference[i][0], (i, lean[i], reference[i])
        assert lean[i][1:] == pytest.approx(reference[i][1:], abs=1e-9), (i, lean[i], reference[i])

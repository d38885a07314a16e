"""The lean environment (simulation.engine) runs the same events in the same order as SimPy's."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import simpy

from simulation.engine import Env, Proc


def _trace(env: simpy.Environment, lean: bool, seed: int) -> list[tuple[float, int, str]]:
    """Customers with tied and random times, a shared FIFO desk and signals; every step logged."""
    rng = np.random.default_rng(seed)
    log: list[tuple[float, int, str]] = []
    desk = simpy.Resource(env, 2)
    signal = [env.event()]

    def customer(i: int) -> Proc:
        log.append((env.now, i, "in"))
        yield env.timeout(float(rng.integers(0, 3)))  # integer delays: many ties
        with desk.request() as req:
            yield req
            log.append((env.now, i, "desk"))
            yield env.timeout(float(rng.integers(1, 4)))
        if i % 3 == 0:
            yield signal[0]
            log.append((env.now, i, "signalled"))
        yield env.any_of([env.timeout(2.0), env.timeout(1.0)])
        log.append((env.now, i, "out"))

    def source() -> Proc:
        for i in range(40):
            (env.start if lean and isinstance(env, Env) else env.process)(customer(i))  # type: ignore[operator]
            if i % 4:
                yield env.timeout(float(rng.integers(0, 2)))

    def signaller() -> Proc:
        while True:
            yield env.timeout(5.0)
            ev, signal[0] = signal[0], env.event()
            ev.succeed()
            log.append((env.now, -1, "signal"))

    env.process(source())
    env.process(signaller())
    env.run(until=80.0)
    assert env.now == 80.0
    return log


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_lean_environment_keeps_simpy_order(seed: int) -> None:
    reference = _trace(simpy.Environment(), False, seed)
    assert len(reference) > 100
    assert _trace(Env(), False, seed) == reference
    assert _trace(Env(), True, seed) == reference  # beneficiaries as callback-only processes


def test_lean_timeout_rejects_negative_delay() -> None:
    with pytest.raises(ValueError, match="Negative delay"):
        Env().timeout(-1.0)


def test_run_until_the_past_is_refused() -> None:
    env: Any = Env()
    env.run(until=5.0)
    with pytest.raises(ValueError, match="must be greater"):
        env.run(until=3.0)


def _desk_trace(env: simpy.Environment, lean: bool, seed: int) -> list[tuple[float, int, str]]:
    """Customers at a lean FIFO desk (simulation.staff) with patience and a closing that sends all home.

    ``lean``: customers are started with ``Env.start``, sleep with plain delays and join the desk's
    queue by yielding ``(fifo, deadline)``; otherwise SimPy processes with timeouts and ``wait`` events.
    """
    from simulation.staff import Staff

    rng = np.random.default_rng(seed)
    log: list[tuple[float, int, str]] = []
    desk = Staff(env, 2)

    def customer(i: int, patience: float) -> Proc:
        log.append((env.now, i, "in"))
        gap = float(rng.integers(0, 3))  # integer delays: many ties
        yield gap if lean else env.timeout(gap)
        if not desk.acquire():
            deadline = env.now + patience
            served = yield (desk.queue, deadline) if lean else desk.wait(deadline)
            if not served:
                log.append((env.now, i, "gave up"))
                return
        log.append((env.now, i, "desk"))
        service = float(rng.integers(1, 4))
        yield service if lean else env.timeout(service)
        desk.release()
        log.append((env.now, i, "out"))

    def source() -> Proc:
        for i in range(60):
            patience = float(rng.integers(1, 8))
            (env.start if lean else env.process)(customer(i, patience))  # type: ignore[attr-defined]
            if i % 3:
                yield env.timeout(float(rng.integers(0, 2)))

    def closing() -> Proc:
        yield env.timeout(25.0)
        desk.send_all_home()
        log.append((env.now, -1, "closed"))

    env.process(source())
    env.process(closing())
    env.run(until=80.0)
    return log


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_plain_delays_and_fifo_joins_keep_simpy_order(seed: int) -> None:
    reference = _desk_trace(simpy.Environment(), False, seed)
    assert len(reference) > 120
    assert any(step == "gave up" for _t, _i, step in reference)  # patience and closing are exercised
    assert _desk_trace(Env(), True, seed) == reference


def test_a_plain_delay_below_zero_is_refused() -> None:
    env = Env()

    def proc() -> Proc:
        yield -1.0

    env.start(proc())
    with pytest.raises(ValueError, match="Negative delay"):
        env.run(until=5.0)

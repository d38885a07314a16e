"""``vaxdrill capacity`` inside Locust: hold each rate of the search, measure it, decide the next.

Runs in a standalone Locust process (the CLI starts it with ``--vaxdrill-mode capacity``); the
search itself (:class:`vaxdrill.loadtest.capacity.CapacitySearch`) is plain Python. For each
step: set the gates' target rate, wait the warm-up, then measure a fresh recorder and the gates'
in-flight area over the rest of the step.
"""

from __future__ import annotations

import logging
import math
import time

import gevent

from locustfiles.run_context import RunContext
from vaxdrill.loadtest import slo as slo_mod
from vaxdrill.loadtest.capacity import CapacitySearch, StepResult, step_verdict
from vaxdrill.loadtest.recorder import Recorder

log = logging.getLogger("vaxdrill")


def _snapshot(ctx: RunContext) -> tuple[float, int, float, int, int]:
    area = done = busy = dropped = late = 0.0
    for gate in ctx.gates.values():
        a, c, b, d, la = gate.snapshot()
        area, done, busy, dropped, late = area + a, done + c, busy + b, dropped + d, late + la
    return area, int(done), busy, int(dropped), int(late)


def run_search(state: RunContext) -> None:
    """Step through the search's rates until it is done or the run drains; results into ``state.capacity``."""
    plan = state.load.steps
    search = CapacitySearch(plan)
    slos = state.scenario.slos
    hold = plan.step_duration - plan.warmup
    gevent.sleep(0.5)  # let the pool of users spawn
    while (rate := search.next_rate()) is not None and not state.draining:
        state.target_rate = rate
        gevent.sleep(plan.warmup)
        state.step = Recorder(t0=state.t_start)
        a0, c0, b0, d0, l0 = _snapshot(state)
        t0 = time.monotonic()
        gevent.sleep(hold)
        step, state.step = state.step, None
        a1, c1, b1, d1, l1 = _snapshot(state)
        span = time.monotonic() - t0
        total = step.total()
        completed = c1 - c0
        results = slo_mod.evaluate(slos, step, span)
        met, breached = step_verdict(results)
        result = StepResult(
            rate=rate,
            throughput=completed / span,
            concurrency=(a1 - a0) / span,
            mean_ms=(b1 - b0) / completed * 1000.0 if completed else math.nan,
            p95_ms=total.percentile_ms(95),
            error_rate=total.failures / total.count if total.count else 0.0,
            dropped=d1 - d0,
            late=l1 - l0,
            slo_passed=met,
            breached=breached,
            requests_per_s=total.count / span if span > 0 else 0.0,
            hold_s=span,
        )
        search.record(result)
        log.info(
            "capacity step %.1f/s: X=%.1f/s N=%.1f p95=%.0fms errors=%.1f%% dropped=%d -> %s",
            rate,
            result.throughput,
            result.concurrency,
            result.p95_ms,
            100 * result.error_rate,
            result.dropped,
            "ok" if result.sustainable else "breach",
        )
    state.target_rate = 0.0
    state.capacity = {
        "steps": [s.as_json() for s in search.steps],
        "max_rate": search.max_rate,
        "first_breach": search.first_breach,
        "description": search.describe(),
    }
    state.capacity_done = True

"""Network faults in a Locust run: the plan's toxics on the proxy in front of the target, on time.

``vaxdrill loadtest`` routes the load through a Toxiproxy (or ``vaxdrill proxy``) when the plan has
network faults and tells the Locust processes where it is (``VAXDRILL_TOXIPROXY``, its API, and
``VAXDRILL_TOXIPROXY_PROXY``, the proxy's name). The master (or standalone process) applies the faults
from ``test_start`` on, timed from the run's start as the admin faults are
(:func:`vaxdrill.loadtest.network_faults.run_plan`), and at ``test_stopping``, before the outboxes are
drained, lifts any fault still in place. Without those variables a network fault is reported as not applied.
"""

from __future__ import annotations

import os
import time
from functools import partial
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import WorkerRunner

from locustfiles.run_context import RunContext
from vaxdrill.loadtest.network_faults import NetworkFaults, network_faults, run_plan
from vaxdrill.loadtest.toxiproxy import Toxiproxy


def install(ctx: RunContext, environment: Environment) -> NetworkFaults | None:
    """Register the listeners that apply and lift the plan's network faults (none on a worker)."""
    plan = network_faults(ctx.scenario.faults)
    if not plan or isinstance(environment.runner, WorkerRunner):
        return None
    api_url = os.environ.get("VAXDRILL_TOXIPROXY")
    api = Toxiproxy(api_url) if api_url else None
    faults = NetworkFaults(
        api, os.environ.get("VAXDRILL_TOXIPROXY_PROXY", "vaxdrill"), lambda: time.time() - ctx.t_start
    )
    environment.events.test_start.add_listener(partial(_start, ctx, faults, plan))
    environment.events.test_stopping.add_listener(lambda **_: faults.remove_all())
    return faults


def _start(ctx: RunContext, faults: NetworkFaults, plan: Any, **_: Any) -> None:
    faults.active.clear()
    record = ctx.faults_applied.append
    ctx.greenlets.append(gevent.spawn(run_plan, faults, plan, record, gevent.sleep, lambda: ctx.draining))

"""vaxdrill's machinery inside a Locust process, from ``init`` to the start of the run.

:func:`install` is called once per process by the locustfile's ``init`` listener. It makes the
:class:`~locustfiles.run_context.RunContext` from the parsed options, attaches it to the
environment, sets the user classes' weights from the scenario's mix, gives Locust the run's shape
and registers the run's listeners on ``environment.events``:

- each request is recorded at full precision in a :class:`~vaxdrill.loadtest.recorder.Recorder`;
- a worker sends its deltas to the master with ``report_to_master``; the master merges them; the
  master hands workers their settings and watches for lost ones (:mod:`locustfiles.workers`);
- at ``test_start``: the arrival gates (open model), a once-a-second sampler, and on the master (or
  standalone process) the fault plan, the SLO watcher (abort on a sustained breach) and, in
  capacity mode, the search (:mod:`locustfiles.capacity_search`);
- the end of the run (drain, judge, write, exit code): :mod:`locustfiles.run_end`.
"""

from __future__ import annotations

import logging
import os
import time
from functools import partial
from typing import Any

import gevent
import psutil
import requests
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from locustfiles import run_end, workers
from locustfiles.capacity_search import run_search
from locustfiles.drill_user import DrillUser
from locustfiles.open_model import ArrivalGate, shape_for
from locustfiles.run_context import RunContext, attach
from vaxdrill.loadtest import slo as slo_mod
from vaxdrill.loadtest.recorder import Recorder
from vaxdrill.loadtest.shapes import rate_function
from vaxdrill.loadtest.target import RatePacer
from vaxdrill.loadtest.testdata import IdentityPool

log = logging.getLogger("vaxdrill")

SLO_CHECK_S = 2.0


def install(environment: Environment) -> RunContext:
    """Make this process's run context from ``environment.parsed_options`` and wire it into Locust.

    User classes' ``weight`` is a class attribute in Locust: the scenario's mix is written there
    (as Locust's own ``--equal-weights`` does) and classes with no share are left out of the run.
    """
    ctx = RunContext.from_options(environment.parsed_options, os.environ)
    attach(environment, ctx)
    weights = ctx.mix_weights()
    for user_class in environment.user_classes:
        if issubclass(user_class, DrillUser) and user_class.gate_name in weights:
            user_class.weight = weights[user_class.gate_name]
    if not isinstance(environment.runner, WorkerRunner):  # a worker runs the classes its master sends
        environment.user_classes[:] = [u for u in environment.user_classes if u.weight > 0 or u.fixed_count > 0]
    shape = shape_for(ctx)
    if shape is not None:
        shape.runner = environment.runner
        environment.shape_class = shape
        if environment.available_shape_classes is not None:
            environment.available_shape_classes = {type(shape).__name__: shape}

    events = environment.events
    events.request.add_listener(partial(_on_request, ctx))
    events.report_to_master.add_listener(partial(_report, ctx))
    events.worker_report.add_listener(partial(_merge, ctx))
    events.test_start.add_listener(partial(_start, ctx))
    events.test_stopping.add_listener(partial(run_end.on_stopping, ctx))
    events.quitting.add_listener(partial(run_end.on_quitting, ctx))
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        ctx.node = "master"
        runner.register_message("vaxdrill_final", partial(run_end.on_final, ctx))
    elif isinstance(runner, WorkerRunner):
        ctx.node = runner.client_id
        runner.register_message("vaxdrill_drain", partial(run_end.on_drain, ctx), concurrent=True)
    workers.install(ctx, environment)
    return ctx


def _on_request(ctx: RunContext, name: str, response_time: float, exception: Any, **_: Any) -> None:
    ctx.request(name, response_time, exception is not None, time.time())


def _report(ctx: RunContext, client_id: str, data: dict[str, Any]) -> None:
    data["vaxdrill"] = ctx.worker_delta()


def _merge(ctx: RunContext, client_id: str, data: dict[str, Any]) -> None:
    delta = data.get("vaxdrill")
    if delta:
        ctx.recorder.merge_delta(delta)
        if ctx.watching:
            ctx.recent.merge_delta(delta)


def _start(ctx: RunContext, environment: Environment, **_: Any) -> None:
    ctx.t_start = time.time()
    ctx.recorder = Recorder(t0=ctx.t_start)
    ctx.recent = Recorder(t0=ctx.t_start)
    ctx.sent, ctx.tails = None, set()
    ctx.draining = ctx.aborted = ctx.capacity_done = False
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        # The master's options (expect_workers among them) reach a worker with its spawn message,
        # i.e. just before this event, not at init: the worker's share of the load is known only now.
        ctx.slot = runner.worker_index
        ctx.workers = max(int(getattr(environment.parsed_options, "expect_workers", 1) or 1), 1)
        workers.take_settings(ctx, environment)
    ctx.identities = IdentityPool(ctx.slot, ctx.run)
    cap = ctx.load.max_rps  # each process that sends requests paces its share of the cap
    ctx.pacer = RatePacer(cap / ctx.workers) if cap and not isinstance(runner, MasterRunner) else None
    ctx.greenlets.append(gevent.spawn(_sampler, ctx))
    if not isinstance(runner, MasterRunner):
        _start_gates(ctx)
    if isinstance(runner, MasterRunner):
        ctx.greenlets.append(gevent.spawn(workers.watch, ctx))
    if not isinstance(runner, WorkerRunner):
        ctx.greenlets.append(gevent.spawn(_apply_faults, ctx))
        if ctx.load.abort_after_breach and ctx.scenario.slos:
            ctx.watching = True
            ctx.greenlets.append(gevent.spawn(_watch_slos, ctx))
        if ctx.mode == "capacity":
            ctx.greenlets.append(gevent.spawn(run_search, ctx))


def _start_gates(ctx: RunContext) -> None:
    """Open model: one arrival gate per user class, each with its share of the rate."""
    if ctx.load.shape not in ("open", "steps") and ctx.mode != "capacity":
        return
    weights = ctx.mix_weights()
    total = sum(weights.values()) or 1
    base = rate_function(ctx.load)
    for k, (name, w) in enumerate(weights.items()):
        if w == 0:
            continue
        share = w / total / ctx.workers

        def rate(t: float, share: float = share) -> float:
            if ctx.mode == "capacity":
                return ctx.target_rate * share
            return base(t) * share

        ctx.gates[name] = ArrivalGate(ctx, name, rate, ctx.rng(1000 + k))


def _sampler(ctx: RunContext) -> None:
    """Once a second: outbox depth, users, this process's CPU (generator saturation)."""
    proc = psutil.Process()
    proc.cpu_percent(None)
    while True:
        gevent.sleep(1.0)
        rec = ctx.recorder
        rec.gauge("outbox_depth", ctx.node, float(sum(len(o) for o in ctx.outboxes)))
        rec.gauge("cpu_percent", ctx.node, proc.cpu_percent(None))
        env = ctx.environment
        if env is not None and env.runner is not None and not ctx.is_worker:
            rec.gauge("users", "all", float(env.runner.user_count))


def _apply_faults(ctx: RunContext) -> None:
    """Post each planned fault to the admin API at its moment (``at`` seconds after the start)."""
    session = ctx.admin_session()
    for fault in sorted(ctx.scenario.faults, key=lambda f: f.at):
        wait = ctx.t_start + fault.at - time.time()
        if wait > 0:
            gevent.sleep(wait)
        if ctx.draining:
            break
        body = fault.model_dump(mode="json")
        body["at"] = "0s"
        info: dict[str, Any] = {"kind": fault.kind, "applied_at_s": round(time.time() - ctx.t_start, 3)}
        try:
            resp = session.post(f"{ctx.host}/api/v2/admin/faults", json=body, timeout=5)
            info["ok"] = resp.status_code < 300
            info["answer"] = resp.json() if resp.ok else None
            if not resp.ok:
                info["error"] = f"HTTP {resp.status_code}: {resp.text[:200]}"
        except (requests.RequestException, ValueError) as exc:
            info["ok"], info["error"] = False, str(exc)
        log.info("fault %s applied at %.1fs: %s", fault.kind, info["applied_at_s"], info.get("error") or "ok")
        ctx.faults_applied.append(info)


def _watch_slos(ctx: RunContext) -> None:
    """Abort after an SLO breach lasting ``abort_after_breach`` (checked every few seconds)."""
    assert ctx.load.abort_after_breach
    tracker = slo_mod.BreachTracker(ctx.load.abort_after_breach)
    slos = [s for s in ctx.scenario.slos if s.min_rps is None]  # throughput is judged on the whole run
    while not ctx.draining:
        gevent.sleep(SLO_CHECK_S)
        recent, ctx.recent = ctx.recent, Recorder(t0=ctx.t_start)
        results = slo_mod.evaluate(slos, recent, SLO_CHECK_S)
        if tracker.update(time.time(), results):
            ctx.aborted, ctx.breached = True, tracker.breached()
            log.error("vaxdrill: SLO breached for %ss (%s); aborting", ctx.load.abort_after_breach, ctx.breached)
            env = ctx.environment
            if env is not None and env.runner is not None:
                gevent.spawn(env.runner.quit)
            return

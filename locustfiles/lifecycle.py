"""vaxdrill's machinery inside a Locust process, from ``init`` to the start of the run.

:func:`install` is called once per process by the locustfile's ``init`` listener. It makes the
:class:`~locustfiles.run_context.RunContext` from the parsed options, attaches it to the
environment, sets the user classes' weights from the scenario's mix, gives Locust the run's shape
and registers the run's listeners on ``environment.events``:

- each request is recorded at full precision in a :class:`~vaxdrill.loadtest.recorder.Recorder`;
- a worker sends its deltas to the master with ``report_to_master``; the master merges them; the
  master hands workers their settings and watches for lost ones (:mod:`locustfiles.workers`);
- before the load (a headless master or standalone process): the plan printed, the fault plan
  checked against the target (exit 2), each user class's pre-flight (exit 3,
  :mod:`locustfiles.preflight`);
- at ``test_start``: the arrival gates (open model), a once-a-second sampler, and on the master (or
  standalone process) the fault plan (only with ``--faults``), the SLO watcher (abort on a sustained
  breach), the error watcher (exit 3 once every request has failed for ``load.abort_on_errors``)
  and, in capacity mode, the search (:mod:`locustfiles.capacity_search`); network faults go to the
  proxy in front of the target (:mod:`locustfiles.network_faults`);

A plain locustfile's user classes (no :class:`~locustfiles.drill_user.DrillUser`) keep their own
weights; their tasks are wrapped so that in the open model each arrival runs one task.
Locust's ``-u``/``-t``, when given, shape the run instead of the scenario (plain Locust stays plain).
- the end of the run (drain, judge, write, exit code): :mod:`locustfiles.run_end`.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import gevent
import psutil
import requests
from locust import TaskSet, User
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from locustfiles import network_faults, run_end, workers
from locustfiles.capacity_search import run_search
from locustfiles.drill_user import DrillUser
from locustfiles.extensions import context_of
from locustfiles.open_model import ArrivalGate, shape_for
from locustfiles.preflight import check_all
from locustfiles.run_context import RunContext, attach
from vaxdrill.core.errors import ExitCode
from vaxdrill.loadtest import slo as slo_mod
from vaxdrill.loadtest.faults import fault_plan_error
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
    if any(issubclass(u, DrillUser) for u in environment.user_classes):
        weights = ctx.mix_weights()
        for user_class in environment.user_classes:
            if issubclass(user_class, DrillUser) and user_class.gate_name in weights:
                user_class.weight = weights[user_class.gate_name]
    else:  # a plain locustfile: its own weights, its tasks through the open model's gates
        ctx.user_weights = {u.__name__: int(u.weight) for u in environment.user_classes}
        for user_class in environment.user_classes:
            _gate_tasks(user_class)
    if not isinstance(environment.runner, WorkerRunner):  # a worker runs the classes its master sends
        environment.user_classes[:] = [u for u in environment.user_classes if u.weight > 0 or u.fixed_count > 0]
    shape = None if ctx.settings.shape_from_cli and ctx.mode != "capacity" else shape_for(ctx)
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
    if ctx.settings.faults:  # plain Locust injects no fault unless asked (--faults)
        network_faults.install(ctx, environment)  # after _start (t_start), before the drain
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
    if not isinstance(runner, WorkerRunner) and getattr(environment.parsed_options, "headless", False):
        before_load(ctx, environment)
    return ctx


def _gate_tasks(user_class: type[User]) -> None:
    """Wrap a plain user class's function tasks: each open-model arrival runs one task (chosen by
    Locust's task weights); in the closed model a task runs as it would under Locust."""
    if user_class.__dict__.get("_vaxdrill_gated"):
        return
    own_wait = user_class.wait_time

    def wait_time(user: User) -> float:
        ctx = context_of(user)
        if ctx is not None and type(user).__name__ in ctx.gates:
            return 0.0  # the gate sets the pace
        return float(own_wait(user))

    def gated(task: Callable[[User], None]) -> Callable[[User], None]:
        @functools.wraps(task)
        def run(user: User) -> None:
            ctx = context_of(user)
            gate = ctx.gates.get(type(user).__name__) if ctx is not None else None
            if gate is None:
                if ctx is not None:
                    ctx.count("iterations")
                task(user)
                return
            due = gate.acquire()
            if due is None:
                gevent.sleep(0.5)
                return
            started = time.time()
            try:
                task(user)
            finally:
                gate.done(due, started)

        return run

    user_class.tasks = [t if isinstance(t, (type, TaskSet)) else gated(t) for t in user_class.tasks]
    user_class.wait_time = wait_time
    user_class._vaxdrill_gated = True  # type: ignore[attr-defined]


def plan_line(ctx: RunContext, environment: Environment) -> str:
    """What this run is going to do, in one line (printed before the load)."""
    load, options = ctx.load, environment.parsed_options
    if ctx.mode == "capacity":
        shape = f"capacity search from {load.steps.start_rate:g}/s"
    elif ctx.settings.shape_from_cli:
        shape = (
            f"-u {getattr(options, 'num_users', None) or 1} -r {getattr(options, 'spawn_rate', None) or 1:g}"
            f" -t {getattr(options, 'run_time', None) or 'unlimited'}s"
        )
        if load.shape != "constant":
            shape += f" (Locust's options, not the scenario's {load.shape} shape)"
    elif load.shape == "launch_day":
        shape = f"launch_day shape (closed), up to {load.users} users for {load.duration:g}s"
    elif load.shape == "constant":
        shape = "constant shape: Locust's -u/-r/-t"
    else:
        shape = f"{load.shape} shape (open model) for {load.duration:g}s"
    planned = len(ctx.scenario.faults)
    if not planned:
        faults = "no faults planned"
    elif ctx.settings.faults:
        faults = f"{planned} planned fault(s) injected through the target's fault API"
    else:
        faults = f"{planned} planned fault(s) NOT injected (add --faults to inject them)"
    classes = ", ".join(u.__name__ for u in environment.user_classes)
    return f"vaxdrill: scenario {ctx.scenario.name} on {ctx.host}: {shape}; users {classes}; {faults}"


def before_load(ctx: RunContext, environment: Environment) -> None:
    """A headless master or standalone process, before any load: print the plan, check that the
    target takes the fault plan (else exit 2) and each user class's pre-flight (else exit 3)."""
    sys.stderr.write(plan_line(ctx, environment) + "\n")
    if not environment.host:
        return
    server_faults = [f for f in ctx.scenario.faults if f.kind != "network"]  # network faults: the proxy's
    if ctx.settings.faults and server_faults:
        problem = fault_plan_error(ctx.admin_host, ctx.secrets.admin_token, len(server_faults))
        if problem is not None:
            _stop_before_load(ctx, f"vaxdrill: {problem}", ExitCode.USER_ERROR)
    reason = check_all(environment)
    ctx.user_numbers = 0  # the checks' users do not shift the run's users' seeded streams
    if reason is not None:
        _stop_before_load(ctx, f"vaxdrill: {reason}", ExitCode.COULD_NOT_RUN)


def _stop_before_load(ctx: RunContext, line: str, code: ExitCode) -> None:
    """End the process before any load: the line on stderr and in ``could-not-run.txt``, then exit."""
    sys.stderr.write(line + "\n")
    if ctx.out is not None:
        ctx.out.mkdir(parents=True, exist_ok=True)
        (ctx.out / "could-not-run.txt").write_text(f"{int(code)} {line}\n", encoding="utf-8")
    sys.exit(int(code))  # SystemExit passes through Locust's init event: no user is started


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
        if ctx.settings.faults:
            ctx.greenlets.append(gevent.spawn(_apply_faults, ctx))
        if ctx.load.abort_on_errors:
            ctx.greenlets.append(gevent.spawn(_watch_errors, ctx, ctx.load.abort_on_errors))
        if ctx.load.abort_after_breach and ctx.scenario.slos:
            ctx.watching = True
            ctx.greenlets.append(gevent.spawn(_watch_slos, ctx))
        if ctx.mode == "capacity":
            ctx.greenlets.append(gevent.spawn(run_search, ctx))


def _start_gates(ctx: RunContext) -> None:
    """Open model: one arrival gate per user class, each with its share of the rate."""
    if ctx.mode != "capacity" and (ctx.load.shape not in ("open", "steps") or ctx.settings.shape_from_cli):
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
    planned = [(i, f) for i, f in enumerate(ctx.scenario.faults) if f.kind != "network"]  # network: the proxy's
    for index, fault in sorted(planned, key=lambda item: item[1].at):
        wait = ctx.t_start + fault.at - time.time()
        if wait > 0:
            gevent.sleep(wait)
        if ctx.draining:
            break
        body = fault.model_dump(mode="json")
        body["at"] = "0s"
        info: dict[str, Any] = {"index": index, "kind": fault.kind, "applied_at_s": round(time.time() - ctx.t_start, 3)}
        try:
            resp = session.post(f"{ctx.admin_host}/api/v2/admin/faults", json=body, timeout=5)
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


FAULT_GRACE_S = 5.0  # after an injected fault ends, errors are still the fault's (clients back off)


def _in_planned_fault(ctx: RunContext, now: float) -> bool:
    """Whether ``now`` falls in an injected fault (or just after it): failing requests are expected."""
    if not ctx.settings.faults:
        return False
    t = now - ctx.t_start
    return any(f.at <= t <= f.at + f.duration + FAULT_GRACE_S for f in ctx.scenario.faults)


def _watch_errors(ctx: RunContext, limit_s: float) -> None:
    """Stop the run (exit 3) once every request has failed for ``limit_s``: the target is not there.

    Time inside an injected fault does not count: a planned outage fails every request on purpose."""
    seen = ok = 0
    failing_since: float | None = None
    while not ctx.draining:
        gevent.sleep(1.0)
        total = ctx.recorder.total()
        now = time.time()
        if total.count - total.failures > ok or _in_planned_fault(ctx, now):
            failing_since = None
        elif total.count > seen and failing_since is None:
            failing_since = now - 1.0
        seen, ok = total.count, total.count - total.failures
        if failing_since is not None and now - failing_since >= limit_s:
            ctx.could_not_run = f"every request failed for {limit_s:g}s (load.abort_on_errors); stopped the run"
            log.error("vaxdrill: %s", ctx.could_not_run)
            env = ctx.environment
            if env is not None and env.runner is not None:
                gevent.spawn(env.runner.quit)
            return

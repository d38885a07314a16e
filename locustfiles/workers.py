"""Master and workers of one run: settings handed to workers, their last figures, workers lost.

- **Settings.** The master puts its settings in its option ``--vaxdrill-settings``: the scenario (sites
  resolved), the load as run (``--duration`` applied), the mode and the run's name
  (:meth:`~locustfiles.run_context.RunSettings.for_workers`). Locust copies a master's options into
  the spawn message that starts the test on a worker (a custom message sent on connection could
  arrive before the worker's ``init`` registered its handler), so at ``test_start`` every worker,
  late joiners too, runs the master's scenario with the master's drill secrets. A worker therefore
  needs no scenario file; only its output folder stays its own.
- **The tail.** Once the workers' final reports are in (:mod:`locustfiles.run_end`), the master sends
  ``vaxdrill_stop``: each worker stops its users at once and, at its ``test_stop``, sends
  ``vaxdrill_tail`` (what it recorded since its final report: the requests still in flight at the
  drain); the master waits for every tail, so it holds every request a worker sent, however Locust
  then shuts down (a headless master quits 0.5 s after telling its workers). A worker with an output
  folder then writes ``worker-<index>.json``: everything it sent to the master (to check the master's
  merge, or to audit one machine).
- **Losses.** Once a second the master looks at its workers: one Locust marks ``missing`` (no
  heartbeat for about 3 s) or one that leaves before the end is lost; so is one whose final report
  never comes (:mod:`locustfiles.run_end`). Losses go to ``drill-raw.json`` and make the run incomplete.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

from locustfiles.run_context import RunContext
from vaxdrill.core.results import write_json
from vaxdrill.core.secrets import DrillSecrets

log = logging.getLogger("vaxdrill")

WATCH_EVERY_S = 1.0
TAIL_WAIT_S = 10.0


def install(ctx: RunContext, environment: Environment) -> None:
    """Register the master's or the worker's side (nothing for a standalone process)."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        if environment.parsed_options is not None:
            environment.parsed_options.vaxdrill_settings = ctx.settings.for_workers()
        environment.events.worker_connect.add_listener(partial(_joined, ctx))
        runner.register_message("vaxdrill_tail", partial(_on_tail, ctx))
    elif isinstance(runner, WorkerRunner):
        environment.events.test_stop.add_listener(partial(_send_tail, ctx))
        runner.register_message("vaxdrill_stop", partial(_on_stop, ctx), concurrent=True)


def take_settings(ctx: RunContext, environment: Environment) -> None:
    """A worker at ``test_start``: run the master's settings, which came with the spawn message."""
    options = environment.parsed_options
    text = str(getattr(options, "vaxdrill_settings", "") or "")
    if not text:
        log.error("vaxdrill: no settings from the master (not a vaxdrill master?); running this worker's own scenario")
        return
    secrets = DrillSecrets(
        drill_otp=str(getattr(options, "drill_otp", "") or ctx.secrets.drill_otp),
        drill_staff_key=str(getattr(options, "drill_staff_key", "") or ctx.secrets.drill_staff_key),
        admin_token=str(getattr(options, "admin_token", "") or ctx.secrets.admin_token),
    )
    ctx.settings = ctx.settings.from_master(text, secrets)
    log.info("vaxdrill: scenario %s from the master (run %s)", ctx.scenario.name, ctx.run)


def lose(ctx: RunContext, node: str, reason: str) -> None:
    """Record a worker lost mid-run (once per worker)."""
    if node in ctx.workers_lost:
        return
    at = round(time.time() - ctx.t_start, 1) if ctx.t_start else 0.0
    ctx.workers_lost[node] = {"node": node, "at_s": at, "reason": reason}
    log.error("vaxdrill: worker %s lost at %.1fs (%s); the run's results are incomplete", node, at, reason)


def watch(ctx: RunContext) -> None:
    """The master, during the run: a worker missing or gone before the end is lost."""
    runner = ctx.environment.runner if ctx.environment is not None else None
    if not isinstance(runner, MasterRunner):
        return
    while True:
        gevent.sleep(WATCH_EVERY_S)
        states = {client.id: client.state for client in runner.clients.all}
        for node in list(ctx.workers_seen):
            state = states.get(node)
            if state == STATE_MISSING:
                lose(ctx, node, "no heartbeat")
            elif state is None and not ctx.draining:
                lose(ctx, node, "left before the end")


def collect_tails(ctx: RunContext, nodes: set[str]) -> None:
    """The master, after the final reports: stop the workers' users and wait for their last figures."""
    env = ctx.environment
    if env is None or not isinstance(env.runner, MasterRunner) or not nodes:
        return
    for node in nodes:
        env.runner.send_message("vaxdrill_stop", None, node)
    deadline = time.time() + TAIL_WAIT_S
    while not nodes <= ctx.tails and time.time() < deadline:
        gevent.sleep(0.05)
    if nodes - ctx.tails:
        log.warning("vaxdrill: no last figures from workers %s (requests after their final report)", nodes - ctx.tails)


def _on_stop(ctx: RunContext, environment: Environment, msg: Any, **_: Any) -> None:
    """A worker, told by the master once its final report is in: stop the users now (fires test_stop)."""
    if environment.runner is not None:
        environment.stop_timeout = 0  # the run is over: no grace for journeys under way
        environment.runner.stop()


def _joined(ctx: RunContext, client_id: str, **_: Any) -> None:
    ctx.workers_seen.setdefault(client_id, time.time())
    ctx.workers_lost.pop(client_id, None)  # it is back (Locust lets a missing worker heal)


def _on_tail(ctx: RunContext, environment: Environment, msg: Any, **_: Any) -> None:
    delta = msg.data.get("recorder")
    if delta:
        ctx.recorder.merge_delta(delta)
    ctx.tails.add(msg.node_id)


def _send_tail(ctx: RunContext, environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if runner is None:
        return
    runner.send_message("vaxdrill_tail", {"recorder": ctx.worker_delta()})
    if ctx.out is not None and ctx.sent is not None:
        ctx.out.mkdir(parents=True, exist_ok=True)
        write_json(
            ctx.out / f"worker-{ctx.slot}.json",
            {"schema": "vaxdrill.cli.worker-raw/1", "node": ctx.node, "slot": ctx.slot, "recorder": ctx.sent.to_json()},
        )

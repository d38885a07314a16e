"""Master and workers of one run: settings handed to workers, their last figures, workers lost.

- **Settings.** When a worker connects, the master sends it ``vaxdrill_settings``: the scenario (sites
  resolved), the load as run (``--duration`` applied), the mode and the run's name
  (:meth:`~locustfiles.run_context.RunSettings.for_workers`). A worker therefore needs no scenario
  file; its secrets and output folder stay its own. Locust delivers messages in order, so the
  settings arrive before the spawn message that starts the test.
- **The tail.** At ``test_stop`` a worker sends ``vaxdrill_tail`` (what it recorded since its last
  report) before Locust's ``client_stopped``; the master has merged every worker's requests by the
  time its own ``test_stop`` fires. A worker with an output folder then writes ``worker-<index>.json``:
  everything it sent to the master (to check the master's merge, or to audit one machine).
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

log = logging.getLogger("vaxdrill")

WATCH_EVERY_S = 1.0


def install(ctx: RunContext, environment: Environment) -> None:
    """Register the master's or the worker's side (nothing for a standalone process)."""
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        environment.events.worker_connect.add_listener(partial(_joined, ctx))
        runner.register_message("vaxdrill_tail", partial(_on_tail, ctx))
    elif isinstance(runner, WorkerRunner):
        runner.register_message("vaxdrill_settings", partial(_on_settings, ctx))
        environment.events.test_stop.add_listener(partial(_send_tail, ctx))


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


def _joined(ctx: RunContext, client_id: str, **_: Any) -> None:
    ctx.workers_seen.setdefault(client_id, time.time())
    ctx.workers_lost.pop(client_id, None)  # it is back (Locust lets a missing worker heal)
    env = ctx.environment
    if env is not None and isinstance(env.runner, MasterRunner):
        env.runner.send_message("vaxdrill_settings", ctx.settings.for_workers(), client_id)


def _on_settings(ctx: RunContext, environment: Environment, msg: Any, **_: Any) -> None:
    ctx.settings = ctx.settings.from_master(msg.data)
    log.info("vaxdrill: scenario %s from the master (run %s)", ctx.scenario.name, ctx.run)


def _on_tail(ctx: RunContext, environment: Environment, msg: Any, **_: Any) -> None:
    delta = msg.data.get("recorder")
    if delta:
        ctx.recorder.merge_delta(delta)


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

"""The end of a run: drain the outboxes, gather the workers' ledgers, judge, write, set the exit code.

At ``test_stopping`` a standalone process drains itself; a master sends ``vaxdrill_drain`` to every
worker and waits (up to 30 s) for each ``vaxdrill_final`` (its last recorder delta, its ledger and
open-model accounts), so the doses of every worker reach the integrity check before Locust stops
the users; then it has the workers stop their users and waits for their last figures
(:func:`locustfiles.workers.collect_tails`); a worker that never reports is lost. At ``quitting``
the master (or standalone process) prints the SLO table, runs the integrity check (the built-in
pack: against the server's admin API; a plain locustfile: its verifier from :mod:`vaxdrill.locust`,
else "not checked"), writes ``drill-raw.json`` and sets Locust's exit code (3 a worker was lost or
every request failed, then 98 integrity failed, 97 aborted, 99 SLO failed).
"""

from __future__ import annotations

import logging
import sys
import time
from collections import defaultdict
from typing import Any

import gevent
import requests
from locust.env import Environment
from locust.runners import STATE_MISSING, LocalRunner, MasterRunner, WorkerRunner

from locustfiles.extensions import verifiers
from locustfiles.run_context import RunContext
from locustfiles.vaccinator import flush_outboxes
from locustfiles.workers import collect_tails, lose
from vaxdrill.core.errors import ExitCode
from vaxdrill.core.results import write_json
from vaxdrill.loadtest import slo as slo_mod
from vaxdrill.loadtest.integrity import LedgerEntry, check

log = logging.getLogger("vaxdrill")

DRAIN_WAIT_S = 30.0


def drain(ctx: RunContext) -> dict[str, Any]:
    """Stop new work, send every outbox through batch sync, return this process's final report."""
    ctx.draining = True
    for gate in ctx.gates.values():
        gate.close()
    deadline = time.time() + 10.0
    while ctx.busy_vaccinators > 0 and time.time() < deadline:
        gevent.sleep(0.1)
    if any(ctx.outboxes):
        flush_outboxes(ctx, deadline_s=20.0)
    for name, gate in ctx.gates.items():
        ctx.open_accounts[name] = gate.account.as_json()
    return {
        "node": ctx.node,
        "recorder": ctx.worker_delta() if ctx.is_worker else None,
        "ledger": ctx.ledger,
        "open": dict(ctx.open_accounts),
    }


def on_drain(ctx: RunContext, environment: Environment, msg: Any, **_: Any) -> None:
    """A worker, told by the master: drain and answer with ``vaxdrill_final``."""
    report = drain(ctx)
    if environment.runner is not None:
        environment.runner.send_message("vaxdrill_final", report)


def on_final(ctx: RunContext, environment: Environment, msg: Any, **_: Any) -> None:
    """The master, a worker's final report: its last recorder delta, ledger and open-model accounts."""
    data = msg.data
    if data.get("recorder"):
        ctx.recorder.merge_delta(data["recorder"])
    ctx.finals[msg.node_id] = data


def on_stopping(ctx: RunContext, environment: Environment, **_: Any) -> None:
    """``test_stopping``: drain this process, or have every worker drain and wait for their reports."""
    runner = environment.runner
    if isinstance(runner, WorkerRunner) or ctx.draining:
        return
    if isinstance(runner, MasterRunner):
        ctx.draining = True
        expected = {c.id for c in runner.clients.all if c.state != STATE_MISSING}  # a missing one is lost
        for client_id in expected:
            runner.send_message("vaxdrill_drain", None, client_id)
        deadline = time.time() + DRAIN_WAIT_S
        while not expected <= set(ctx.finals) and time.time() < deadline:
            gevent.sleep(0.1)
        missing = expected - set(ctx.finals)
        if missing:
            log.error("vaxdrill: no final report from workers %s; their doses are missing", sorted(missing))
        for node in missing:
            lose(ctx, node, "no final report")
        collect_tails(ctx, expected & set(ctx.finals))
    elif isinstance(runner, LocalRunner):
        ctx.finals["local"] = drain(ctx)


def on_quitting(ctx: RunContext, environment: Environment, **_: Any) -> None:
    """``quitting``: judge the run, print it, write ``drill-raw.json``, set Locust's exit code."""
    if ctx.is_worker:
        return
    for g in ctx.greenlets:
        g.kill(block=False)
    ledger = [e for final in ctx.finals.values() for e in final.get("ledger", [])]
    opens: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for final in ctx.finals.values():
        for name, acc in final.get("open", {}).items():
            for k, v in acc.items():
                opens[name][k] = max(opens[name][k], v) if k == "start_delay_max_s" else opens[name][k] + v
    duration = max(time.time() - ctx.t_start, 1e-9)
    results = slo_mod.evaluate(ctx.scenario.slos, ctx.recorder, duration)
    integrity = integrity_check(ctx, ledger)
    if results:
        sys.stderr.write("\nvaxdrill SLOs (full-precision latencies):\n" + slo_mod.render_table(results) + "\n")
    if integrity is None:
        sys.stderr.write("vaxdrill integrity: not checked\n")
    elif "verifier" in integrity:
        sys.stderr.write(f"vaxdrill integrity ({integrity['verifier']}): {'PASS' if integrity['passed'] else 'FAIL'}\n")
    else:
        sys.stderr.write(
            f"vaxdrill integrity: {'PASS' if integrity.get('passed') else 'FAIL'} "
            f"({integrity.get('doses_recorded')} doses recorded, {integrity.get('lost')} lost, "
            f"{integrity.get('duplicated')} duplicated)\n"
        )
    code = None
    if ctx.workers_lost:  # figures are missing: no verdict stands (`vaxdrill loadtest --allow-worker-loss`)
        lost = ", ".join(w["node"] for w in ctx.workers_lost.values())
        sys.stderr.write(f"vaxdrill: workers lost mid-run ({lost}); the results are incomplete\n")
        code = ExitCode.COULD_NOT_RUN
    elif ctx.could_not_run:
        code = ExitCode.COULD_NOT_RUN
    elif integrity is not None and not integrity.get("passed", False):  # README "Exit codes": 98, 97, 99
        code = ExitCode.INTEGRITY_FAILED
    elif ctx.aborted:
        code = ExitCode.ABORTED
    elif any(not r.passed for r in results):
        code = ExitCode.SLO_FAILED
    if code is not None:
        environment.process_exit_code = code
    if ctx.out is not None:
        runner = environment.runner
        ctx.out.mkdir(parents=True, exist_ok=True)
        write_json(
            ctx.out / "drill-raw.json",
            {
                "schema": "vaxdrill.cli.drill-raw/1",
                "mode": ctx.mode,
                "shape": ctx.load.shape,
                "host": ctx.host,
                "started": ctx.t_start,
                "duration_s": duration,
                "workers": len(ctx.finals) if ctx.is_master else 0,
                "worker_nodes": sorted(ctx.finals),
                "workers_expected": _expected_workers(environment) if ctx.is_master else 0,
                "workers_seen": sorted(ctx.workers_seen),
                "workers_lost": sorted(ctx.workers_lost.values(), key=lambda w: (w["at_s"], w["node"])),
                "recorder": ctx.recorder.to_json(),
                "ledger": ledger,
                "open": {k: dict(v) for k, v in opens.items()},
                "faults_applied": ctx.faults_applied,
                "aborted": ctx.aborted,
                "breached": ctx.breached,
                "could_not_run": ctx.could_not_run,
                "integrity": integrity,
                "capacity": ctx.capacity,
                "locust_cpu_warning": bool(
                    getattr(runner, "cpu_warning_emitted", False)
                    or getattr(runner, "worker_cpu_warning_emitted", False)
                ),
                "exit_code": code or 0,
            },
        )


def _expected_workers(environment: Environment) -> int:
    return int(getattr(environment.parsed_options, "expect_workers", 0) or 0)


def integrity_check(ctx: RunContext, ledger: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Compare the ledger with the server's admin view (a plain locustfile: run its verifiers);
    ``None`` when nothing is checked (no vaccinator, no verifier, capacity mode)."""
    if ctx.mode == "capacity":
        return None
    if ctx.user_weights is not None:
        return run_verifiers(ctx, ledger)
    if ctx.load.mix.vaccinator == 0:
        return None
    session = ctx.admin_session()
    try:
        vacc = session.get(f"{ctx.admin_host}/api/v2/admin/vaccinations", timeout=15)
        sess = session.get(f"{ctx.admin_host}/api/v2/admin/sessions", timeout=15)
        vacc.raise_for_status()
        sess.raise_for_status()
        result = check((LedgerEntry.from_json(e) for e in ledger), vacc.json()["vaccinations"], sess.json()["sessions"])
    except (requests.RequestException, ValueError, KeyError) as exc:
        return {"passed": False, "error": f"could not read the server's records: {exc}"}
    return result


def run_verifiers(ctx: RunContext, ledger: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A plain locustfile's integrity check: every verifier it declared, on the merged ledger."""
    checks = verifiers()
    if not checks:
        return None
    details: dict[str, Any] = {}
    for check_ in checks:
        name = getattr(check_, "__name__", "verifier")
        try:
            verdict = dict(check_(ledger, ctx.host))
        except Exception as exc:  # the locustfile's own code: its failure fails the check, loudly
            verdict = {"passed": False, "error": f"{type(exc).__name__}: {exc}"}
        details[name] = verdict
    return {
        "passed": all(bool(v.get("passed")) for v in details.values()),
        "verifier": ", ".join(details),
        "entries": len(ledger),
        "details": details,
    }

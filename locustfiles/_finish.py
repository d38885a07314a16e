"""The end of a run: drain the outboxes, gather the workers' ledgers, judge, write, set the exit code.

At ``test_stopping`` a standalone process drains itself; a master sends ``vaxdrill_drain`` to every
worker and waits (up to 30 s) for each ``vaxdrill_final`` (its last recorder delta, its ledger and
open-model accounts), so the doses of every worker reach the integrity check before Locust stops
the users. At ``quitting`` the master (or standalone process) prints the SLO table, runs the
integrity check against the server's admin API, writes ``drill-raw.json`` and sets Locust's exit
code (99 SLO failed, 98 integrity failed, 97 aborted).
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from typing import Any

import gevent
import requests
from locust import events
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from locustfiles._drill import DRAIN_WAIT_S, STATE, admin_session, log
from vaxdrill.core.errors import ExitCode
from vaxdrill.core.results import write_json
from vaxdrill.loadtest import slo as slo_mod
from vaxdrill.loadtest.integrity import LedgerEntry, check


def drain() -> dict[str, Any]:
    """Stop new work, send every outbox through batch sync, return this process's final report."""
    STATE.draining = True
    for gate in STATE.gates.values():
        gate.close()
    deadline = time.time() + 10.0
    while STATE.busy_vaccinators > 0 and time.time() < deadline:
        gevent.sleep(0.1)
    if any(STATE.outboxes):
        from locustfiles._vaccinator import flush_outboxes

        flush_outboxes(deadline_s=20.0)
    for name, gate in STATE.gates.items():
        STATE.open_accounts[name] = gate.account.as_json()
    return {
        "node": STATE.node,
        "recorder": STATE.recorder.take_delta() if STATE.is_worker else None,
        "ledger": STATE.ledger,
        "open": dict(STATE.open_accounts),
    }


def on_drain(environment: Environment, msg: Any, **_: Any) -> None:
    report = drain()
    if environment.runner is not None:
        environment.runner.send_message("vaxdrill_final", report)


def on_final(environment: Environment, msg: Any, **_: Any) -> None:
    data = msg.data
    if data.get("recorder"):
        STATE.recorder.merge_delta(data["recorder"])
    STATE.finals[msg.node_id] = data


@events.test_stopping.add_listener
def _stopping(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, WorkerRunner) or STATE.draining:
        return
    if isinstance(runner, MasterRunner):
        STATE.draining = True
        expected = {c.id for c in runner.clients.all}
        for client_id in expected:
            runner.send_message("vaxdrill_drain", None, client_id)
        deadline = time.time() + DRAIN_WAIT_S
        while not expected <= set(STATE.finals) and time.time() < deadline:
            gevent.sleep(0.1)
        missing = expected - set(STATE.finals)
        if missing:
            log.error("vaxdrill: no final report from workers %s; their doses are missing", sorted(missing))
    elif isinstance(runner, LocalRunner):
        STATE.finals["local"] = drain()


@events.quitting.add_listener
def _quitting(environment: Environment, **_: Any) -> None:
    if STATE.is_worker or STATE.scenario is None:
        return
    for g in STATE.greenlets:
        g.kill(block=False)
    ledger = [e for final in STATE.finals.values() for e in final.get("ledger", [])]
    opens: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for final in STATE.finals.values():
        for name, acc in final.get("open", {}).items():
            for k, v in acc.items():
                opens[name][k] = max(opens[name][k], v) if k == "start_delay_max_s" else opens[name][k] + v
    duration = max(time.time() - STATE.t_start, 1e-9)
    results = slo_mod.evaluate(STATE.scenario.slos, STATE.recorder, duration)
    integrity = integrity_check(ledger)
    if results:
        sys.stderr.write("\nvaxdrill SLOs (full-precision latencies):\n" + slo_mod.render_table(results) + "\n")
    if integrity is not None:
        sys.stderr.write(
            f"vaxdrill integrity: {'PASS' if integrity.get('passed') else 'FAIL'} "
            f"({integrity.get('doses_recorded')} doses recorded, {integrity.get('lost')} lost, "
            f"{integrity.get('duplicated')} duplicated)\n"
        )
    code = None
    if STATE.aborted:
        code = ExitCode.ABORTED
    elif any(not r.passed for r in results):
        code = ExitCode.SLO_FAILED
    elif integrity is not None and not integrity.get("passed", False):
        code = ExitCode.INTEGRITY_FAILED
    if code is not None:
        environment.process_exit_code = code
    if STATE.out is not None:
        runner = environment.runner
        STATE.out.mkdir(parents=True, exist_ok=True)
        write_json(
            STATE.out / "drill-raw.json",
            {
                "schema": "vaxdrill.cli.drill-raw/1",
                "mode": STATE.mode,
                "shape": STATE.load.shape,
                "host": STATE.host,
                "started": STATE.t_start,
                "duration_s": duration,
                "workers": len(STATE.finals) if STATE.is_master else 0,
                "worker_nodes": sorted(STATE.finals),
                "recorder": STATE.recorder.to_json(),
                "ledger": ledger,
                "open": {k: dict(v) for k, v in opens.items()},
                "faults_applied": STATE.faults_applied,
                "aborted": STATE.aborted,
                "breached": STATE.breached,
                "integrity": integrity,
                "capacity": STATE.capacity,
                "locust_cpu_warning": bool(
                    getattr(runner, "cpu_warning_emitted", False)
                    or getattr(runner, "worker_cpu_warning_emitted", False)
                ),
                "exit_code": code or 0,
            },
        )


def integrity_check(ledger: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Compare the ledger with the server's admin view; ``None`` if no vaccinator ran."""
    if STATE.load.mix.vaccinator == 0 or STATE.mode == "capacity":
        return None
    session = admin_session()
    try:
        vacc = session.get(f"{STATE.host}/api/v2/admin/vaccinations", timeout=15)
        sess = session.get(f"{STATE.host}/api/v2/admin/sessions", timeout=15)
        vacc.raise_for_status()
        sess.raise_for_status()
        result = check((LedgerEntry.from_json(e) for e in ledger), vacc.json()["vaccinations"], sess.json()["sessions"])
    except (requests.RequestException, ValueError, KeyError) as exc:
        return {"passed": False, "error": f"could not read the server's records: {exc}"}
    return result

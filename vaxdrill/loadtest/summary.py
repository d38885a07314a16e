"""``summary.json`` (schema ``vaxdrill.loadtest/1``) from the Locust process's ``drill-raw.json``.

The Locust master (or standalone process) writes ``drill-raw.json``: the merged full-precision
recorder, the vaccinators' ledger, the open model's accounts, the faults applied, the integrity
verdict. This module judges the SLOs, reports the faults and the generator, and chooses the exit
code; it never imports Locust.
"""

from __future__ import annotations

import math
from typing import Any

from vaxdrill.core.documents.loadtest import EndpointFigures, LoadTestSummary
from vaxdrill.core.errors import ExitCode
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.loadtest import slo as slo_mod
from vaxdrill.loadtest.faults import fault_report
from vaxdrill.loadtest.recorder import HistStat, Recorder

SCHEMA = LoadTestSummary.SCHEMA
CPU_SATURATED = 90.0  # Locust warns above 90% CPU; so do we
CPU_SUSTAINED = 3  # consecutive one-second samples


def _ms(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


def endpoint_figures(stat: HistStat) -> EndpointFigures:
    return EndpointFigures(
        requests=stat.count,
        failures=stat.failures,
        p50=_ms(stat.percentile_ms(50)),
        p95=_ms(stat.percentile_ms(95)),
        p99=_ms(stat.percentile_ms(99)),
        max=_ms(float(stat.hist.get_max_value()) / 1000.0) if stat.count else None,
        mean=_ms(stat.mean_ms()),
    )


def cpu_saturation(rec: Recorder) -> dict[str, Any]:
    """Per generator process: its peak CPU and whether it stayed above 90% for 3 s or more."""
    per_node: dict[str, list[float]] = {}
    for idx in sorted(rec.gauges.get("cpu_percent", {})):
        for node, value in rec.gauges["cpu_percent"][idx].items():
            per_node.setdefault(node, []).append(value)
    saturated, peaks = [], {}
    for node, values in per_node.items():
        peaks[node] = round(max(values), 1)
        run = best = 0
        for v in values:
            run = run + 1 if v >= CPU_SATURATED else 0
            best = max(best, run)
        if best >= CPU_SUSTAINED:
            saturated.append(node)
    return {"cpu_saturated": bool(saturated), "saturated_processes": sorted(saturated), "cpu_peak_percent": peaks}


def exit_code(
    slos_passed: bool,
    integrity: dict[str, Any] | None,
    aborted: bool,
    could_not_run: bool = False,
    incomplete: bool = False,
) -> ExitCode:
    """The run's verdict (README "Exit codes"): a run that could not go on (every request failing, or a
    worker lost and not accepted: figures missing) outranks everything; then a failed integrity check
    (a dose lost or stored twice) outranks an abort, which outranks a failed SLO."""
    if could_not_run or incomplete:
        return ExitCode.COULD_NOT_RUN
    if integrity is not None and not integrity.get("passed", False):
        return ExitCode.INTEGRITY_FAILED
    if aborted:
        return ExitCode.ABORTED
    if not slos_passed:
        return ExitCode.SLO_FAILED
    return ExitCode.OK


def build_summary(
    raw: dict[str, Any], scenario: Scenario, locust_exit_code: int | None = None, allow_worker_loss: bool = False
) -> tuple[LoadTestSummary, list[slo_mod.SloResult]]:
    """The summary (validated through its model) and the SLO results (for the end table).

    A worker lost mid-run makes the run ``incomplete``: exit 3 unless ``allow_worker_loss``.
    """
    rec = Recorder.from_json(raw["recorder"])
    duration = float(raw.get("duration_s") or 0.0)
    total = rec.total()
    results = slo_mod.evaluate(scenario.slos, rec, duration)
    integrity = raw.get("integrity")
    aborted = bool(raw.get("aborted"))
    lost = list(raw.get("workers_lost") or [])
    code = exit_code(
        all(r.passed for r in results), integrity, aborted, bool(raw.get("could_not_run")),
        bool(lost) and not allow_worker_loss,
    )  # fmt: skip
    generator = cpu_saturation(rec)
    generator["cpu_saturated"] = generator["cpu_saturated"] or bool(raw.get("locust_cpu_warning"))
    generator["workers"] = int(raw.get("workers") or 0)
    generator["worker_nodes"] = raw.get("worker_nodes", [])
    opens = raw.get("open") or {}
    open_total = {
        k: sum(float(a.get(k, 0)) for a in opens.values()) for k in ("scheduled", "started", "late", "dropped")
    }
    start_delay = rec.extra.get("start_delay", HistStat())
    lag = rec.extra.get("sync_lag", HistStat())
    outbox = rec.gauge_series("outbox_depth")
    summary: dict[str, Any] = {
        "schema": SCHEMA,
        "scenario": scenario.name,
        "mode": raw.get("mode", "loadtest"),
        "shape": raw.get("shape"),
        "model": "open" if raw.get("shape") in ("open", "steps") else "closed",
        "host": raw.get("host"),
        "duration_s": round(duration, 3),
        "requests": total.count,
        "failures": total.failures,
        "error_rate": round(total.failures / total.count, 5) if total.count else None,
        "rps": round(total.count / duration, 3) if duration > 0 else None,
        "latency_ms": endpoint_figures(total),
        "endpoints": {name: endpoint_figures(stat) for name, stat in sorted(rec.endpoints.items())},
        "slos": [r.as_json() for r in results],
        "faults": fault_report(rec, scenario.faults, raw.get("faults_applied", [])),
        "integrity": integrity,
        "open_model": {
            **{k: int(v) for k, v in open_total.items()},
            "by_user_class": opens,
            "start_delay_p99_ms": _ms(start_delay.percentile_ms(99)),
            "coordinated_omission_note": "late/dropped: arrivals the generator could not start on time",
        }
        if opens
        else None,
        "vaccinators": {
            "online_records": int(rec.counters.get("online_records", 0)),
            "paper_records": int(rec.counters.get("paper_records", 0)),
            "synced_records": int(rec.counters.get("synced_records", 0)),
            "in_flight_waits": int(rec.counters.get("in_flight_waits", 0)),
            "refused_records": int(rec.counters.get("refused_records", 0)),
            "outbox_depth_max": max(outbox.values(), default=0.0),
            "sync_lag_p95_ms": _ms(lag.percentile_ms(95)),
            "sync_lag_max_ms": float(lag.hist.get_max_value()) / 1000.0 if lag.count else None,
        },
        "generator": generator,
        "aborted": aborted,
        "breached": raw.get("breached", []),
        "exit_code": code,
        "metrics": {name: endpoint_figures(stat) for name, stat in sorted(rec.extra.items())},
        "counters": {name: round(float(v), 3) for name, v in sorted(rec.counters.items())},
        "could_not_run": raw.get("could_not_run"),
    }
    if locust_exit_code is not None:
        summary["locust_exit_code"] = locust_exit_code
    expected = int(raw.get("workers_expected") or 0)
    if expected or raw.get("workers_seen"):
        summary["workers"] = {"expected": expected, "seen": list(raw.get("workers_seen") or []), "lost": lost}
    summary["incomplete"] = bool(lost)
    return LoadTestSummary.model_validate(summary), results

"""Errors and latency around each injected fault, and the time the service took to recover.

A fault from the scenario's plan (``faults:``) is posted to the server's admin API at its planned
moment. From the run's timeline (one-second windows of all requests) the report compares the
window before the fault, the fault itself and the time after. *Recovered* is the first window
after the fault's end whose error rate is back under ``max(1%, 2 x before)`` and whose p95 is under
``max(2 x before, before + 100 ms)``; time to recover counts from the fault's end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from vaxdrill.core.scenario.loadplan import Fault
from vaxdrill.loadtest.recorder import HistStat, Recorder

BEFORE_S = 10.0


def _brief(stat: HistStat, seconds: float) -> dict[str, Any]:
    p95 = stat.percentile_ms(95)
    return {
        "requests": stat.count,
        "failures": stat.failures,
        "error_rate": round(stat.failures / stat.count, 4) if stat.count else None,
        "p95_ms": None if math.isnan(p95) else round(p95, 2),
        "rps": round(stat.count / seconds, 2) if seconds > 0 else None,
    }


def fault_report(rec: Recorder, faults: Sequence[Fault], applied: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per planned fault: when it was applied, before/during/after figures, recovery."""
    out: list[dict[str, Any]] = []
    _, last = rec.span()
    end_of_run = (last + 1) * rec.window
    for i, fault in enumerate(faults):
        info = applied[i] if i < len(applied) else {}
        applied_at = float(info.get("applied_at_s", fault.at))
        # Whole windows: the window the fault starts in belongs to the fault, not to "before".
        start = math.floor(applied_at / rec.window) * rec.window
        end = applied_at + fault.duration
        before_start = max(0.0, start - BEFORE_S)
        before = rec.between(before_start, start)
        during = rec.between(start, end)
        after = rec.between(end, min(end + BEFORE_S, end_of_run))
        base_err = before.failures / before.count if before.count else 0.0
        base_p95 = before.percentile_ms(95)
        err_ok = max(0.01, 2.0 * base_err)
        p95_ok = math.inf if math.isnan(base_p95) else max(2.0 * base_p95, base_p95 + 100.0)
        recovered_at: float | None = None
        for idx in sorted(rec.windows):
            t = idx * rec.window
            win = rec.windows[idx].requests
            if t < end or win.count == 0:
                continue
            if win.failures / win.count <= err_ok and win.percentile_ms(95) <= p95_ok:
                recovered_at = t
                break
        out.append(
            {
                "kind": fault.kind,
                "planned_at_s": fault.at,
                "applied_at_s": round(applied_at, 3),
                "duration_s": fault.duration,
                "routes": list(fault.routes),
                "mode": fault.mode,
                "applied": bool(info.get("ok", False)),
                "error": info.get("error"),
                "before": _brief(before, start - before_start),
                "during": _brief(during, fault.duration),
                "after": _brief(after, min(BEFORE_S, max(end_of_run - end, 0.0))),
                "time_to_recover_s": None if recovered_at is None else round(max(recovered_at - end, 0.0), 3),
            }
        )
    return out


def share_text(value: float | None) -> str:
    """An error rate as a percentage; "no requests" when the window saw none (never "None")."""
    return "no requests" if value is None else f"{value:.1%}"


def recovery_text(fault: dict[str, Any], run_s: float | None = None) -> str:
    """How long the service took to recover after the fault's end, or why that is not known."""
    seconds = fault.get("time_to_recover_s")
    if seconds is not None:
        return f"recovered {seconds:.1f} s after it ended"
    end = float(fault.get("applied_at_s") or 0.0) + float(fault.get("duration_s") or 0.0)
    if run_s is not None and end >= run_s - 1.0:
        return "the run ended before the fault did: recovery not measured"
    if not fault.get("applied", True):
        return "not applied"
    return "did not recover before the run ended"


def fault_line(fault: dict[str, Any], run_s: float | None = None) -> str:
    """One terminal line per fault (a ``faults`` entry of ``summary.json``)."""
    applied = "applied" if fault.get("applied") else f"NOT applied: {fault.get('error') or 'unknown reason'}"
    before, during, after = (share_text(fault[part]["error_rate"]) for part in ("before", "during", "after"))
    return (
        f"fault {fault['kind']} at {fault['applied_at_s']:.1f} s for {fault['duration_s']:g} s ({applied}): "
        f"errors before {before}, during {during}, after {after}; {recovery_text(fault, run_s)}"
    )

"""Errors and latency around each injected fault, and the time the service took to recover.

A fault from the scenario's plan (``faults:``) is posted to the server's admin API at its planned
moment; a network fault (``kind: network``) is a toxic on the proxy in front of the target
(:mod:`vaxdrill.loadtest.network_faults`) and ends when the toxic is removed. From the run's timeline
(one-second windows of all requests) the report compares the window before the fault, the fault
itself and the time after. *Recovered* is the first window after the fault's end whose error rate is
back under ``max(1%, 2 x before)`` and whose p95 is under ``max(2 x before, before + 100 ms)``;
time to recover counts from the fault's end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import httpx

from vaxdrill.core.scenario.loadplan import Fault
from vaxdrill.loadtest.recorder import HistStat, Recorder

FAULT_API = "/api/v2/admin/faults"


def fault_api_problem(host: str, admin_token: str, timeout_s: float = 5.0) -> str | None:
    """Why ``host`` cannot take a fault plan through the reference server's fault API, or ``None``.

    The target offers the API when ``GET /api/v2/admin/faults`` answers 200 with ``{"faults": [...]}``
    (the reference server does); any other answer means a fault plan needs the network fault proxy.
    """
    url = host.rstrip("/") + FAULT_API
    try:
        resp = httpx.get(url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return f"GET {url} got no answer ({type(exc).__name__}: {exc})"
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("faults"), list):
        return f'GET {url} answered HTTP {resp.status_code}, not {{"faults": [...]}}'
    return None


def fault_plan_error(host: str, admin_token: str, planned: int) -> str | None:
    """The one-line error for a fault plan of ``planned`` faults the target cannot take, or ``None``."""
    problem = fault_api_problem(host, admin_token)
    if problem is None:
        return None
    return (
        f"the scenario plans {planned} fault(s) but {host} offers no fault API ({problem}); "
        "faults on another server need the network fault proxy. Remove `faults:` to run the load alone"
    )


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
    """One entry per planned fault: when it was applied, before/during/after figures, recovery.

    ``applied`` are the records of the faults as applied; a record's ``index`` is the fault's place in
    the plan (records without one are taken in the plan's order).
    """
    out: list[dict[str, Any]] = []
    _, last = rec.span()
    end_of_run = (last + 1) * rec.window
    by_index = {int(a["index"]): a for a in applied if "index" in a}
    for i, fault in enumerate(faults):
        info = by_index.get(i) if by_index else (applied[i] if i < len(applied) else None)
        # No record: the run ended (or was draining) before the fault was due.
        info = info or {"ok": False, "error": "not applied: the run ended before it was due"}
        applied_at = float(info.get("applied_at_s", fault.at))
        # Whole windows: the window the fault starts in belongs to the fault, not to "before".
        start = math.floor(applied_at / rec.window) * rec.window
        # A network fault ends when its toxic was removed (the run's end, if it was still in place).
        removed_at = info.get("removed_at_s")
        end = float(removed_at) if removed_at is not None else applied_at + fault.duration
        lasted = max(end - applied_at, 0.0)
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
                "duration_s": round(lasted, 3) if removed_at is not None else fault.duration,
                "routes": list(fault.routes),
                "mode": None if fault.kind == "network" else fault.mode,
                **_network(fault),
                "applied": bool(info.get("ok", False)),
                "error": info.get("error"),
                "before": _brief(before, start - before_start),
                "during": _brief(during, lasted),
                "after": _brief(after, min(BEFORE_S, max(end_of_run - end, 0.0))),
                "time_to_recover_s": None if recovered_at is None else round(max(recovered_at - end, 0.0), 3),
            }
        )
    return out


def _network(fault: Fault) -> dict[str, Any]:
    """A network fault's toxic, stream, toxicity and attributes (``None`` for a server fault)."""
    if fault.kind != "network":
        return {"toxic": None, "stream": None, "toxicity": None, "attributes": None}
    return {
        "toxic": fault.toxic,
        "stream": None if fault.toxic == "down" else fault.stream,
        "toxicity": None if fault.toxic == "down" else fault.toxicity,
        "attributes": dict(fault.attributes),
    }


def fault_label(fault: dict[str, Any]) -> str:
    """``outage``, or for a network fault its toxic and stream: ``network reset_peer (downstream)``."""
    if fault.get("kind") != "network":
        return str(fault.get("kind"))
    stream = f" ({fault['stream']})" if fault.get("stream") else ""
    return f"network {fault.get('toxic')}{stream}"


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
        f"fault {fault_label(fault)} at {fault['applied_at_s']:.1f} s for {fault['duration_s']:g} s ({applied}): "
        f"errors before {before}, during {during}, after {after}; {recovery_text(fault, run_s)}"
    )

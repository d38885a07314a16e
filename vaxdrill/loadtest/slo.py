"""Service-level objectives judged on full-precision latencies, and the k6-style end table.

An SLO from the scenario (:class:`vaxdrill.core.scenario.loadplan.Slo`) names one limit: a latency
percentile of one endpoint (or of all requests), an error rate, a minimum throughput or a
maximum sync lag of the vaccinators' paper records. :func:`evaluate` compares each with what the
merged :class:`~vaxdrill.loadtest.recorder.Recorder` saw.

The verdict becomes the exit code (:class:`~vaxdrill.core.errors.ExitCode`, README "Exit codes"):
0 every SLO and the integrity check passed; 99 an SLO failed (as k6 does for thresholds); 98 the
integrity check failed; 97 the run was aborted after a sustained SLO breach. A failed integrity
check outranks the others (a lost dose is worse than a slow one), an abort outranks a failed SLO.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from vaxdrill.core.scenario.loadplan import Slo
from vaxdrill.core.scenario.units import format_duration
from vaxdrill.loadtest.recorder import HistStat, Recorder

_LATENCY = ("p50", "p95", "p99")


@dataclass(frozen=True)
class SloResult:
    """One row of the end table. Latencies and lag in milliseconds, error rate as a share."""

    name: str
    metric: str
    limit: float
    observed: float | None
    passed: bool
    unit: str

    def as_json(self) -> dict[str, object]:
        out = asdict(self)
        if self.observed is not None and math.isnan(self.observed):
            out["observed"] = None
        return out


def slo_metric(slo: Slo) -> tuple[str, float]:
    """The limit's name and value (durations in milliseconds)."""
    for name in (*_LATENCY, "max_sync_lag"):
        value = getattr(slo, name)
        if value is not None:
            return name, float(value) * 1000.0
    if slo.error_rate is not None:
        return "error_rate", float(slo.error_rate)
    assert slo.min_rps is not None  # the model guarantees exactly one limit
    return "min_rps", float(slo.min_rps)


def slo_name(slo: Slo) -> str:
    if slo.name:
        return slo.name
    metric, limit = slo_metric(slo)
    target = slo.endpoint or "all"
    if metric in _LATENCY or metric == "max_sync_lag":
        return f"{target} {metric} < {format_duration(limit / 1000.0)}"
    if metric == "error_rate":
        return f"{target} error_rate < {limit:.2%}"
    return f"{target} rps >= {limit:g}"


def _requests(rec: Recorder, endpoint: str | None) -> HistStat:
    if endpoint is None:
        return rec.total()
    return rec.endpoints.get(endpoint, HistStat())


def evaluate(slos: Sequence[Slo], rec: Recorder, duration_s: float) -> list[SloResult]:
    """Judge each SLO on the merged recorder; ``duration_s`` is the measured span for throughput.

    An SLO on an endpoint that saw no request fails (observed ``None``): an untested promise is
    not a kept one.
    """
    results: list[SloResult] = []
    for slo in slos:
        metric, limit = slo_metric(slo)
        observed: float | None
        if metric in _LATENCY:
            stat = _requests(rec, slo.endpoint)
            observed = None if stat.empty else stat.percentile_ms(float(metric[1:]))
            passed = observed is not None and observed <= limit
            unit = "ms"
        elif metric == "error_rate":
            stat = _requests(rec, slo.endpoint)
            observed = None if stat.empty else stat.failures / stat.count
            passed = observed is not None and observed <= limit
            unit = "share"
        elif metric == "min_rps":
            stat = _requests(rec, slo.endpoint)
            observed = stat.count / duration_s if duration_s > 0 else 0.0
            passed = observed >= limit
            unit = "req/s"
        else:  # max_sync_lag: the worst delay from a paper record to its acceptance by the server
            lag = rec.extra.get("sync_lag", HistStat())
            observed = 0.0 if lag.empty else float(lag.hist.get_max_value()) / 1000.0
            passed = observed <= limit
            unit = "ms"
        results.append(SloResult(slo_name(slo), metric, limit, observed, passed, unit))
    return results


def _fmt(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "no data"
    if unit == "ms":
        return f"{value:.1f} ms" if value < 10_000 else f"{value / 1000:.2f} s"
    if unit == "share":
        return f"{value:.2%}"
    return f"{value:.1f} {unit}"


_LABELS = {"error_rate": "error rate", "min_rps": "throughput", "max_sync_lag": "sync lag"}


def _short(value: float, unit: str) -> str:
    """A figure rounded to what it means: latencies to the ms (or 0.1 s), shares to 0.1%."""
    if unit == "ms":
        return f"{value:.0f} ms" if value < 10_000 else f"{value / 1000:.1f} s"
    if unit == "share":
        return f"{value:.1%}"
    return f"{value:.1f} {unit}"


def breach_text(result: Mapping[str, Any]) -> str:
    """Observed against limit for one failed SLO (a :class:`SloResult` as JSON), e.g.
    ``"error rate 44.0% > 2.0%"`` or ``"findByDistrict p95 512 ms > 400 ms"``."""
    name = str(result["name"])
    if "metric" not in result:  # an older summary: the name is all there is
        return f"{name} (observed {result.get('observed')})"
    metric, unit = str(result["metric"]), str(result.get("unit", ""))
    words = name.split()
    generated = len(words) > 1 and words[1] in (metric, "rps")
    target = words[0] if generated and words[0] != "all" else ""
    label = " ".join(part for part in (target, _LABELS.get(metric, metric)) if part)
    observed = result.get("observed")
    limit = _short(float(result["limit"]), unit)
    if observed is None:
        text = f"{label}: no requests to judge (limit {limit})"
    else:
        op = "<" if metric == "min_rps" else ">"
        text = f"{label} {_short(float(observed), unit)} {op} {limit}"
    return text if generated else f"{name} ({text})"


def breaches(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """:func:`breach_text` of every failed SLO, in the scenario's order."""
    return [breach_text(r) for r in results if not r.get("passed")]


def table_rows(results: Sequence[SloResult]) -> list[tuple[str, str, str, str]]:
    """(SLO, limit, observed, verdict) strings for the end table."""
    rows = []
    for r in results:
        op = ">=" if r.metric == "min_rps" else "<="
        rows.append((r.name, f"{op} {_fmt(r.limit, r.unit)}", _fmt(r.observed, r.unit), "PASS" if r.passed else "FAIL"))
    return rows


def render_table(results: Sequence[SloResult]) -> str:
    """The k6-style plain-text table printed at the end of a run (also by plain ``locust -f``)."""
    rows = [("SLO", "limit", "observed", "result"), *table_rows(results)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for n, row in enumerate(rows):
        mark = "" if n == 0 else ("  ✓ " if row[3] == "PASS" else "  ✗ ")
        lines.append((mark or "    ") + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
    return "\n".join(lines)


class BreachTracker:
    """Decides when a breach has lasted long enough to abort the run (``abort_after_breach``).

    Fed the SLO verdicts of successive checks; reports ``True`` once some SLO has failed at every
    check for at least ``sustain_s`` seconds.
    """

    def __init__(self, sustain_s: float) -> None:
        self.sustain_s = sustain_s
        self._since: dict[str, float] = {}

    def update(self, now: float, results: Sequence[SloResult]) -> bool:
        for r in results:
            if r.passed or r.observed is None:
                self._since.pop(r.name, None)
            else:
                self._since.setdefault(r.name, now)
        return any(now - t >= self.sustain_s for t in self._since.values())

    def breached(self) -> list[str]:
        return sorted(self._since)

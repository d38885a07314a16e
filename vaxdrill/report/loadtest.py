"""The load test's ``report.html``: did the server hold, and was any record lost?

One verdict sentence, then the headline figures, the SLO gates, throughput and latency over time
with the faults shaded, each endpoint's latency, the fault drills, the integrity check and the
load generator's own CPU. The drill's engineer section reuses these parts (:func:`loadtest_parts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaxdrill.core.scenario.model import Scenario
from vaxdrill.loadtest.faults import fault_label, recovery_text, share_text
from vaxdrill.loadtest.slo import breaches
from vaxdrill.report.failures import failure_rows, links
from vaxdrill.report.html import Figure, Value, figure, lookup, write

Row = list[str | Value | object]


@dataclass(frozen=True)
class LoadtestParts:
    """What the load test's report and the drill's engineer section show."""

    verdict: str
    verdict_ok: bool  # the run's exit code was 0: the verdict box is green, else red
    headline: list[tuple[str, Value]]
    slos: list[Row]
    timeline: Figure | None
    latency: Figure | None  # the response-time distribution
    endpoints: list[Row]
    faults: list[Row]
    integrity: list[tuple[str, object]]
    failures: list[list[str]]  # endpoint, method, status or exception, message, count, share
    links: list[tuple[str, str]]  # Locust's HTML report, the CSVs, the summary
    saturated: bool
    cpu_peaks: str


def slo_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.2%}" if unit == "share" else f"{value:,.4g} {unit}".strip()


def engineer_verdict(load: dict[str, Any]) -> str:
    slos = load.get("slos", [])
    failed = breaches(slos)
    integrity = load.get("integrity") or {}
    parts = [
        f"{load.get('requests', 0):,} requests at {load.get('rps', 0):.1f}/s, p95 "
        f"{lookup(load, 'latency_ms.p95') or 0:.0f} ms; SLOs {len(slos) - len(failed)}/{len(slos)} met"
        + (f" (failed: {'; '.join(failed)})" if failed else "")
    ]
    if load.get("aborted"):
        parts.append("aborted after a sustained breach")
    if not integrity:
        parts.append("integrity: not checked")
    elif "verifier" in integrity:
        parts.append(f"integrity ({integrity['verifier']}): {'passed' if integrity.get('passed') else 'FAILED'}")
    else:
        if integrity.get("passed"):
            parts.append(
                f"integrity: all {integrity.get('doses_recorded', 0)} doses on the server exactly once "
                f"({integrity.get('paper', 0)} recorded on paper and synced), none lost, none duplicated"
            )
        else:
            parts.append(
                f"integrity FAILED: {integrity.get('lost', '?')} lost, {integrity.get('duplicated', '?')} duplicated"
            )
    for fault in load.get("faults", []):
        if not fault.get("applied", True):
            parts.append(f"{fault_label(fault)}: {fault.get('error') or 'not applied'}")
            continue
        recovery = recovery_text(fault, load.get("duration_s"))
        parts.append(f"{fault_label(fault)} of {fault['duration_s']:g} s: {recovery}")
    return "; ".join(parts) + "."


def _figure(load: dict[str, Any], metric: str, text: str) -> Value:
    value = lookup(load, metric)
    attrs = {"data-metric": metric}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        attrs["data-value"] = repr(value)
    return Value(text if value is not None else "-", attrs)


def _headline(load: dict[str, Any]) -> list[tuple[str, Value]]:
    rate = load.get("error_rate")
    rows = [
        ("requests", _figure(load, "requests", f"{load.get('requests', 0):,}")),
        ("throughput (requests/s)", _figure(load, "rps", f"{load.get('rps') or 0:.1f}")),
        ("error rate", _figure(load, "error_rate", f"{rate:.2%}" if isinstance(rate, (int, float)) else "-")),
    ]
    for p in ("p50", "p95", "p99"):
        ms = lookup(load, f"latency_ms.{p}")
        rows.append((f"latency {p} (ms)", _figure(load, f"latency_ms.{p}", _ms(ms))))
    return rows


def _slo_rows(load: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for i, s in enumerate(load.get("slos", [])):
        unit = s.get("unit", "")
        observed = Value(slo_value(s["observed"], unit), {"data-metric": f"slos.{i}.observed", "data-slo": s["name"],
                                                          **({"data-value": repr(s["observed"])}
                                                             if s["observed"] is not None else {})})  # fmt: skip
        rows.append([s["name"], slo_value(s["limit"], unit), observed, "pass" if s["passed"] else "FAIL"])
    return rows


def _endpoint_rows(load: dict[str, Any]) -> list[Row]:
    """Per endpoint: requests, requests/s, failures and their share, latency percentiles (whole ms)."""
    seconds = float(load.get("duration_s") or 0.0)
    rows: list[Row] = []
    for name, e in load.get("endpoints", {}).items():
        rps = f"{e['requests'] / seconds:.1f}" if seconds > 0 else "-"
        failed = f"{e['failures'] / e['requests']:.1%}" if e["requests"] else "-"
        ms = [_ms(e.get(p)) for p in ("p50", "p95", "p99")]
        rows.append([name, f"{e['requests']:,}", rps, f"{e['failures']:,}", failed, *ms])
    return rows


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 10 else f"{value:,.0f}"


def _integrity_rows(integrity: dict[str, Any]) -> list[tuple[str, object]]:
    labels = {"passed": "passed", "doses_recorded": "doses given (ledger)", "online": "recorded online",
              "paper": "recorded on paper", "server_vaccinations": "doses on the server",
              "lost": "lost (given but not recorded)", "duplicated": "stored twice",
              "given_twice_by_drill": "given twice by the drill", "unsynced_at_end": "paper records not synced",
              "overbooked_sessions": "sessions overbooked"}  # fmt: skip
    rows: list[tuple[str, object]] = []
    for key, value in integrity.items():
        if isinstance(value, (dict, list)):
            continue
        shown: object = value
        if isinstance(value, bool):
            shown = "yes" if value else "NO"
        elif isinstance(value, int):
            shown = f"{value:,}"
        rows.append((labels.get(key, key.replace("_", " ")), shown))
    return rows


def loadtest_parts(folder: Path, load: dict[str, Any], prefix: str = "") -> LoadtestParts:
    """The engineer's figures from a load test's ``summary.json`` and the ``timeline.png`` in ``folder``;
    links to its files start with ``prefix`` (the folder as seen from the report)."""
    integrity = load.get("integrity") or {}
    generator = load.get("generator", {})
    return LoadtestParts(
        verdict=engineer_verdict(load),
        verdict_ok=int(load.get("exit_code", 0)) == 0,
        headline=_headline(load),
        slos=_slo_rows(load),
        timeline=figure(folder / "timeline.png", "Users, arrivals, throughput and latency over time; faults shaded"),
        latency=figure(folder / "latency.png", "Response-time distribution: share of requests answered within a time"),
        endpoints=_endpoint_rows(load),
        faults=[
            [
                fault_label(f),
                f"{f['applied_at_s']:.1f}",
                f"{f['duration_s']:g}",
                share_text(f["before"]["error_rate"]),
                share_text(f["during"]["error_rate"]),
                share_text(f["after"]["error_rate"]),
                recovery_text(f, load.get("duration_s")),
            ]
            for f in load.get("faults", [])
        ],
        integrity=_integrity_rows(integrity) or [("integrity", "not checked")],
        failures=failure_rows(folder, int(load.get("requests") or 0)),
        links=links(folder, prefix),
        saturated=bool(generator.get("cpu_saturated")),
        cpu_peaks=", ".join(f"{k} {v}%" for k, v in generator.get("cpu_peak_percent", {}).items()),
    )


def _run_facts(load: dict[str, Any]) -> list[tuple[str, str]]:
    facts = [("scenario", str(load.get("scenario", ""))), ("shape", str(load.get("shape"))),
             ("model", str(load.get("model"))), ("host", str(load.get("host"))),
             ("duration (s)", str(load.get("duration_s"))), ("exit code", str(load.get("exit_code")))]  # fmt: skip
    opened = load.get("open_model") or {}
    if opened.get("scheduled") is not None:
        facts.append(("open model", f"{opened['scheduled']} arrivals, {opened.get('started')} started, "
                                    f"{opened.get('late')} late, {opened.get('dropped')} dropped"))  # fmt: skip
    return facts


def write_report(folder: Path, scenario: Scenario, load: dict[str, Any]) -> Path:
    return write(
        folder / "report.html",
        "loadtest.html.j2",
        title=f"vaxdrill load test: {scenario.name}",
        heading=f"Load test: {scenario.name}",
        subtitle=(scenario.description or "").strip(),
        load=loadtest_parts(folder, load),
        facts=_run_facts(load),
        schema=str(load.get("schema", "")),
    )

"""The drill's ``report.html``: one self-contained file for the planner and the engineer.

Planner first (the policy comparison, its one-sentence answer, cumulative vaccinated with the
outages shaded, backlog, and what the measured server changes), then the engineer (SLOs,
throughput and latency over time with the faults marked, integrity, generator saturation, the
measured server profile), then what was run. The planner's and the engineer's sections are the
simulation's and the load test's report parts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vaxdrill.core.scenario.model import Scenario
from vaxdrill.report.html import MetricRow, MetricTable, lookup, metric_cell, write
from vaxdrill.report.loadtest import engineer_verdict, loadtest_parts
from vaxdrill.report.simulation import simulation_parts

__all__ = ["build_report", "engineer_verdict", "measured_change", "measured_table"]


def measured_table(assumed: dict[str, Any], measured: dict[str, Any]) -> MetricTable:
    """Per policy: vaccinated and mean wait on the assumed server and on the measured one."""
    rows = []
    for name, node in assumed.get("policies", {}).items():
        servers = (("assumed", node), ("measured", measured.get("policies", {}).get(name, {})))
        cells = [
            metric_cell(summary, metric, attrs={"data-policy": name, "data-server": server})
            for metric in ("vaccinated", "wait_minutes.mean")
            for server, summary in servers
        ]
        rows.append(MetricRow([name], cells))
    header = ["policy", "vaccinated (assumed server)", "vaccinated (measured server)",
              "mean wait (assumed)", "mean wait (measured)"]  # fmt: skip
    return MetricTable(header, rows)


def measured_change(assumed: dict[str, Any], measured: dict[str, Any], profile: dict[str, Any] | None = None) -> str:
    """How much the measured server moves the planner's figures; when it moves nothing, when and why
    the table repeats the plain run (the measured latency beside the assumed one and the stations')."""
    changes = []
    for name, node in assumed.get("policies", {}).items():
        other = measured.get("policies", {}).get(name)
        if other is None:
            continue
        changes.append((
            other["vaccinated"]["mean"] - node["vaccinated"]["mean"],
            lookup(other, "wait_minutes.mean.mean") - lookup(node, "wait_minutes.mean.mean"),
            name,
        ))  # fmt: skip
    if not changes:
        return "No policy was simulated on both servers."
    vacc, wait, name = max(changes, key=lambda c: abs(c[0]) + abs(c[1]))
    sentence = (
        f"The largest change is under {name}: {vacc:+.1f} vaccinated and {wait:+.1f} min of mean wait "
        "on the measured server."
    )
    if abs(vacc) < 1 and abs(wait) < 1:
        sentence = (
            f"On the server as measured every policy matches the plain run (the largest change, under {name}: "
            f"{vacc:+.1f} vaccinated, {wait:+.1f} min of mean wait), as expected when the server is not what "
            "limits the day"
        )
        points = (profile or {}).get("points", [])
        if points:
            p95 = max(float(pt["p95_ms"]) for pt in points)
            failed = max(float(pt["failure_rate"]) for pt in points)
            top = max(float(pt["offered_rps"]) for pt in points)
            sentence += (
                f": up to {top:.1f} requests/s it answered within {p95:,.0f} ms at p95 with {failed:.1%} "
                "failures, seconds at most beside the minutes each station takes per person"
            )
        sentence += (
            ". Outages and the vaccination bottleneck decide this day; the columns would differ if the measured "
            "server were slower or failed more than the assumed one at the day's load."
        )
    return sentence


def _profile_rows(profile: dict[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = []
    for p in profile.get("points", []):
        ms = [f"{p[key]:.1f}" for key in ("offered_rps", "throughput_rps", "p50_ms", "p95_ms", "p99_ms")]
        rows.append([*ms, f"{p['failure_rate']:.1%}", p["requests"]])
    return rows


def build_report(
    scenario: Scenario,
    folder: Path,
    assumed: dict[str, Any] | None,
    load: dict[str, Any] | None,
    profile: dict[str, Any] | None,
    measured: dict[str, Any] | None,
    run_facts: list[tuple[str, str]],
) -> Path:
    plots = ("cumulative_vaccinated.png", "backlog.png")
    return write(
        folder / "report.html",
        "drill.html.j2",
        title=f"Launch-day drill: {scenario.name}",
        heading=f"Launch-day drill: {scenario.name}",
        subtitle=(scenario.description or "").strip(),
        sim=simulation_parts(folder / "simulation", assumed, plots) if assumed else None,
        measured=measured_table(assumed, measured) if assumed and measured else None,
        measured_change=measured_change(assumed, measured, profile) if assumed and measured else "",
        measured_answer=str(measured.get("answer", "")) if measured else "",
        load=loadtest_parts(folder / "loadtest", load, prefix="loadtest/") if load else None,
        profile=profile,
        profile_rows=_profile_rows(profile) if profile else [],
        run_facts=run_facts,
    )

"""The drill's ``report.html``: one self-contained file for the planner and the engineer.

Planner first (the policy comparison, its one-sentence answer, cumulative vaccinated with the
outages shaded, backlog, and what the measured server changes), then the engineer (SLOs,
throughput and latency over time with the faults marked, integrity, generator saturation, the
measured server profile), then what was run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vaxdrill.core.scenario.model import Scenario
from vaxdrill.report.html import Report


def _stat(node: Any, share: bool = False) -> str:
    from simulation.experiment import format_interval

    return format_interval(node, share)


def _get(node: dict[str, Any], dotted: str) -> Any:
    cur: Any = node
    for part in dotted.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur


def policy_rows(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    checkpoints = list(summary.get("checkpoints", []))
    header = ["policy", "vaccinated", *[f"by {c}" for c in checkpoints], "attainment", "mean wait (min)",
              "turned away", "doses wasted", "paper records", "backlog at close"]  # fmt: skip
    rows = []
    for name, node in summary.get("policies", {}).items():
        rows.append([
            name,
            _stat(node.get("vaccinated")),
            *[_stat(_get(node, f"vaccinated_by.{c}")) for c in checkpoints],
            _stat(node.get("attainment"), share=True),
            _stat(_get(node, "wait_minutes.mean")),
            _stat(node.get("turned_away")),
            _stat(node.get("doses_wasted")),
            _stat(node.get("paper_records")),
            _stat(node.get("backlog_at_close")),
        ])  # fmt: skip
    return header, rows


def measured_rows(assumed: dict[str, Any], measured: dict[str, Any]) -> list[list[str]]:
    """Per policy: vaccinated and mean wait on the assumed server and on the measured one."""
    rows = []
    for name, node in assumed.get("policies", {}).items():
        other = measured.get("policies", {}).get(name, {})
        rows.append([
            name,
            _stat(node.get("vaccinated")), _stat(other.get("vaccinated")),
            _stat(_get(node, "wait_minutes.mean")), _stat(_get(other, "wait_minutes.mean")),
        ])  # fmt: skip
    return rows


def _slo_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.2%}" if unit == "share" else f"{value:,.4g} {unit}".strip()


def measured_change(assumed: dict[str, Any], measured: dict[str, Any]) -> str:
    """One sentence: how much the measured server moves the planner's figures."""
    changes = []
    for name, node in assumed.get("policies", {}).items():
        other = measured.get("policies", {}).get(name)
        if other is None:
            continue
        changes.append((
            other["vaccinated"]["mean"] - node["vaccinated"]["mean"],
            _get(other, "wait_minutes.mean.mean") - _get(node, "wait_minutes.mean.mean"),
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
        sentence += " Outages and the vaccination bottleneck, not the server's latency, decide this day."
    return sentence


def _png(folder: Path, name: str) -> Path | None:
    path = folder / name
    return path if path.is_file() else None


def engineer_verdict(load: dict[str, Any]) -> str:
    slos = load.get("slos", [])
    failed = [s["name"] for s in slos if not s.get("passed")]
    integrity = load.get("integrity") or {}
    parts = [
        f"{load.get('requests', 0):,} requests at {load.get('rps', 0):.1f}/s, p95 "
        f"{_get(load, 'latency_ms.p95') or 0:.0f} ms; SLOs {len(slos) - len(failed)}/{len(slos)} met"
        + (f" (failed: {', '.join(failed)})" if failed else "")
    ]
    if integrity:
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
        recovered = fault.get("time_to_recover_s")
        parts.append(
            f"{fault['kind']} of {fault['duration_s']:.0f} s: "
            + (f"recovered {recovered:.1f} s after it ended" if recovered is not None else "did not recover")
        )
    return "; ".join(parts) + "."


def build_report(
    scenario: Scenario,
    folder: Path,
    assumed: dict[str, Any] | None,
    load: dict[str, Any] | None,
    profile: dict[str, Any] | None,
    measured: dict[str, Any] | None,
    run_facts: list[tuple[str, str]],
) -> Path:
    report = Report(
        title=f"Launch-day drill: {scenario.name}",
        subtitle=(scenario.description or "").strip(),
    )
    if assumed:
        report.answer(f"Planner: {assumed.get('answer', '')}")
    if load:
        report.answer(f"Engineer: {engineer_verdict(load)}")

    report.heading("For the planner: which fallback policy?")
    if assumed:
        n = assumed.get("replications")
        report.paragraph(
            f"Each policy was simulated {n} times with common random numbers (every policy meets the same "
            "beneficiaries, service times and outages), so the differences come from the policy alone. "
            "Figures are means with 95% intervals."
        )
        header, rows = policy_rows(assumed)
        report.table(header, rows)
        sim = folder / "simulation"
        for name, alt in (("cumulative_vaccinated.png", "Cumulative vaccinated per policy, outages shaded"),
                          ("backlog.png", "Paper records waiting to be entered")):  # fmt: skip
            png = _png(sim, name)
            if png:
                report.image(png, alt)
    else:
        report.warning("The simulation did not run; see the drill's logs.")
    if assumed and measured:
        report.heading("On the server as measured", level=3)
        report.paragraph(
            "The same simulation again, with each registration-system transaction taking the latency and "
            "failure rate the load test measured at the offered load (server_profile.json)."
        )
        report.table(
            ["policy", "vaccinated (assumed server)", "vaccinated (measured server)",
             "mean wait (assumed)", "mean wait (measured)"],
            measured_rows(assumed, measured),
        )  # fmt: skip
        report.paragraph(measured_change(assumed, measured))
        if measured.get("answer"):
            report.paragraph(f"On the measured server: {measured['answer']}")

    report.heading("For the engineer: did the server hold, and was any record lost?")
    if load:
        report.table(
            ["SLO", "limit", "observed", "result"],
            [[s["name"], _slo_value(s["limit"], s.get("unit", "")), _slo_value(s["observed"], s.get("unit", "")),
              "pass" if s["passed"] else "FAIL"] for s in load.get("slos", [])],
        )  # fmt: skip
        png = _png(folder / "loadtest", "timeline.png")
        if png:
            report.image(png, "Users, arrivals, throughput and latency over time; faults shaded")
        report.table(
            ["endpoint", "requests", "failures", "p50 ms", "p95 ms", "p99 ms"],
            [[name, e["requests"], e["failures"], e["p50"], e["p95"], e["p99"]]
             for name, e in load.get("endpoints", {}).items()],
        )  # fmt: skip
        if load.get("faults"):
            report.table(
                ["fault", "at (s)", "for (s)", "errors before", "errors during", "errors after", "recovered after (s)"],
                [[f["kind"], f["applied_at_s"], f["duration_s"], f["before"]["error_rate"], f["during"]["error_rate"],
                  f["after"]["error_rate"], f["time_to_recover_s"]] for f in load["faults"]],
            )  # fmt: skip
        integrity = load.get("integrity")
        if integrity:
            report.table(
                ["integrity", "value"],
                [[k, v] for k, v in integrity.items() if not isinstance(v, (dict, list))],
            )
        generator = load.get("generator", {})
        if generator.get("cpu_saturated"):
            report.warning(
                "The load generator's CPU was saturated: latencies may include the generator's own delay. "
                "Run with --workers or on more cores."
            )
        else:
            peaks = ", ".join(f"{k} {v}%" for k, v in generator.get("cpu_peak_percent", {}).items())
            report.paragraph(f"Load generator CPU peak: {peaks or 'not measured'}; not saturated.")
    else:
        report.warning("The load test did not run; see the drill's logs.")
    if profile:
        report.heading("Measured server profile", level=3)
        knee = profile.get("knee_rps")
        report.paragraph(
            "Latency and failures by offered load, from the load test"
            + (f"; highest load within SLO: {knee:g} requests/s." if knee else ".")
        )
        report.table(
            ["offered req/s", "throughput req/s", "p50 ms", "p95 ms", "p99 ms", "failure rate", "requests"],
            [[f"{p['offered_rps']:.1f}", f"{p['throughput_rps']:.1f}", f"{p['p50_ms']:.1f}", f"{p['p95_ms']:.1f}",
              f"{p['p99_ms']:.1f}", f"{p['failure_rate']:.1%}", p["requests"]] for p in profile.get("points", [])],
        )  # fmt: skip

    report.heading("What was run")
    report.table(["", ""], run_facts)
    return report.write(folder / "report.html")

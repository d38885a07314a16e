"""``report.html``: one self-contained page a planner can open offline and forward.

It opens with the answer in one sentence, then says what was compared, then tables (policies with
95% intervals, paired differences, sites) and the plots, embedded as base64 PNG: no network, no
separate files.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from simulation.experiment import format_interval
from simulation.outputs import PLOTS
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.units import format_clock, format_duration

MAIN = (
    ("vaccinated", "vaccinated"),
    ("attainment", "attainment"),
    ("turned_away", "turned away"),
    ("no_shows", "no-shows"),
    ("wait_minutes.mean", "wait, mean (min)"),
    ("wait_minutes.p90", "wait, p90 (min)"),
    ("doses_wasted", "doses wasted"),
    ("paper_records", "paper records"),
    ("backlog_at_close", "backlog at close"),
    ("backlog_cleared_after_close_minutes", "backlog cleared (min after close)"),
    ("reconciliation", "records to reconcile"),
    ("overtime_minutes", "overtime (min)"),
)
SITE_LIMIT = 60
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
.answer{font-size:1.3em;background:#eef6ee;border-left:6px solid #2a7a2a;padding:.8em 1em}
table{border-collapse:collapse;margin:1em 0;font-size:.85em}td,th{border:1px solid #ccc;padding:.3em .5em}
th{background:#f3f3f3}td.n{text-align:right;white-space:nowrap}small{color:#666}img{max-width:100%}
"""


def _get(node: dict[str, Any], dotted: str) -> dict[str, Any] | None:
    cur: Any = node
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur if isinstance(cur, dict) and "mean" in cur else None


def _cell(stat: dict[str, Any] | None, share: bool = False) -> str:
    if stat is None:
        return "<td class=n>-</td>"
    mean, _, interval = format_interval(stat, share).partition(" ")
    return f"<td class=n>{mean} <small>{interval}</small></td>"


def _metrics(summary: dict[str, Any]) -> list[tuple[str, str]]:
    cps = [(f"vaccinated_by.{c}", f"vaccinated by {c}") for c in summary["checkpoints"]]
    return [MAIN[0], *cps, *MAIN[1:]]


def _policy_table(summary: dict[str, Any]) -> str:
    metrics = _metrics(summary)
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in metrics)
    rows = []
    for name, node in summary["policies"].items():
        cells = "".join(_cell(_get(node, key), key == "attainment") for key, _ in metrics)
        rows.append(f"<tr><th>{html.escape(name)}</th>{cells}</tr>")
    return f"<table><tr><th>policy</th>{head}</tr>{''.join(rows)}</table>"


def _paired_table(summary: dict[str, Any]) -> str:
    if not summary["paired_differences"]:
        return ""
    metrics = [m for m in _metrics(summary) if m[0] != "no_shows"]
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in metrics)
    rows = []
    for pair, node in summary["paired_differences"].items():
        cells = "".join(_cell(_get(node, key), key == "attainment") for key, _ in metrics)
        rows.append(f"<tr><th>{html.escape(pair)}</th>{cells}</tr>")
    return (
        "<h2>Paired differences (A minus B, same random numbers)</h2>"
        f"<table><tr><th>pair</th>{head}</tr>{''.join(rows)}</table>"
    )


def _site_table(summary: dict[str, Any], scenario: Scenario) -> str:
    if len(scenario.sites) > SITE_LIMIT:
        return f"<p>{len(scenario.sites)} sites: see <code>sites.csv</code> and <code>summary.json</code>.</p>"
    keys = [("vaccinated", "vaccinated")]
    keys += [(f"vaccinated_by.{c}", f"by {c}") for c in summary["checkpoints"]]
    keys += [("wait_minutes.mean", "wait (min)"), ("turned_away", "turned away"), ("backlog_at_close", "backlog")]
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in keys)
    rows = []
    for name, node in summary["policies"].items():
        for site, snode in node.get("sites", {}).items():
            cells = "".join(_cell(_get(snode, key)) for key, _ in keys)
            rows.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(site)}</td>{cells}</tr>")
    return f"<h2>Sites</h2><table><tr><th>policy</th><th>site</th>{head}</tr>{''.join(rows)}</table>"


def _policies_text(scenario: Scenario, summary: dict[str, Any]) -> str:
    items = []
    for name in summary["policies"]:
        p = scenario.policies.get(name)
        if p is None:
            desc = "hold until the system returns"
        else:
            fields = p.model_dump(mode="json", exclude={"description"})
            desc = ", ".join(f"{k} {v}" for k, v in fields.items())
            desc = f"{html.escape(p.description)} ({html.escape(desc)})" if p.description else html.escape(desc)
        items.append(f"<li><b>{html.escape(name)}</b>: {desc}</li>")
    return "<ul>" + "".join(items) + "</ul>"


def write_report(folder: Path, scenario: Scenario, summary: dict[str, Any]) -> Path:
    booked = sum(s.booked for s in scenario.sites)
    outages = ", ".join(f"{format_clock(w.start)}-{format_clock(w.end)} {w.state}" for w in scenario.server.outages)
    failures = scenario.server.failures
    stochastic = (
        f"stochastic failures every {html.escape(str(failures.time_between_failures.model_dump()))}, "
        f"repaired in {html.escape(str(failures.time_to_repair.model_dump()))}"
        if failures
        else ""
    )
    server_text = "; ".join(x for x in (outages and f"scripted outages {outages}", stochastic) if x) or "no outage"
    images = []
    for name in PLOTS:
        path = folder / name
        if path.exists():
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            images.append(f'<p><img alt="{name}" src="data:image/png;base64,{data}"></p>')
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vaxdrill: {html.escape(scenario.name)}</title>
<style>{CSS}</style></head><body>
<p class="answer">{html.escape(summary["answer"])}</p>
<h1>{html.escape(scenario.name)}</h1>
<p>{html.escape(scenario.description)}</p>
<h2>What was compared</h2>
<p>{len(scenario.sites)} session site(s), {booked} beneficiaries booked; central server: {server_text}
(timeout {format_duration(scenario.server.timeout)}, {scenario.server.retries} retries).
{summary["replications"]} replications from root seed {summary["seed"]}, common random numbers across policies:
every policy sees the same arrivals, service times and outages, so differences come from the policy.
Figures are means with 95% t-intervals over replications.</p>
{_policies_text(scenario, summary)}
<h2>Policies</h2>
{_policy_table(summary)}
{_paired_table(summary)}
<h2>Plots</h2>
{"".join(images)}
{_site_table(summary, scenario)}
<p><small>vaxdrill simulation, schema {html.escape(summary["schema"])}. Model assumptions: see README,
"Simulation (planners)".</small></p>
</body></html>
"""
    out = folder / "report.html"
    out.write_text(page, encoding="utf-8")
    return out

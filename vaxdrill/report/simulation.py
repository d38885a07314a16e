"""``report.html``: one self-contained page a planner can open offline and forward.

It opens with the answer in one sentence, then says what was compared, then tables (policies with
95% intervals, paired differences, sites) and the plots, embedded as base64 PNG: no network, no
separate files. The drill's report reuses these parts (:func:`simulation_parts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulation.acrosssites import PLOT as SITE_PLOT
from simulation.acrosssites import read_across_sites
from simulation.outputs import PLOTS
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.units import format_clock, format_duration
from vaxdrill.report.html import Figure, MetricTable, figure, metric_columns, metric_table, write
from vaxdrill.report.planner import planner_section

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
STATION_ORDER = ("entry", "verification", "vaccination", "recording")
CAPTIONS = {
    "cumulative_vaccinated.png": "Cumulative vaccinated per policy, outages shaded",
    "waiting_times.png": "Waiting times per policy",
    "backlog.png": "Paper records waiting to be entered",
    "utilisation.png": "Utilisation of the stations",
}


@dataclass(frozen=True)
class SimulationParts:
    """What the simulation's report and the drill's planner section show."""

    answer: str
    replications: int
    seed: int
    policies: MetricTable
    paired: MetricTable | None
    figures: list[Figure]


def _metrics(summary: dict[str, Any]) -> list[tuple[str, str]]:
    cps = [(f"vaccinated_by.{c}", f"vaccinated by {c}") for c in summary.get("checkpoints", [])]
    return [MAIN[0], *cps, *MAIN[1:]]


def policy_table(summary: dict[str, Any]) -> MetricTable:
    rows = [([name], {"data-policy": name}, node) for name, node in summary.get("policies", {}).items()]
    return metric_columns("policy", _metrics(summary), rows)


def _paired_table(summary: dict[str, Any]) -> MetricTable | None:
    pairs = summary.get("paired_differences")
    if not pairs:
        return None
    metrics = [m for m in _metrics(summary) if m[0] != "no_shows"]
    return metric_columns("A minus B", metrics, [([pair], {"data-pair": pair}, node) for pair, node in pairs.items()])


def simulation_parts(folder: Path, summary: dict[str, Any], plots: tuple[str, ...] = PLOTS) -> SimulationParts:
    """The policy tables and the ``plots`` found in ``folder``, from the simulation's summary."""
    found = (figure(folder / name, CAPTIONS.get(name, name)) for name in plots)
    return SimulationParts(
        answer=str(summary.get("answer", "")),
        replications=int(summary.get("replications", 0)),
        seed=int(summary.get("seed", 0)),
        policies=policy_table(summary),
        paired=_paired_table(summary),
        figures=[f for f in found if f is not None],
    )


def _site_table(summary: dict[str, Any], scenario: Scenario) -> MetricTable | None:
    if len(scenario.sites) > SITE_LIMIT:
        return None
    keys = [("vaccinated", "vaccinated")]
    keys += [(f"vaccinated_by.{c}", f"by {c}") for c in summary["checkpoints"]]
    keys += [("wait_minutes.mean", "wait (min)"), ("turned_away", "turned away"), ("backlog_at_close", "backlog")]
    rows = [
        ([name, site], {"data-policy": name, "data-site": site}, snode)
        for name, node in summary["policies"].items()
        for site, snode in node.get("sites", {}).items()
    ]
    return metric_table(["policy", "site"], keys, rows, share=())


def station_node(policy: dict[str, Any], station: str) -> dict[str, Any]:
    """One station's figures from a policy's summary node: ``wait`` (minutes), ``queue``, ``utilisation``."""
    return {
        "wait": policy.get("wait_minutes", {}).get(station, {}),
        "queue": policy.get("queue_length_by", {}).get(station),
        "utilisation": policy.get("utilisation", {}).get(station),
    }


def station_table(summary: dict[str, Any]) -> MetricTable | None:
    """Per policy and station (any flow): wait, queue length and staff utilisation, over the day."""
    rows = []
    for name, node in summary.get("policies", {}).items():
        stations = [k for k in node.get("queue_length_by", {})]
        order = [s for s in STATION_ORDER if s in stations] + [s for s in stations if s not in STATION_ORDER]
        for st in order:
            rows.append(([name, st], {"data-policy": name, "data-station": st}, station_node(node, st)))
    if not rows:
        return None
    keys = [("wait.mean", "wait, mean (min)"), ("wait.p90", "wait, p90 (min)"), ("queue", "queue length")]
    keys.append(("utilisation", "utilisation"))
    return metric_table(["policy", "station"], keys, rows, share=("utilisation",))


ACROSS: tuple[tuple[str, str], ...] = (
    ("site_mean", "mean over sites"),
    ("p10", "10th percentile"),
    ("worst_tenth", "worst tenth"),
    ("lowest", "lowest site"),
    ("highest", "highest site"),
)


def across_table(folder: Path) -> MetricTable | None:
    """Attainment across sites per policy: the mean beside the worst tenth (from ``across_sites.csv``)."""
    nodes: dict[str, dict[str, Any]] = {}
    for row in read_across_sites(folder):
        if row["metric"] == "attainment":
            stat = {"mean": float(row["mean"]), "ci95": [float(row["lo"]), float(row["hi"])]}
            nodes.setdefault(row["policy"], {})[row["statistic"]] = stat
    if not nodes:
        return None
    rows = [([name], {"data-policy": name, "data-across": "attainment"}, node) for name, node in nodes.items()]
    return metric_table(["policy"], list(ACROSS), rows, share=tuple(k for k, _ in ACROSS))


def _policy_texts(scenario: Scenario, summary: dict[str, Any]) -> list[tuple[str, str]]:
    items = []
    for name in summary["policies"]:
        p = scenario.policies.get(name)
        if p is None:
            desc = "hold until the system returns"
        else:
            fields = p.model_dump(mode="json", exclude={"description"})
            desc = ", ".join(f"{k} {v}" for k, v in fields.items())
            desc = f"{p.description} ({desc})" if p.description else desc
        items.append((name, desc))
    return items


def _server_text(scenario: Scenario) -> str:
    outages = ", ".join(f"{format_clock(w.start)}-{format_clock(w.end)} {w.state}" for w in scenario.server.outages)
    failures = scenario.server.failures
    stochastic = (
        f"stochastic failures every {failures.time_between_failures.model_dump()}, "
        f"repaired in {failures.time_to_repair.model_dump()}"
        if failures
        else ""
    )
    return "; ".join(x for x in (outages and f"scripted outages {outages}", stochastic) if x) or "no outage"


def write_report(
    folder: Path, scenario: Scenario, summary: dict[str, Any], planner: dict[str, Any] | None = None
) -> Path:
    return write(
        folder / "report.html",
        "simulation.html.j2",
        title=f"vaxdrill: {scenario.name}",
        heading=scenario.name,
        subtitle="",
        scenario=scenario,
        description=scenario.description,
        sim=simulation_parts(folder, summary),
        booked=sum(s.booked for s in scenario.sites),
        server_text=_server_text(scenario),
        timeout=format_duration(scenario.server.timeout),
        policy_texts=_policy_texts(scenario, summary),
        sites=_site_table(summary, scenario),
        stations=station_table(summary),
        across=across_table(folder),
        across_figure=figure(folder / SITE_PLOT, "Attainment across sites, all replications pooled"),
        schema=summary["schema"],
        planner=planner_section(planner),
    )

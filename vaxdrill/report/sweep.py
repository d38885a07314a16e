"""``report.html`` of ``vaxdrill sweep``, ``sensitivity`` and ``optimise``: the answer, then how it was found.

Each page opens with the one-sentence answer, lists what was varied, shows the plots (embedded) and
the figures behind them with their intervals, so a planner can forward one file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulation.experiment import format_interval
from simulation.explore.plots import (
    BEST_PNG,
    DIFFERENCE_PNG,
    METRICS_PNG,
    PARETO_PNG,
    SWEEP_METRICS,
    TORNADO_PNG,
)
from vaxdrill.report.html import Figure, Value, figure, metric_table, write

CAPTIONS = {
    METRICS_PNG: "Each metric against the swept parameter: mean and 95% band per policy",
    BEST_PNG: "The best policy at each point",
    DIFFERENCE_PNG: "The difference between two policies at each point",
}


def _figures(folder: Path, captions: dict[str, str]) -> list[Figure]:
    found = (figure(folder / name, caption) for name, caption in captions.items())
    return [f for f in found if f is not None]


def write_sweep_report(folder: Path, summary: dict[str, Any], backend: str) -> Path:
    metrics = list(dict.fromkeys([summary["metric"], *SWEEP_METRICS]))
    paths = [p["path"] for p in summary["parameters"]]
    rows = [
        (
            [*(point["values"][p] for p in paths), name],
            {"data-point": str(point["point"]), "data-policy": name},
            node,
        )
        for point in summary["points"]
        for name, node in point["policies"].items()
    ]
    parameters = [[p["path"], p["baseline"] or "-", ", ".join(p["values"])] for p in summary["parameters"]]
    return write(
        folder / "report.html",
        "sweep.html.j2",
        title=f"vaxdrill sweep: {summary['scenario']}",
        heading=f"Sweep of {summary['scenario']}",
        subtitle=f"{len(summary['points'])} point(s) ({summary['sample']}), {summary['replications']} replication(s) "
        f"each, seed {summary['seed']}, policies {', '.join(summary['policies'])}; ran on {backend}",
        summary=summary,
        parameters=parameters,
        figures=_figures(folder, CAPTIONS),
        table=metric_table([*paths, "policy"], [(m, m) for m in metrics], rows),
    )


def write_sensitivity_report(folder: Path, summary: dict[str, Any]) -> Path:
    keys = ["mu_star", "mu_star_conf", "sigma"] if summary["method"] == "morris" else ["S1", "S1_conf", "ST", "ST_conf"]
    rows = [
        [
            r["rank"],
            r["path"],
            f"{r['low']} .. {r['high']}",
            *(Value(f"{r[k]:.4g}", {"data-path": r["path"], "data-index": k, "data-value": repr(r[k])}) for k in keys),
        ]
        for r in summary["indices"]
    ]
    return write(
        folder / "report.html",
        "sensitivity.html.j2",
        title=f"vaxdrill sensitivity: {summary['scenario']}",
        heading=f"Sensitivity of {summary['metric']} ({summary['scenario']})",
        subtitle=f"{summary['method']}: {summary['samples']} variant(s) x {summary['replications']} replication(s), "
        f"policy {summary['policy']}, seed {summary['seed']}",
        summary=summary,
        header=["rank", "parameter", "range", *keys],
        rows=rows,
        figures=_figures(folder, {TORNADO_PNG: "Tornado: each parameter's effect with its confidence half-width"}),
    )


def write_optimise_report(folder: Path, summary: dict[str, Any]) -> Path:
    decided = list(summary["trials"][0]["design"]) if summary["trials"] else []
    metrics = [c.split()[0] for c in summary["subject_to"]]
    rows = [
        [
            t["number"],
            *(t["design"][p] for p in decided),
            f"{t['objective']:g}",
            "pass" if t["feasible"] else "FAIL",
            *(format_interval(t["metrics"][m]) for m in metrics),
            "yes" if t["number"] in summary["pareto"] else "",
        ]
        for t in summary["trials"]
    ]
    recheck = summary["recheck"]
    facts = [(k, v) for k, v in (summary["best"] or {}).items()]
    if recheck:
        facts += [(f"{m} (fresh)", format_interval(node)) for m, node in recheck["metrics"].items()]
        facts.append(("confirmed on fresh replications", "pass" if recheck["feasible"] else "FAIL"))
    return write(
        folder / "report.html",
        "optimise.html.j2",
        title=f"vaxdrill optimise: {summary['scenario']}",
        heading=f"Optimising {summary['scenario']}",
        subtitle=f"minimise {summary['minimise']} subject to {'; '.join(summary['subject_to'])} with "
        f"{summary['confidence']:.0%} confidence; {len(summary['trials'])} trial(s) x {summary['replications']} "
        f"replication(s), policy {summary['policy']}, seed {summary['seed']}",
        summary=summary,
        facts=facts,
        header=["trial", *decided, "objective", "feasible", *metrics, "Pareto"],
        rows=rows,
        figures=_figures(folder, {PARETO_PNG: "Every trial: objective against the first constraint's metric"}),
    )

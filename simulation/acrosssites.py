"""How outcomes spread across sites: the worst tenth of sites beside the mean, and a histogram.

A district's mean attainment hides the centres that fell far short. For each replication and
policy the sites' attainments are sorted; the **worst tenth** is the mean of the lowest tenth
of sites (at least one site), ``p10`` the 10th percentile. Each figure is then averaged over
replications with a 95% interval, like every other metric.

- ``across_sites.csv``: per policy and metric (attainment, vaccinated, wait): mean over sites,
  p10, worst tenth, lowest and highest site, each with its interval;
- ``site_attainment.png``: histogram of site attainment, all replications pooled, per policy.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from simulation.experiment import ci95
from simulation.model import ReplicationResult
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.stats import quantile

CSV = "across_sites.csv"
PLOT = "site_attainment.png"
METRICS = ("attainment", "vaccinated", "wait_minutes.mean")
STATS = ("site_mean", "p10", "worst_tenth", "lowest", "highest")


def spread(values: Sequence[float]) -> dict[str, float]:
    """Mean, 10th percentile, mean of the worst tenth, lowest and highest of one day's sites."""
    ordered = sorted(values)
    k = max(1, math.ceil(len(ordered) / 10))
    return {
        "site_mean": float(np.mean(ordered)),
        "p10": float(quantile(ordered, 0.1)),
        "worst_tenth": float(np.mean(ordered[:k])),
        "lowest": ordered[0],
        "highest": ordered[-1],
    }


def across_sites(results: Sequence[ReplicationResult]) -> list[dict[str, str | float]]:
    """Rows of ``across_sites.csv``: policy, metric, statistic, mean and 95% interval over replications."""
    rows: list[dict[str, str | float]] = []
    for pol in results[0].policies:
        for metric in METRICS:
            per_rep = [spread([s[metric] for s in r.policies[pol].sites.values()]) for r in results]
            for stat in STATS:
                iv = ci95([p[stat] for p in per_rep])
                rows.append(
                    {"policy": pol, "metric": metric, "statistic": stat, "mean": iv.mean, "lo": iv.lo, "hi": iv.hi}
                )
    return rows


def write_across_sites(folder: Path, scenario: Scenario, results: Sequence[ReplicationResult]) -> list[Path]:
    """Write the CSV and the histogram (only for a scenario of more than one site)."""
    if len(scenario.sites) < 2 or not results:
        return []
    path = folder / CSV
    with path.open("w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        w.writerow(["policy", "metric", "statistic", "mean", "lo", "hi"])
        for row in across_sites(results):
            w.writerow(
                [
                    row["policy"],
                    row["metric"],
                    row["statistic"],
                    *(f"{float(row[k]):.6g}" for k in ("mean", "lo", "hi")),
                ]
            )
    fig, ax = plt.subplots(figsize=(9, 4))
    bins = np.linspace(0.0, 1.2, 25).tolist()
    for pol in results[0].policies:
        values = [min(s["attainment"], 1.2) for r in results for s in r.policies[pol].sites.values()]
        ax.hist(values, bins=bins, histtype="step", lw=1.5, label=pol)
    ax.set_xlabel("attainment of a site (vaccinated / target; 1.2 and above in the last bin)")
    ax.set_ylabel("sites x replications")
    ax.set_title(f"{scenario.name}: attainment across sites, all replications")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plot = folder / PLOT
    fig.savefig(plot, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return [path, plot]


def read_across_sites(folder: Path) -> list[dict[str, str]]:
    """The rows of ``across_sites.csv`` in ``folder`` (empty when the run did not write it)."""
    path = folder / CSV
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))

"""Files a simulation run leaves in its results folder: CSVs, PNG plots and time series.

- ``replications.csv``: one row per (replication, policy), every metric for all sites together;
- ``sites.csv``: one row per (replication, policy, site);
- ``series.csv``: per policy and 5-minute step, the mean and 95% interval of cumulative
  vaccinated, people waiting and backlog, of registration-system requests the sites made in the
  5 minutes from that time (attempts, retries included, and paper records entered), and the share
  of sites without the system;
- ``cumulative_vaccinated.png``, ``waiting_times.png``, ``backlog.png``, ``utilisation.png``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display; before pyplot is imported
import matplotlib.pyplot as plt
import numpy as np

from simulation.experiment import ci95
from simulation.metrics import GRID, WAIT_BINS, station_names
from simulation.model import ReplicationResult
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.units import format_clock
from vaxdrill.core.stats import t_interval

SERIES = ("vaccinated", "waiting", "backlog", "requests")
PLOTS = ("cumulative_vaccinated.png", "waiting_times.png", "backlog.png", "utilisation.png")


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def write_csvs(folder: Path, scenario: Scenario, results: Sequence[ReplicationResult]) -> list[Path]:
    written = []
    rows = [(r.replication, p, d.total) for r in results for p, d in r.policies.items()]
    keys = sorted({k for _, _, t in rows for k in t})
    path = folder / "replications.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        w.writerow(["replication", "policy", *keys])
        for rep, pol, tot in rows:
            w.writerow([rep, pol, *(_fmt(tot.get(k, 0.0)) for k in keys)])
    written.append(path)

    path = folder / "sites.csv"
    site_keys = sorted({k for r in results for d in r.policies.values() for s in d.sites.values() for k in s})
    with path.open("w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        w.writerow(["replication", "policy", "site", "district", "kind", *site_keys])
        for r in results:
            for pol, d in r.policies.items():
                for site in scenario.sites:
                    m = d.sites[site.name]
                    w.writerow(
                        [
                            r.replication,
                            pol,
                            site.name,
                            site.district,
                            site.kind,
                            *(_fmt(m.get(k, 0.0)) for k in site_keys),
                        ]
                    )
    written.append(path)

    path = folder / "series.csv"
    share = np.mean([r.share_down for r in results], axis=0)
    with path.open("w", newline="", encoding="utf-8") as handle:
        w = csv.writer(handle)
        head = ["policy", "time"]
        for name in SERIES:
            head += [f"{name}_mean", f"{name}_lo", f"{name}_hi"]
        w.writerow([*head, "share_of_sites_without_system"])
        for pol in results[0].policies:
            bands = {name: _bands(results, pol, name) for name in SERIES}
            for k, t in enumerate(GRID):
                row: list[str] = [pol, format_clock(float(t))]
                for name in SERIES:
                    row += [_fmt(bands[name][j][k]) for j in range(3)]
                w.writerow([*row, _fmt(float(share[k]))])
    written.append(path)
    return written


def _bands(results: Sequence[ReplicationResult], policy: str, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95% t-interval at each grid time, over replications."""
    mean, half = t_interval([r.policies[policy].series[name] for r in results])
    if len(results) < 2:
        return mean, mean, mean
    return mean, mean - half, mean + half


def _window(scenario: Scenario, results: Sequence[ReplicationResult]) -> tuple[float, float]:
    start = min(s.opens for s in scenario.sites) - 1800
    last = max(s.closes for s in scenario.sites) + 1800
    for r in results:
        for d in r.policies.values():
            v = np.asarray(d.series["vaccinated"])
            b = np.asarray(d.series["backlog"])
            moving = np.flatnonzero((np.diff(v) != 0) | (np.diff(b) != 0))
            if moving.size:
                last = max(last, float(GRID[moving[-1] + 1]) + 1800)
    return max(0.0, start), min(24 * 3600.0, last)


def _hours_axis(ax: Any, lo: float, hi: float) -> None:
    ax.set_xlim(lo / 3600, hi / 3600)
    ticks = np.arange(math.ceil(lo / 3600), math.floor(hi / 3600) + 1)
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{int(h):02d}:00" for h in ticks], fontsize=8)
    ax.grid(alpha=0.3)


def write_plots(folder: Path, scenario: Scenario, results: Sequence[ReplicationResult]) -> list[Path]:
    policies = list(results[0].policies)
    hours = GRID / 3600
    lo, hi = _window(scenario, results)
    written = []

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, height_ratios=[4, 1])
    for w in scenario.server.outages:
        ax.axvspan(w.start / 3600, w.end / 3600, color="red" if w.state == "down" else "orange", alpha=0.12, lw=0)
    for pol in policies:
        mean, low, high = _bands(results, pol, "vaccinated")
        (line,) = ax.plot(hours, mean, label=pol)
        ax.fill_between(hours, low, high, color=line.get_color(), alpha=0.2, lw=0)
    for cp in scenario.checkpoints:
        ax.axvline(cp / 3600, color="grey", ls=":", lw=1)
        # Labelled, so a reader knows the line is the checkpoint the tables report "vaccinated by".
        ax.annotate(f"checkpoint {int(cp) // 3600:02d}:{int(cp) % 3600 // 60:02d}", (cp / 3600, 1.0),
                    xycoords=("data", "axes fraction"), xytext=(3, -3), textcoords="offset points",
                    fontsize=7, color="dimgrey", va="top", rotation=90)  # fmt: skip
    ax.set_ylabel("vaccinated (people, cumulative)")
    ax.set_title(f"{scenario.name}: cumulative vaccinated, mean and 95% interval; server outages shaded")
    ax.legend(fontsize=8)
    share = np.mean([r.share_down for r in results], axis=0)
    ax2.fill_between(hours, 0, share, step="post", color="red", alpha=0.4, lw=0)
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("sites without\nsystem (share)", fontsize=8)
    ax2.set_xlabel("clock time (hh:mm)")
    _hours_axis(ax, lo, hi)
    _hours_axis(ax2, lo, hi)
    fig.tight_layout()
    written.append(_save(fig, folder / PLOTS[0]))

    fig, ax = plt.subplots(figsize=(9, 4))
    centres = (WAIT_BINS[:-1] + WAIT_BINS[1:]) / 2
    for pol in policies:
        hist = np.sum([r.policies[pol].series["wait_histogram"] for r in results], axis=0)
        total = hist.sum()
        if total:
            ax.plot(centres, np.cumsum(hist) / total, label=pol, drawstyle="steps-post")
    ax.set_xlabel("minutes from arrival to vaccination (360+ in the last bin)")
    ax.set_ylabel("share of vaccinated (cumulative, 0-1)")
    ax.set_title("Waiting-time distribution, all replications")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    written.append(_save(fig, folder / PLOTS[1]))

    fig, ax = plt.subplots(figsize=(9, 4))
    for pol in policies:
        mean, low, high = _bands(results, pol, "backlog")
        (line,) = ax.plot(hours, mean, label=pol)
        ax.fill_between(hours, low, high, color=line.get_color(), alpha=0.2, lw=0)
    ax.set_ylabel("paper records not yet entered (records)")
    ax.set_xlabel("clock time (hh:mm)")
    ax.set_title("Backlog of paper records over the day, mean and 95% interval")
    ax.legend(fontsize=8)
    _hours_axis(ax, lo, hi)
    fig.tight_layout()
    written.append(_save(fig, folder / PLOTS[2]))

    fig, ax = plt.subplots(figsize=(9, 4))
    total = results[0].policies[policies[0]].total
    stations = [s for s in station_names(k.split(".", 1)[1] for k in total if k.startswith("utilisation."))]
    width = 0.8 / max(len(policies), 1)
    x = np.arange(len(stations))
    for k, pol in enumerate(policies):
        ivs = [ci95([r.policies[pol].total[f"utilisation.{s}"] for r in results]) for s in stations]
        means = [iv.mean for iv in ivs]
        err = np.array([[iv.mean - iv.lo for iv in ivs], [iv.hi - iv.mean for iv in ivs]])
        ax.bar(x + k * width - 0.4 + width / 2, means, width, yerr=err, label=pol, capsize=2)
    ax.set_xticks(x)
    ax.set_xticklabels(stations)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("staff utilisation (share of time busy or blocked, 0-1)")
    ax.set_xlabel("station")
    ax.set_title("Staff utilisation per station, opening to last departure")
    ax.legend(fontsize=8)
    fig.tight_layout()
    written.append(_save(fig, folder / PLOTS[3]))
    return written


def _save(fig: Any, path: Path) -> Path:
    # Fixed metadata so the same results give the same bytes.
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path

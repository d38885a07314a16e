"""Plots of a run: users, arrivals, throughput and latency percentiles over time; capacity curves.

Drawn from the merged full-precision recorder (one-second windows), not from Locust's rounded
history (Locust's own CSV history is written alongside for comparison).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vaxdrill.loadtest.capacity import UslFit, usl
from vaxdrill.loadtest.recorder import Recorder


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def timeline(rec: Recorder, path: Path, title: str, faults: list[dict[str, Any]] | None = None) -> Path:
    """Four panels against time: users, arrivals and drops, throughput and errors, p50/p95/p99."""
    plt = _plt()
    idx = sorted(rec.windows)
    t = np.array([i * rec.window for i in idx], dtype=float)
    wins = [rec.windows[i] for i in idx]
    fig, axes = plt.subplots(4, 1, figsize=(10, 11), sharex=True)
    users = rec.gauge_series("users")
    if users:
        ux = sorted(users)
        axes[0].step([i * rec.window for i in ux], [users[i] for i in ux], where="post", label="users")
    outbox = rec.gauge_series("outbox_depth")
    if outbox and max(outbox.values()) > 0:
        ox = sorted(outbox)
        axes[0].plot([i * rec.window for i in ox], [outbox[i] for i in ox], label="vaccinator outbox depth")
    axes[0].set_ylabel("users, records")
    axes[0].legend(loc="upper right")
    for name in ("arrivals", "iterations", "dropped", "late", "paper_records"):
        series = [w.counters.get(name, 0.0) / rec.window for w in wins]
        if any(series):
            axes[1].plot(t, series, label=f"{name}/s")
    axes[1].set_ylabel("journeys, records (/s)")
    axes[1].legend(loc="upper right")
    axes[2].plot(t, [w.requests.count / rec.window for w in wins], label="requests/s")
    axes[2].plot(t, [w.requests.failures / rec.window for w in wins], label="failures/s", color="tab:red")
    axes[2].set_ylabel("requests (/s)")
    axes[2].legend(loc="upper right")
    for p in (50, 95, 99):
        axes[3].plot(t, [w.requests.percentile_ms(p) for w in wins], label=f"p{p}")
    axes[3].set_ylabel("latency (ms)")
    axes[3].set_yscale("log")
    axes[3].legend(loc="upper right")
    axes[3].set_xlabel("seconds since start")
    for fault in faults or []:
        start = float(fault.get("applied_at_s", 0.0))
        for ax in axes:
            ax.axvspan(start, start + float(fault.get("duration_s", 0.0)), color="tab:red", alpha=0.1)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def capacity(steps: list[dict[str, Any]], fit: UslFit | None, path: Path, title: str) -> Path:
    """Throughput and p95 against offered rate; throughput against concurrency with the USL fit."""
    plt = _plt()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5))
    rates = [s["rate"] for s in steps]
    ok = ["tab:green" if s["sustainable"] else "tab:red" for s in steps]
    ax1.scatter(rates, [s["throughput"] for s in steps], c=ok, label="throughput")
    ax1.plot([0, max(rates, default=1)], [0, max(rates, default=1)], ":", color="grey", label="offered = served")
    ax1.set_xlabel("offered arrival rate (journeys/s)")
    ax1.set_ylabel("throughput (journeys/s)")
    twin = ax1.twinx()
    twin.scatter(rates, [s["p95_ms"] for s in steps], marker="x", color="tab:purple", label="p95 (ms)")
    twin.set_ylabel("p95 (ms)")
    ax1.legend(loc="upper left")
    conc = [s["concurrency"] for s in steps]
    ax2.scatter(conc, [s["throughput"] * (1.0 - s["error_rate"]) for s in steps], c=ok, label="steps")
    if fit is not None and conc:
        n = np.linspace(max(min(conc), 0.01), max(max(conc), fit.peak_n or 0.0) * 1.2, 200)
        ax2.plot(n, usl(n, fit.lam, fit.sigma, fit.kappa), label=f"USL s={fit.sigma:.3g} k={fit.kappa:.3g}")
    ax2.set_xlabel("concurrency N (journeys in flight, mean)")
    ax2.set_ylabel("good throughput X (journeys/s)")
    ax2.legend(loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


PERCENTILES = (1, 5, 10, 25, 50, 75, 90, 95, 99, 99.9)


def latency_distribution(rec: Recorder, path: Path, title: str, most: int = 6) -> Path:
    """Response-time distribution: the share of requests answered within each time (cumulative), for
    all requests and the ``most`` busiest endpoints, from the full-precision histograms."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 4))
    busiest = sorted(rec.endpoints.items(), key=lambda kv: -kv[1].count)[:most]
    for name, stat in [("all requests", rec.total()), *busiest]:
        if stat.empty:
            continue
        ms = [max(stat.percentile_ms(p), 0.01) for p in PERCENTILES]
        ax.plot(ms, [p / 100 for p in PERCENTILES], marker=".", lw=2.5 if name == "all requests" else 1.2,
                label=f"{name} ({stat.count:,})")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("response time (ms, log scale)")
    ax.set_ylabel("share of requests answered within (0-1)")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

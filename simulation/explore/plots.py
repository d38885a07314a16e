"""Plots of a sweep, a sensitivity analysis and an optimisation (PNG, fixed metadata: same bytes).

One swept parameter: each main metric against it, a line and a 95% band per policy. Two: heat maps
of the best policy at each point and of the difference between two policies (over the grid; a
sampled design is drawn as coloured points). Sensitivity: a tornado of the indices with their
confidence half-widths. Optimisation: every trial's objective against the first constrained metric,
the feasible ones and the Pareto front marked.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")  # files only, no display; before pyplot is imported
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from simulation.experiment import ci95
from simulation.explore.space import Parameter
from simulation.explore.sweep import Sweep, best_policy, lower_is_better
from simulation.outputs import _save

SWEEP_METRICS = ("vaccinated", "attainment", "wait_minutes.mean", "turned_away", "paper_records", "backlog_at_close")
METRICS_PNG = "metrics.png"
BEST_PNG = "best_policy.png"
DIFFERENCE_PNG = "difference.png"
TORNADO_PNG = "tornado.png"
PARETO_PNG = "pareto.png"


def axis(p: Parameter, value: Any) -> float:
    """A parameter's value on a plot axis: minutes for durations, hours for clock times, % for shares."""
    v = float(value)
    return {"duration": v / 60.0, "clock": v / 3600.0, "share": v * 100.0}.get(p.kind, v)


def axis_label(p: Parameter) -> str:
    unit = {"duration": " (min)", "clock": " (hour of day)", "share": " (%)"}.get(p.kind, "")
    return p.path + unit


def write_sweep_plots(folder: Path, sweep: Sweep, metric: str) -> list[Path]:
    """``metrics.png`` for one numeric parameter; heat maps for two; nothing otherwise."""
    numeric = [p for p in sweep.params if p.numeric]
    if len(sweep.params) == 1 and numeric:
        return [_metric_lines(folder / METRICS_PNG, sweep, metric)]
    if len(sweep.params) == 2 and len(numeric) == 2:
        return _heat_maps(folder, sweep, metric)
    return []


def _metric_lines(path: Path, sweep: Sweep, metric: str) -> Path:
    p = sweep.params[0]
    order = sorted(range(len(sweep.points)), key=lambda i: float(sweep.points[i][0]))
    xs = [axis(p, sweep.points[i][0]) for i in order]
    names = list(dict.fromkeys([metric, *SWEEP_METRICS]))
    cols = 3
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        for policy in sweep.policies:
            stats = [ci95(sweep.metric(i, policy, name)) for i in order]
            line = ax.plot(xs, [s.mean for s in stats], marker="o", ms=3, label=policy)[0]
            ax.fill_between(xs, [s.lo for s in stats], [s.hi for s in stats], color=line.get_color(), alpha=0.2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(axis_label(p), fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def difference_pair(sweep: Sweep, metric: str) -> tuple[str, str]:
    """The pair a difference map shows: the policy best most often against the first listed (or runner-up)."""
    best = [best_policy(sweep, i, metric) for i in range(len(sweep.points))]
    top = max(sweep.policies, key=lambda name: (best.count(name), -sweep.policies.index(name)))
    other = sweep.policies[0] if top != sweep.policies[0] else sweep.policies[1]
    return top, other


def _heat_maps(folder: Path, sweep: Sweep, metric: str) -> list[Path]:
    px, py = sweep.params
    xs = [axis(px, pt[0]) for pt in sweep.points]
    ys = [axis(py, pt[1]) for pt in sweep.points]
    best = [sweep.policies.index(best_policy(sweep, i, metric)) for i in range(len(sweep.points))]
    cmap = plt.get_cmap("tab10")
    grid = sweep.sample == "grid"
    written = []
    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    _map(ax, xs, ys, np.asarray(best, dtype=float), grid, cmap=cmap, vmin=-0.5, vmax=9.5)
    handles = [Line2D([], [], marker="s", ls="", color=cmap(k), label=name) for k, name in enumerate(sweep.policies)]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    word = "lowest" if lower_is_better(metric) else "highest"
    ax.set_title(f"Policy with the {word} {metric}", fontsize=10)
    ax.set_xlabel(axis_label(px), fontsize=8)
    ax.set_ylabel(axis_label(py), fontsize=8)
    fig.tight_layout()
    written.append(_save(fig, folder / BEST_PNG))
    if len(sweep.policies) > 1:
        a, b = difference_pair(sweep, metric)
        diff = [
            float(np.mean(np.subtract(sweep.metric(i, a, metric), sweep.metric(i, b, metric)))) for i in range(len(xs))
        ]
        span = max(abs(min(diff)), abs(max(diff)), 1e-9)
        fig, ax = plt.subplots(figsize=(6.5, 4.8))
        mesh = _map(ax, xs, ys, np.asarray(diff), grid, cmap=plt.get_cmap("RdBu"), vmin=-span, vmax=span)
        fig.colorbar(mesh, ax=ax, label=f"{metric}: {a} minus {b}")
        ax.set_title(f"{a} minus {b}: {metric}", fontsize=10)
        ax.set_xlabel(axis_label(px), fontsize=8)
        ax.set_ylabel(axis_label(py), fontsize=8)
        fig.tight_layout()
        written.append(_save(fig, folder / DIFFERENCE_PNG))
    return written


def _map(ax: Any, xs: Sequence[float], ys: Sequence[float], values: np.ndarray[Any, Any], grid: bool, **kw: Any) -> Any:
    if not grid:
        return ax.scatter(xs, ys, c=values, s=60, edgecolors="k", linewidths=0.3, **kw)
    ux, uy = sorted(set(xs)), sorted(set(ys))
    image = np.full((len(uy), len(ux)), np.nan)
    for x, y, v in zip(xs, ys, values.tolist(), strict=True):
        image[uy.index(y), ux.index(x)] = v
    return ax.pcolormesh(_edges(ux), _edges(uy), image, shading="flat", **kw)


def _edges(centres: Sequence[float]) -> np.ndarray[Any, Any]:
    c = np.asarray(centres, dtype=float)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[:-1] + c[1:]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def write_tornado(path: Path, doc: dict[str, Any]) -> Path:
    """Bars of the main index (mu* or ST), largest on top, with their confidence half-widths."""
    key = "mu_star" if doc["method"] == "morris" else "ST"
    rows = list(reversed(doc["indices"]))
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(rows) + 1.6))
    ax.barh(
        [r["path"] for r in rows],
        [r[key] for r in rows],
        xerr=[r[key + "_conf"] for r in rows],
        color="#4c72b0",
        capsize=3,
    )
    ax.set_xlabel(
        f"{'μ*' if key == 'mu_star' else 'total-order index ST'} on {doc['metric']} ({doc['policy']})", fontsize=8
    )
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    return _save(fig, path)


def write_pareto(path: Path, doc: dict[str, Any]) -> Path | None:
    """Objective against the first constrained metric: feasible, infeasible, and the front."""
    if not doc["subject_to"] or not doc["trials"]:
        return None
    metric = doc["subject_to"][0].split()[0]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for feasible, colour, label in ((True, "#2a9d8f", "feasible"), (False, "#c44e52", "infeasible")):
        trials = [t for t in doc["trials"] if t["feasible"] is feasible]
        ax.scatter(
            [t["objective"] for t in trials],
            [t["metrics"][metric]["mean"] for t in trials],
            c=colour,
            label=label,
            s=25,
        )
    front = sorted((doc["trials"][i] for i in doc["pareto"]), key=lambda t: t["objective"])
    ax.plot(
        [t["objective"] for t in front],
        [t["metrics"][metric]["mean"] for t in front],
        "k--",
        lw=1,
        label="Pareto front",
    )
    ax.set_xlabel(doc["minimise"], fontsize=8)
    ax.set_ylabel(metric, fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)

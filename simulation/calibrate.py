"""Calibration: fit unknown scenario parameters to an observed day, site by site.

The observed day is one row per site: its observed ``vaccinated`` or ``attainment``, and
optionally the site's ``site`` name (only the named sites are then simulated for comparison)
and ``kind`` (urban or rural: each kind is compared on its own). The method:

1. **Distance.** For a candidate value of the ``--fit`` parameters the scenario is simulated for R
   replications of one policy from the same root seed (common random numbers: candidates differ
   by the parameters alone). The distance to the observed day is the 1-Wasserstein distance
   (``scipy.stats.wasserstein_distance``, the area between the two distribution functions)
   between the observed per-site values and the simulated per-site values pooled over
   replications, in each group (each ``kind`` if given, else all sites), weighted by the group's
   observed sites. It compares distributions across sites, not site by site (a site's own
   draws are not known), so the spread of an uneven district is fitted as well as its mean.
2. **Search.** Optuna's seeded TPE sampler proposes ``trials`` candidates within the ranges.
3. **Uncertainty.** The observed sites are resampled with replacement (``bootstrap`` times); for
   each resample the trial with the least distance is taken. The 2.5% and 97.5% quantiles of the
   fitted values over resamples give a 95% interval for each parameter (the observed day's own
   sampling noise; the trials' simulated values are reused, so this costs no simulation).
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simulation.experiment import run_replications
from simulation.explore.space import Parameter
from vaxdrill.core.errors import ParameterError
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.paths import with_values
from vaxdrill.core.scenario.units import parse_share

SCHEMA = "vaxdrill.calibrate/1"
METRICS = ("attainment", "vaccinated")


@dataclass(frozen=True)
class Observed:
    """The observed day: per group (a site's name, or a kind), the observed values."""

    by: str  # "kind" or "all"
    metric: str
    groups: dict[str, NDArray[np.float64]]
    sites: frozenset[str] | None = None  # the sites observed, when the file names them

    @property
    def count(self) -> int:
        return sum(v.size for v in self.groups.values())


def read_observed(path: Path, scenario: Scenario, metric: str) -> Observed:
    """Read ``--observed FILE.csv``; raise ParameterError naming the file and what is wrong."""
    shown = f"--observed {path}"
    if metric not in METRICS:
        raise ParameterError(f"--metric {metric}: expected one of {', '.join(METRICS)}")
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ParameterError(f"{shown}: cannot read it ({exc.strerror})") from None
    if not rows:
        raise ParameterError(f"{shown}: no rows; expected a header and one row per site")
    head = set(rows[0])
    if metric not in head:
        raise ParameterError(f"{shown}: no `{metric}` column (columns: {', '.join(sorted(head))})")
    by = "kind" if "kind" in head else "all"
    names = {s.name for s in scenario.sites}
    kinds = {s.kind for s in scenario.sites}
    groups: dict[str, list[float]] = {}
    for line, row in enumerate(rows, start=2):
        text = (row.get(metric) or "").strip()
        try:
            value = parse_share(text) if metric == "attainment" and text.endswith("%") else float(text)
        except ValueError:
            raise ParameterError(f"{shown}:{line}: `{metric}` expected a number, found {text!r}") from None
        if not math.isfinite(value) or value < 0:
            raise ParameterError(f"{shown}:{line}: `{metric}` must be a number of at least 0, found {text!r}")
        key = (row.get(by) or "").strip() if by != "all" else "all"
        if "site" in head and (row.get("site") or "").strip() not in names:
            raise ParameterError(f"{shown}:{line}: site {row.get('site')!r} is not in the scenario")
        if by == "kind" and key not in kinds:
            raise ParameterError(f"{shown}:{line}: kind {key!r}: the scenario's sites are {', '.join(sorted(kinds))}")
        groups.setdefault(key, []).append(value)
    named = frozenset((r.get("site") or "").strip() for r in rows) if "site" in head else None
    return Observed(by, metric, {k: np.asarray(v, dtype=float) for k, v in groups.items()}, named)


def simulated(scenario: Scenario, observed: Observed, policy: str, replications: int, seed: int) -> dict[str, Any]:
    """Per group, the simulated per-site values pooled over replications."""
    results = run_replications(scenario, replications, seed, [policy])
    groups: dict[str, list[float]] = {k: [] for k in observed.groups}
    for r in results:
        for site in scenario.sites:
            if observed.sites is not None and site.name not in observed.sites:
                continue
            key = site.kind if observed.by == "kind" else "all"
            if key in groups:
                groups[key].append(r.policies[policy].sites[site.name][observed.metric])
    return {k: np.asarray(v, dtype=float) for k, v in groups.items()}


def distance(observed: dict[str, NDArray[np.float64]], sim: dict[str, NDArray[np.float64]]) -> float:
    """Wasserstein-1 between observed and simulated values, per group, weighted by observed sites."""
    from scipy.stats import wasserstein_distance

    total = sum(v.size for v in observed.values())
    return float(
        sum(v.size / total * wasserstein_distance(v, sim[k]) for k, v in observed.items() if v.size and sim[k].size)
    )


def _pooled(observed: Observed, sim: dict[str, NDArray[np.float64]]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return np.concatenate(list(observed.groups.values())), np.concatenate(list(sim.values()))


def bootstrap(
    observed: Observed, trials: Sequence[dict[str, NDArray[np.float64]]], resamples: int, seed: int
) -> NDArray[np.int64]:
    """For each resample of the observed sites, the index of the trial closest to it."""
    rng = np.random.default_rng(seed)
    best = np.empty(resamples, dtype=np.int64)
    for b in range(resamples):
        sample = {k: rng.choice(v, v.size) for k, v in observed.groups.items()}
        best[b] = int(np.argmin([distance(sample, sim) for sim in trials]))
    return best


def calibrate(
    scenario: Scenario,
    observed: Observed,
    params: Sequence[Parameter],
    policy: str,
    trials: int,
    replications: int,
    seed: int,
    resamples: int = 200,
    on_done: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Fit ``params`` to ``observed``; the ``summary.json`` document of ``vaxdrill calibrate``."""
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    sims: list[dict[str, NDArray[np.float64]]] = []
    values: list[dict[str, Any]] = []
    for t in range(trials):
        trial = study.ask()
        point: dict[str, Any] = {}
        for p in params:
            assert p.low is not None and p.high is not None
            if p.kind == "int":
                point[p.path] = trial.suggest_int(p.path, int(p.low), int(p.high))
            else:
                point[p.path] = trial.suggest_float(p.path, p.low, p.high)
        sim = simulated(with_values(scenario, point, "--fit"), observed, policy, replications, seed)
        study.tell(trial, distance(observed.groups, sim))
        sims.append(sim)
        values.append(point)
        if on_done:
            on_done(t)
    dists = [distance(observed.groups, s) for s in sims]
    best = int(np.argmin(dists))
    chosen = bootstrap(observed, sims, resamples, seed)
    fitted: dict[str, Any] = {}
    for p in params:
        boot = np.asarray([values[i][p.path] for i in chosen], dtype=float)
        lo, hi = np.quantile(boot, [0.025, 0.975]).tolist()
        fitted[p.path] = {
            "value": values[best][p.path],
            "shown": p.show(values[best][p.path]),
            "ci95": [lo, hi],
            "shown_ci95": [p.show(lo), p.show(hi)],
        }
    obs_all, sim_all = _pooled(observed, sims[best])
    return {
        "schema": SCHEMA,
        "scenario": scenario.name,
        "seed": seed,
        "replications": replications,
        "policy": policy,
        "metric": observed.metric,
        "observed_by": observed.by,
        "observed_sites": observed.count,
        "method": "Optuna TPE on the 1-Wasserstein distance between observed and simulated per-site values; "
        f"95% intervals from {resamples} bootstrap resamples of the observed sites",
        "fitted": fitted,
        "distance": dists[best],
        "observed_mean": float(obs_all.mean()),
        "simulated_mean": float(sim_all.mean()),
        "trials": [
            {"number": i, "values": v, "distance": d} for i, (v, d) in enumerate(zip(values, dists, strict=True))
        ],
        "_best_sim": sim_all.tolist(),
        "_observed": obs_all.tolist(),
    }


def write_plot(path: Path, doc: dict[str, Any]) -> Path:
    """Observed against simulated (best fit) distribution functions across sites, and distance per trial."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fitted = list(doc["fitted"])
    fig, axes = plt.subplots(1, 1 + len(fitted), figsize=(4.5 * (1 + len(fitted)), 4))
    ax = axes[0]
    for label, data in (("observed", doc["_observed"]), ("simulated, best fit", doc["_best_sim"])):
        xs = np.sort(np.asarray(data, dtype=float))
        ax.step(xs, np.arange(1, xs.size + 1) / xs.size, where="post", label=f"{label} (n={xs.size})")
    ax.set_xlabel(f"{doc['metric']} of a site")
    ax.set_ylabel("share of sites (cumulative, 0-1)")
    ax.set_title("Observed and simulated sites")
    ax.legend(fontsize=8)
    for panel, path_name in zip(axes[1:], fitted, strict=True):
        ax = panel
        tried = [t["values"][path_name] for t in doc["trials"]]
        ax.scatter(tried, [t["distance"] for t in doc["trials"]], s=12)
        lo, hi = doc["fitted"][path_name]["ci95"]
        ax.axvspan(lo, hi, color="green", alpha=0.15, lw=0, label="95% bootstrap interval")
        ax.axvline(doc["fitted"][path_name]["value"], color="green", lw=1, label="best")
        ax.set_xlabel(f"{path_name}\n(scenario units: seconds, shares 0-1, counts)", fontsize=8)
        ax.set_ylabel("Wasserstein distance to the observed day")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path

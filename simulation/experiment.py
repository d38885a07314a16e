"""Replicated experiments: run replications (in worker processes if asked), then summarise.

Replication *r* draws from streams keyed by (root seed, r, source), whatever the worker that runs
it, so ``--workers K`` gives exactly the results of ``--workers 1``; results are put back in
replication order before anything is averaged. Every policy of a replication shares its random
numbers (see :mod:`simulation.streams`), so paired differences between policies have narrow
intervals.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulation.model import ReplicationResult, policies_of, run_replication
from vaxdrill.core.documents.simulation import SimulationSummary
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.units import format_clock
from vaxdrill.core.stats import t_interval

SCHEMA = SimulationSummary.SCHEMA
PAIRED_METRICS = (
    "vaccinated",
    "attainment",
    "turned_away",
    "doses_wasted",
    "wait_minutes.mean",
    "wait_minutes.p90",
    "paper_records",
    "backlog_at_close",
    "backlog_cleared_after_close_minutes",
    "overtime_minutes",
)
DIGITS = 4


@dataclass(frozen=True)
class Interval:
    mean: float
    lo: float
    hi: float

    def as_json(self) -> dict[str, Any]:
        return {"mean": round(self.mean, DIGITS), "ci95": [round(self.lo, DIGITS), round(self.hi, DIGITS)]}


def format_interval(node: Any, share: bool = False, floor: float | None = None) -> str:
    """``{"mean": m, "ci95": [lo, hi]}`` as ``m [lo, hi]`` (whole numbers from 20 up; shares as %).

    ``floor``: the least the quantity can be (0 for counts and times): a t-interval's end below it
    is shown at it, since a count of -21 is not a possible value.
    """
    if not isinstance(node, dict) or "mean" not in node:
        return "-"
    mean, (lo, hi) = node["mean"], node["ci95"]
    if floor is not None:
        lo, hi = max(lo, floor), max(hi, floor)
    if share:
        return f"{mean:.0%} [{lo:.0%}, {hi:.0%}]"
    fmt = ".0f" if max(abs(mean), abs(hi)) >= 20 else ".1f"
    return f"{mean:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


def ci95(values: Sequence[float]) -> Interval:
    """Mean and 95% Student-t interval over replications (a single replication: a point)."""
    arr = np.asarray(values, dtype=float)
    n = arr.size
    if n == 0:
        return Interval(0.0, 0.0, 0.0)
    mean, half = (float(x) for x in t_interval(arr))
    if n < 2:
        return Interval(mean, mean, mean)
    return Interval(mean, mean - half, mean + half)


# -- running ----------------------------------------------------------------------------------
_WORKER_SCENARIO: Scenario | None = None


def _init_worker(scenario: Scenario) -> None:
    global _WORKER_SCENARIO
    _WORKER_SCENARIO = scenario


def _run_in_worker(args: tuple[int, int, tuple[str, ...] | None]) -> ReplicationResult:
    root, replication, names = args
    assert _WORKER_SCENARIO is not None
    return run_replication(_WORKER_SCENARIO, root, replication, names)


def run_replications(
    scenario: Scenario,
    replications: int,
    seed: int,
    policy_names: Sequence[str] | None = None,
    workers: int = 1,
    on_done: Callable[[int], None] | None = None,
) -> list[ReplicationResult]:
    """Run replications 0..N-1 and return them in replication order."""
    names = tuple(policy_names) if policy_names else None
    if workers <= 1 or replications <= 1:
        out = []
        for r in range(replications):
            out.append(run_replication(scenario, seed, r, names))
            if on_done:
                on_done(r)
        return out
    # A fork server imports the model once and forks workers from it: fast start, and safe with the
    # progress bar's thread (a plain fork of a threaded process is not).
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["simulation.model", "simulation.experiment"])
    results: dict[int, ReplicationResult] = {}
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(scenario,)
    ) as pool:
        jobs = [(seed, r, names) for r in range(replications)]
        for res in pool.map(_run_in_worker, jobs, chunksize=1):
            results[res.replication] = res
            if on_done:
                on_done(res.replication)
    return [results[r] for r in range(replications)]


# -- summarising --------------------------------------------------------------------------------
def _nest(flat: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"wait_minutes.p90": x}`` -> ``{"wait_minutes": {"p90": x}}``."""
    out: dict[str, Any] = {}
    for key in sorted(flat):
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = flat[key]
    return out


def _summarise(rows: Iterable[dict[str, float]]) -> dict[str, Any]:
    """Every metric's mean and interval over replications (one numpy pass: thousands of sites)."""
    rows = list(rows)
    if not rows:
        return {}
    keys = sorted({k for r in rows for k in r})
    data = np.array([[r.get(k, 0.0) for k in keys] for r in rows], dtype=float)
    mean, half = t_interval(data)
    return _nest(
        {
            k: Interval(float(m), float(m - h), float(m + h)).as_json()
            for k, m, h in zip(keys, mean.tolist(), half.tolist(), strict=True)
        }
    )


def summary(
    scenario: Scenario, results: Sequence[ReplicationResult], seed: int, per_site: bool = True
) -> SimulationSummary:
    """The ``summary.json`` document (schema ``vaxdrill.simulation/1``); deterministic for a seed."""
    names = list(results[0].policies) if results else []
    policies: dict[str, Any] = {}
    for name in names:
        entry = _summarise(r.policies[name].total for r in results)
        if per_site:
            entry["sites"] = {
                site.name: _summarise(r.policies[name].sites[site.name] for r in results) for site in scenario.sites
            }
        policies[name] = entry
    checkpoints = [f"vaccinated_by.{format_clock(c)}" for c in scenario.checkpoints]
    paired: dict[str, Any] = {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            diffs = {
                metric: ci95([r.policies[a].total[metric] - r.policies[b].total[metric] for r in results]).as_json()
                for metric in (*PAIRED_METRICS, *checkpoints)
            }
            paired[f"{a} vs {b}"] = _nest(diffs)
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "scenario": scenario.name,
        "seed": seed,
        "replications": len(results),
        "checkpoints": [format_clock(c) for c in scenario.checkpoints],
        "answer": answer(scenario, results),
        "policies": policies,
        "paired_differences": paired,
    }
    return SimulationSummary.model_validate(doc)


def _scope(scenario: Scenario) -> str:
    districts = {s.district for s in scenario.sites}
    if len(districts) == 1 and len(scenario.sites) > 1:
        return "across the district"
    return f"across the {len(scenario.sites)} site(s)"


def answer(scenario: Scenario, results: Sequence[ReplicationResult]) -> str:
    """The planner's answer in one sentence: the best policy against the first one listed."""
    if not results:
        return "No replication was run."
    names = list(results[0].policies)
    ref = names[0]
    cps = [f"vaccinated_by.{format_clock(c)}" for c in scenario.checkpoints]

    def score(name: str) -> tuple[float, float]:
        tot = [r.policies[name].total for r in results]
        return (
            float(np.mean([t["vaccinated"] for t in tot])),
            float(np.mean([sum(t[c] for c in cps) for t in tot])),
        )

    ranked = sorted(names, key=score, reverse=True)
    vacc_ref = ci95([r.policies[ref].total["vaccinated"] for r in results])
    if len(names) == 1:
        return f"{ref} vaccinates {vacc_ref.mean:.0f} people [{vacc_ref.lo:.0f}, {vacc_ref.hi:.0f}] {_scope(scenario)}."
    best, other = (ranked[0], ref) if ranked[0] != ref else (ref, ranked[1])
    diff = ci95([r.policies[best].total["vaccinated"] - r.policies[other].total["vaccinated"] for r in results])
    paper = ci95([r.policies[best].total["paper_records"] for r in results])
    if diff.lo > 0 or len(results) < 2:
        text = (
            f"{best} vaccinates {diff.mean:.0f} more people [{diff.lo:.0f}, {diff.hi:.0f}] {_scope(scenario)} "
            f"than {other}"
        )
    else:  # the interval holds zero: no policy is shown better over the day
        text = (
            f"{best} and {other} vaccinate about as many people {_scope(scenario)} over the day "
            f"(difference {diff.mean:.0f} [{diff.lo:.0f}, {diff.hi:.0f}])"
        )
    if cps:
        gaps = {c: ci95([r.policies[best].total[c] - r.policies[other].total[c] for r in results]) for c in cps}
        cp = max(cps, key=lambda c: abs(gaps[c].mean))
        g = gaps[cp]
        when = cp.split(".", 1)[1]
        if diff.lo > 0 or len(results) < 2:
            text += f" ({g.mean:.0f} more [{g.lo:.0f}, {g.hi:.0f}] by {when})"
        else:
            text += f"; by {when}, {best} minus {other}: {g.mean:+.0f} [{g.lo:.0f}, {g.hi:.0f}]"
    if paper.mean > 0:
        text += f", at the cost of {paper.mean:.0f} paper records to enter later"
    return text + "."


def choose_policies(scenario: Scenario, names: Sequence[str] | None) -> list[str]:
    """Validate ``--policy`` names against the scenario (raises KeyError with the unknown name)."""
    available = policies_of(scenario)
    if not names:
        return list(available)
    for n in names:
        if n not in available:
            raise KeyError(n)
    return list(names)

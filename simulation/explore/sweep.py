"""A sweep: the scenario's policies at every point of a design, replicated with common random numbers.

Every point runs replications 0..R-1 of the same root seed, so replication *r* of every point and
every policy sees the same arrivals, service times and outage draws: a difference between two
points or two policies comes from the parameters and the policy alone, and paired differences have
narrow intervals. The results are tidy (one row per point x policy x replication, sorted) and
written with Python's shortest round-trip float text, so ``points.csv`` is the same file whatever
the backend and the number of workers.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from simulation.experiment import PAIRED_METRICS, _summarise, choose_policies, ci95
from simulation.explore.backends import Backend, Batch, OnDone, TaskResult
from simulation.explore.space import Parameter, Sample, design
from simulation.model import policies_of
from vaxdrill.core.errors import ParameterError
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.paths import with_values
from vaxdrill.core.scenario.units import format_clock

SCHEMA = "vaxdrill.sweep/1"
_LOWER_IS_BETTER = ("wait_minutes", "turned_away", "doses_wasted", "paper_records", "backlog", "overtime", "queue")


def lower_is_better(metric: str) -> bool:
    """Waits, losses, backlogs and overtime are better small; counts vaccinated are better large."""
    return metric.startswith(_LOWER_IS_BETTER)


@dataclass(frozen=True)
class Sweep:
    """A finished sweep: the design, and every task's totals sorted by point and replication."""

    scenario: Scenario
    params: Sequence[Parameter]
    sample: Sample
    points: Sequence[tuple[Any, ...]]
    policies: Sequence[str]
    seed: int
    replications: int
    results: Sequence[TaskResult]

    def metric(self, point: int, policy: str, metric: str) -> list[float]:
        """The metric's value in each replication of a point under a policy."""
        return [t.totals[policy][metric] for t in self.results if t.variant == point]

    def metric_names(self) -> list[str]:
        return sorted({k for t in self.results for m in t.totals.values() for k in m})


def variants(scenario: Scenario, params: Sequence[Parameter], points: Sequence[tuple[Any, ...]]) -> list[Scenario]:
    """The scenario at each point (every bad value reported before anything runs)."""
    return [with_values(scenario, {p.path: v for p, v in zip(params, point, strict=True)}) for point in points]


def run_sweep(
    scenario: Scenario,
    params: Sequence[Parameter],
    sample: Sample,
    points: int | None,
    replications: int,
    seed: int,
    policies: Sequence[str],
    backend: Backend,
    on_done: OnDone | None = None,
) -> Sweep:
    """Run every point of the design under every policy (``policies`` already checked)."""
    design_points = design(params, sample, points, seed)
    batch = Batch(variants(scenario, params, design_points), replications, seed, tuple(policies))
    results = backend.run(batch, on_done)
    return Sweep(scenario, params, sample, design_points, list(policies), seed, replications, results)


def metric_names(scenario: Scenario, policy: str) -> list[str]:
    """The metrics a day of ``scenario`` reports (one short replication of its first sites), to check names early."""
    from simulation.model import run_replication

    few = scenario.model_copy(update={"sites": scenario.sites[:20]})
    return sorted(run_replication(few, scenario.seed, 0, (policy,)).policies[policy].total)


def check_metric(metric: str, known: Sequence[str], option: str = "--metric") -> None:
    """Refuse a metric the simulation does not report, suggesting the nearest."""
    if metric in known:
        return
    import difflib

    close = difflib.get_close_matches(metric, known, n=1, cutoff=0.5)
    hint = f"; did you mean `{close[0]}`?" if close else f"; e.g. {', '.join(PAIRED_METRICS[:5])}"
    raise ParameterError(f"{option} {metric}: not a metric of the simulation summary{hint}")


# -- points.csv ---------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


def write_points_csv(path: Path, sweep: Sweep) -> Path:
    """One row per point x policy x replication: the parameters as written, then every metric."""
    metrics = sweep.metric_names()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["point", *(p.path for p in sweep.params), "policy", "replication", *metrics])
        for task in sweep.results:
            shown = [p.show(v) for p, v in zip(sweep.params, sweep.points[task.variant], strict=True)]
            for policy in sweep.policies:
                totals = task.totals[policy]
                writer.writerow(
                    [
                        task.variant,
                        *shown,
                        policy,
                        task.replication,
                        *(_cell(float(totals.get(m, 0.0))) for m in metrics),
                    ]
                )
    return path


# -- summary.json -------------------------------------------------------------------------------------
def _paired(sweep: Sweep, point: int, a: str, b: str) -> dict[str, Any]:
    checkpoints = [f"vaccinated_by.{format_clock(c)}" for c in sweep.scenario.checkpoints]
    out: dict[str, Any] = {}
    for metric in (*PAIRED_METRICS, *checkpoints):
        diff = np.subtract(sweep.metric(point, a, metric), sweep.metric(point, b, metric))
        node = out
        *parents, leaf = metric.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = ci95(diff.tolist()).as_json()
    return out


def document(sweep: Sweep, metric: str) -> dict[str, Any]:
    """The ``summary.json`` of a sweep (schema ``vaxdrill.sweep/1``)."""
    reference = sweep.policies[0]
    points = []
    for i, values in enumerate(sweep.points):
        tasks = [t for t in sweep.results if t.variant == i]
        points.append(
            {
                "point": i,
                "values": {p.path: p.show(v) for p, v in zip(sweep.params, values, strict=True)},
                "policies": {name: _summarise(t.totals[name] for t in tasks) for name in sweep.policies},
                "paired_differences": {
                    f"{name} vs {reference}": _paired(sweep, i, name, reference) for name in sweep.policies[1:]
                },
            }
        )
    return {
        "schema": SCHEMA,
        "scenario": sweep.scenario.name,
        "seed": sweep.seed,
        "replications": sweep.replications,
        "sample": sweep.sample,
        "metric": metric,
        "answer": answer(sweep, metric),
        "parameters": [
            {
                "path": p.path,
                "kind": p.kind,
                "baseline": p.show(p.baseline) if p.baseline is not None else None,
                "values": sorted({p.show(pt[j]) for pt in sweep.points}, key=lambda s: _order(p, sweep, s)),
            }
            for j, p in enumerate(sweep.params)
        ],
        "policies": list(sweep.policies),
        "points": points,
    }


def _order(p: Parameter, sweep: Sweep, shown: str) -> int:
    j = list(sweep.params).index(p)
    ordered = sorted({pt[j] for pt in sweep.points}, key=lambda v: (isinstance(v, str), v))
    return [p.show(v) for v in ordered].index(shown)


# -- the answer ---------------------------------------------------------------------------------------
def means(sweep: Sweep, policy: str, metric: str) -> list[float]:
    return [float(np.mean(sweep.metric(i, policy, metric))) for i in range(len(sweep.points))]


def best_policy(sweep: Sweep, point: int, metric: str) -> str:
    sign = -1.0 if lower_is_better(metric) else 1.0
    return max(sweep.policies, key=lambda name: sign * float(np.mean(sweep.metric(point, name, metric))))


def _crossing(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Where ``ys`` turns positive for good along ``xs``: after its last value at or below zero."""
    last = max((i for i, y in enumerate(ys) if y <= 0), default=None)
    if last is None:
        return xs[0]
    if last == len(ys) - 1:
        return None
    y0, y1 = ys[last], ys[last + 1]
    return xs[last] + (xs[last + 1] - xs[last]) * (0 - y0) / (y1 - y0)


def answer(sweep: Sweep, metric: str) -> str:
    """The planner's answer in one sentence: which policy is better, and from where on."""
    n = len(sweep.points)
    if len(sweep.policies) == 1:
        values = means(sweep, sweep.policies[0], metric)
        lo, hi = min(range(n), key=values.__getitem__), max(range(n), key=values.__getitem__)
        return (
            f"{metric} under {sweep.policies[0]} runs from {values[lo]:.1f} ({_at(sweep, lo)}) "
            f"to {values[hi]:.1f} ({_at(sweep, hi)})."
        )
    best = [best_policy(sweep, i, metric) for i in range(n)]
    if len(set(best)) == 1:
        return f"{best[0]} gives the {_best_word(metric)} {metric} at every point swept ({n} point(s))."
    param = sweep.params[0]
    if len(sweep.params) == 1 and param.numeric:
        order = sorted(range(n), key=lambda i: float(sweep.points[i][0]))
        first, last = best[order[0]], best[order[-1]]
        if first != last:
            return _threshold(sweep, metric, order, first, last)
    counts = {name: best.count(name) for name in sweep.policies if name in best}
    ranked = sorted(counts, key=lambda k: -counts[k])
    return (
        f"{ranked[0]} gives the {_best_word(metric)} {metric} at {counts[ranked[0]]} of {n} points; "
        + ", ".join(f"{k} at {counts[k]}" for k in ranked[1:])
        + "."
    )


def _best_word(metric: str) -> str:
    return "lowest" if lower_is_better(metric) else "highest"


def _at(sweep: Sweep, point: int) -> str:
    return ", ".join(f"{p.path}={p.show(v)}" for p, v in zip(sweep.params, sweep.points[point], strict=True))


def _threshold(sweep: Sweep, metric: str, order: list[int], first: str, last: str) -> str:
    """``last`` is better than ``first`` once the parameter passes x [interval of the crossing]."""
    param = sweep.params[0]
    xs = [float(sweep.points[i][0]) for i in order]
    sign = -1.0 if lower_is_better(metric) else 1.0
    gaps = [
        ci95((sign * np.subtract(sweep.metric(i, last, metric), sweep.metric(i, first, metric))).tolist())
        for i in order
    ]
    x = _crossing(xs, [g.mean for g in gaps])
    if x is None:
        return f"{last} is better than {first} on {metric} at the high end of {param.path}."
    # The bracket: from the last point where `last` is surely not better, to the first from which it
    # surely is (95% intervals of the paired difference), at the grid's resolution.
    not_better = [i for i, g in enumerate(gaps) if g.hi <= 0]
    unsure = [i for i, g in enumerate(gaps) if g.lo <= 0]
    lo = xs[not_better[-1]] if not_better else xs[0]
    hi = xs[min(unsure[-1] + 1, len(xs) - 1)] if unsure else xs[0]
    lo, hi = min(lo, x), max(hi, x)
    word = "later than" if param.kind == "clock" else "more than"
    return (
        f"{last} is better than {first} on {metric} whenever {param.path} is {word} "
        f"{param.show(x)} [{param.show(lo)}, {param.show(hi)}]."
    )


def known_policies(scenario: Scenario, names: Sequence[str] | None) -> list[str]:
    """The policies to run (``--policy`` or all), or ParameterError naming the unknown one."""
    try:
        return choose_policies(scenario, names)
    except KeyError as exc:
        known = ", ".join(policies_of(scenario))
        raise ParameterError(f"--policy {exc.args[0]}: no such policy (policies: {known})") from None

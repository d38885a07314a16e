"""Which assumption moves a metric most: SALib's Morris screening or Sobol' indices over the scenario.

Each sample of SALib's design is a variant of the scenario; its output is the metric's mean over
``replications`` replications of one policy, from the same root seed for every sample (common
random numbers), so the indices measure the parameters and not the noise between samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from simulation.explore.backends import Backend, Batch, OnDone
from simulation.explore.space import Parameter
from simulation.explore.sweep import check_metric
from vaxdrill.core.errors import ParameterError
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.paths import with_values

SCHEMA = "vaxdrill.sensitivity/1"
Method = Literal["morris", "sobol"]


@dataclass(frozen=True)
class Sensitivity:
    """The finished analysis: SALib's indices per parameter, and the document."""

    params: Sequence[Parameter]
    method: Method
    indices: dict[str, list[float]]
    document: dict[str, Any]


def _problem(params: Sequence[Parameter]) -> dict[str, Any]:
    for p in params:
        if p.low is None or p.high is None:
            raise ParameterError(f"--param {p.path}: sensitivity needs a range LO..HI")
    return {"num_vars": len(params), "names": [p.path for p in params], "bounds": [[p.low, p.high] for p in params]}


def _value(p: Parameter, x: float) -> Any:
    return round(x) if p.kind == "int" else round(x, 6)


def samples(params: Sequence[Parameter], method: Method, n: int, seed: int) -> np.ndarray[Any, Any]:
    """SALib's design: ``n`` Morris trajectories, or Saltelli's ``n * (k + 2)`` points for Sobol'."""
    problem = _problem(params)
    if method == "morris":
        from SALib.sample import morris

        return np.asarray(morris.sample(problem, n, num_levels=4, seed=seed))
    from SALib.sample import sobol

    return np.asarray(sobol.sample(problem, n, calc_second_order=False, seed=seed))


def run_sensitivity(
    scenario: Scenario,
    params: Sequence[Parameter],
    method: Method,
    metric: str,
    policy: str,
    n: int,
    replications: int,
    seed: int,
    backend: Backend,
    on_done: OnDone | None = None,
) -> Sensitivity:
    """Run every sample, then SALib's analysis of ``metric`` under ``policy``."""
    problem = _problem(params)
    x = samples(params, method, n, seed)
    variants = [
        with_values(scenario, {p.path: _value(p, float(v)) for p, v in zip(params, row, strict=True)}) for row in x
    ]
    results = backend.run(Batch(variants, replications, seed, (policy,)), on_done)
    check_metric(metric, sorted(results[0].totals[policy]))
    y = np.array([np.mean([t.totals[policy][metric] for t in results if t.variant == v]) for v in range(len(variants))])
    if method == "morris":
        from SALib.analyze import morris

        res = morris.analyze(problem, x, y, num_levels=4, seed=seed)
        keys: tuple[str, ...] = ("mu_star", "mu_star_conf", "sigma")
        order_key = "mu_star"
    else:
        from SALib.analyze import sobol

        res = sobol.analyze(problem, y, calc_second_order=False, seed=seed)
        keys = ("S1", "S1_conf", "ST", "ST_conf")
        order_key = "ST"
    indices = {k: [_clean(v) for v in np.asarray(res[k], dtype=float).tolist()] for k in keys}
    ranking = sorted(range(len(params)), key=lambda i: (-indices[order_key][i], i))
    rows = []
    for rank, i in enumerate(ranking, start=1):
        p = params[i]
        assert p.low is not None and p.high is not None
        rows.append(
            {"path": p.path, "low": p.show(p.low), "high": p.show(p.high), "rank": rank}
            | {k: round(indices[k][i], 6) for k in keys}
        )
    top, last = rows[0], rows[-1]
    answer = (
        f"{top['path']} moves {metric} most ({order_key} {top[order_key]:.3g} ± {top[order_key + '_conf']:.2g})"
        if order_key == "mu_star"
        else f"{top['path']} moves {metric} most (total-order index {top['ST']:.2f} ± {top['ST_conf']:.2f})"
    )
    if len(rows) > 1:
        answer += f"; {last['path']} least ({order_key} {last[order_key]:.3g})"
    doc = {
        "schema": SCHEMA,
        "scenario": scenario.name,
        "seed": seed,
        "replications": replications,
        "method": method,
        "metric": metric,
        "policy": policy,
        "samples": len(variants),
        "answer": answer + ".",
        "indices": rows,
    }
    return Sensitivity(params, method, indices, doc)


def _clean(value: float) -> float:
    """SALib gives NaN for a parameter that never changed the output's variance; that is zero effect."""
    return 0.0 if not math.isfinite(value) else value

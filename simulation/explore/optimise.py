"""The cheapest design that meets the targets: Optuna over decided fields, with confidence.

Each trial is a design (one value per ``--decide`` path) run for ``replications`` replications of
one policy from the same root seed (common random numbers: designs differ by the design alone). A
constraint ``METRIC >= VALUE`` holds when the one-sided ``confidence`` lower bound of the metric's
mean is at least VALUE (``<=``: the upper bound at most VALUE). Optuna's sampler is seeded and
trials run one after another, so a seed gives the same trials on any backend. Small spaces of whole
numbers are enumerated outright. The best feasible design is then re-run on fresh replications.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulation.experiment import ci95
from simulation.explore.backends import Backend, Batch, OnDone
from simulation.explore.space import Parameter
from simulation.explore.sweep import check_metric
from vaxdrill.core.errors import ParameterError
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.paths import NUMERIC, field, parse_path, with_values

SCHEMA = "vaxdrill.optimise/1"
_OPS = {">=": ">=", "≥": ">=", "<=": "<=", "≤": "<=", ">": ">=", "<": "<="}
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w.:-]*)\s*(>=|<=|≥|≤|>|<)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Constraint:
    metric: str
    op: str  # ">=" or "<="
    value: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"

    def bound(self, values: Sequence[float], confidence: float) -> float:
        """The one-sided bound of the mean that must meet :attr:`value`."""
        arr = np.asarray(values, dtype=float)
        mean = float(arr.mean())
        if arr.size < 2:
            return mean
        from scipy import stats

        half = float(stats.t.ppf(confidence, arr.size - 1)) * float(arr.std(ddof=1)) / math.sqrt(arr.size)
        return mean - half if self.op == ">=" else mean + half

    def violation(self, values: Sequence[float], confidence: float) -> float:
        """How far the bound misses the target (0 or less: met), as Optuna's constraints want it."""
        b = self.bound(values, confidence)
        return self.value - b if self.op == ">=" else b - self.value


def parse_constraint(text: str) -> Constraint:
    """``"attainment >= 95%"``, ``"wait_minutes.mean <= 30"``."""
    match = _CONSTRAINT.match(text)
    if not match:
        raise ParameterError(f'--subject-to "{text}": expected "METRIC OP VALUE", e.g. "wait_minutes.mean <= 30"')
    metric, op, value_text = match.groups()
    try:
        value = float(value_text[:-1]) / 100 if value_text.endswith("%") else float(value_text)
    except ValueError:
        raise ParameterError(f'--subject-to "{text}": expected a number or a share, found {value_text!r}') from None
    return Constraint(metric, _OPS[op], value)


def parse_objective(scenario: Scenario, text: str) -> list[str]:
    """``"a.staff + b.staff"``: paths whose values are summed (each must be a number)."""
    terms = [t.strip() for t in text.split("+")]
    for term in terms:
        if not term:
            raise ParameterError(f"--minimise {text}: expected a path or a sum of paths (a + b)")
        parse_path(term, "--minimise")
        if field(scenario, term, "--minimise").kind not in NUMERIC:
            raise ParameterError(f"--minimise {term}: not a number")
    return terms


@dataclass(frozen=True)
class Evaluated:
    design: tuple[Any, ...]
    objective: float
    metrics: dict[str, list[float]]
    violations: tuple[float, ...]

    @property
    def feasible(self) -> bool:
        return all(v <= 0 for v in self.violations)


def _json_value(p: Parameter, value: Any) -> int | float | str:
    if p.kind == "int":
        return int(value)
    if p.kind == "number":
        return float(value)
    return p.show(value)


def _intervals(metrics: dict[str, list[float]]) -> dict[str, Any]:
    return {m: ci95(v).as_json() for m, v in metrics.items()}


def run_optimise(
    scenario: Scenario,
    decide: Sequence[Parameter],
    objective: Sequence[str],
    constraints: Sequence[Constraint],
    policy: str,
    confidence: float,
    trials: int,
    replications: int,
    seed: int,
    backend: Backend,
    on_trial: OnDone | None = None,
) -> dict[str, Any]:
    """Search, re-check the best feasible design, and return the ``summary.json`` document."""
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    for p in decide:
        if p.low is None or p.high is None or p.kind not in NUMERIC:
            raise ParameterError(f"--decide {p.path}: expected a numeric range LO..HI")
    cache: dict[tuple[Any, ...], Evaluated] = {}
    history: list[Evaluated] = []
    checked: list[bool] = []

    def evaluate(design: tuple[Any, ...], first_replication: int = 0) -> Evaluated:
        variant = with_values(scenario, {p.path: v for p, v in zip(decide, design, strict=True)}, "--decide")
        results = backend.run(Batch([variant], replications, seed, (policy,), first_replication))
        if not checked:
            for c in constraints:
                check_metric(c.metric, sorted(results[0].totals[policy]), "--subject-to")
            checked.append(True)
        metrics = {c.metric: [t.totals[policy][c.metric] for t in results] for c in constraints}
        total = float(sum(float(field(variant, term).value) for term in objective))
        return Evaluated(design, total, metrics, tuple(c.violation(metrics[c.metric], confidence) for c in constraints))

    def suggest(trial: Any, p: Parameter) -> Any:
        assert p.low is not None and p.high is not None
        if p.kind == "int":
            return trial.suggest_int(p.path, int(p.low), int(p.high), step=int(p.step or 1))
        return round(trial.suggest_float(p.path, p.low, p.high, step=p.step), 6)

    def objective_fn(trial: Any) -> float:
        design = tuple(suggest(trial, p) for p in decide)
        if design not in cache:
            cache[design] = evaluate(design)
        result = cache[design]
        history.append(result)
        trial.set_user_attr("violations", list(result.violations))
        if on_trial:
            on_trial()
        return result.objective

    with warnings.catch_warnings():  # constraints and the brute-force sampler are "experimental" in Optuna
        warnings.simplefilter("ignore")
        sampler = _sampler(decide, trials, seed)
        study = optuna.create_study(direction="minimize", sampler=sampler)
        study.optimize(objective_fn, n_trials=trials, show_progress_bar=False)

    feasible = [i for i, e in enumerate(history) if e.feasible]
    best_i = min(feasible, key=lambda i: (history[i].objective, i)) if feasible else None
    recheck = None
    answer = f"No design tried meets {' and '.join(map(str, constraints))} with {confidence:.0%} confidence."
    best: dict[str, int | float | str] | None = None
    if best_i is not None:
        chosen = history[best_i]
        best = {p.path: _json_value(p, v) for p, v in zip(decide, chosen.design, strict=True)}
        fresh = evaluate(chosen.design, first_replication=replications)
        recheck = {"replications": replications, "feasible": fresh.feasible, "metrics": _intervals(fresh.metrics)}
        shown = ", ".join(f"{p.path} = {p.show(v)}" for p, v in zip(decide, chosen.design, strict=True))
        answer = (
            f"{shown} is the cheapest design found ({' + '.join(objective)} = {chosen.objective:g}) that meets "
            f"{' and '.join(map(str, constraints))} with {confidence:.0%} confidence"
        )
        answer += "; fresh replications confirm it." if fresh.feasible else "; fresh replications do NOT confirm it."
    return {
        "schema": SCHEMA,
        "scenario": scenario.name,
        "seed": seed,
        "replications": replications,
        "policy": policy,
        "minimise": " + ".join(objective),
        "subject_to": [str(c) for c in constraints],
        "confidence": confidence,
        "answer": answer,
        "best": best,
        "objective": history[best_i].objective if best_i is not None else None,
        "recheck": recheck,
        "pareto": pareto(history, constraints[0] if constraints else None),
        "trials": [
            {
                "number": i,
                "design": {p.path: _json_value(p, v) for p, v in zip(decide, e.design, strict=True)},
                "objective": e.objective,
                "feasible": e.feasible,
                "metrics": _intervals(e.metrics),
            }
            for i, e in enumerate(history)
        ],
    }


def designs(decide: Sequence[Parameter]) -> int | None:
    """How many designs a space of whole numbers holds (None: a continuous space)."""
    if not all(p.kind == "int" for p in decide):
        return None
    return math.prod(int((p.high or 0) - (p.low or 0)) // int(p.step or 1) + 1 for p in decide)


def planned_trials(decide: Sequence[Parameter], trials: int) -> int:
    """The trials that will run: a small space of whole numbers is tried whole, then the search stops."""
    size = designs(decide)
    return min(trials, size) if size is not None else trials


def _sampler(decide: Sequence[Parameter], trials: int, seed: int) -> Any:
    import optuna

    size = designs(decide)
    if size is not None and size <= trials:  # every design fits in the trials: try them all
        return optuna.samplers.BruteForceSampler(seed=seed)
    return optuna.samplers.TPESampler(
        seed=seed, constraints_func=lambda t: t.user_attrs.get("violations", [0.0]), n_startup_trials=min(10, trials)
    )


def pareto(history: Sequence[Evaluated], first: Constraint | None) -> list[int]:
    """Trials no other trial beats on both the objective and the first constrained metric."""
    if first is None:
        return []
    sign = -1.0 if first.op == ">=" else 1.0  # minimise both: a ">=" metric is better large

    def key(e: Evaluated) -> tuple[float, float]:
        return e.objective, sign * float(np.mean(e.metrics[first.metric]))

    points = [key(e) for e in history]
    front = []
    for i, (a, b) in enumerate(points):
        dominated = any(
            (c <= a and d <= b and (c < a or d < b)) or ((c, d) == (a, b) and j < i)
            for j, (c, d) in enumerate(points)
            if j != i
        )
        if not dominated:
            front.append(i)
    return front

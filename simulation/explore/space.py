"""The parameters a planner varies, and the points at which a sweep runs the scenario.

``--param PATH=VALUES`` names a field of the scenario (:mod:`vaxdrill.core.scenario.paths`) and its
values: a list (``15min,30min,60min``; ``exp(10s),exp(12s)``) or a range ``LO..HI`` with an
optional step (``15min..2h:15min``, ``1..4``; whole-number fields step by 1). A grid runs every
combination of the listed values; ``lhs`` and ``sobol`` draw ``--points`` points within the
ranges (SciPy's Latin hypercube and scrambled Sobol' sequence, seeded by the root seed).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from vaxdrill.core.errors import ParameterError
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.paths import NUMERIC, Kind, format_value, parse_value
from vaxdrill.core.scenario.paths import field as scenario_field

Sample = Literal["grid", "lhs", "sobol"]
MAX_GRID = 100_000


@dataclass(frozen=True)
class Parameter:
    """A varied field: its kind, and either listed values or a range (``low``..``high``)."""

    path: str
    kind: Kind
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    step: float | None = None
    baseline: Any = field(default=None, compare=False)

    def show(self, value: Any) -> str:
        return format_value(self.kind, value)

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC

    def grid(self) -> tuple[Any, ...]:
        if self.values:
            return self.values
        assert self.low is not None and self.high is not None
        step = self.step if self.step is not None else (1.0 if self.kind == "int" else None)
        if step is None:
            raise ParameterError(f"--param {self.path}: a grid needs a step, e.g. {self.path}=LO..HI:STEP")
        count = math.floor((self.high - self.low) / step + 1e-9) + 1
        return tuple(self._cast(self.low + i * step) for i in range(count))

    def _cast(self, value: float) -> Any:
        return round(value) if self.kind == "int" else round(value, 6)

    def at(self, unit: float) -> Any:
        """The value at ``unit`` in [0, 1) of the range (whole numbers: each equally likely)."""
        if self.values:
            return self.values[min(int(unit * len(self.values)), len(self.values) - 1)]
        assert self.low is not None and self.high is not None
        if self.kind == "int":
            return min(int(self.low + unit * (self.high - self.low + 1)), int(self.high))
        return self._cast(self.low + unit * (self.high - self.low))


def _split(text: str) -> list[str]:
    """Split at commas outside parentheses (``normal(4min, 30s),exp(1min)``)."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def parse_parameter(scenario: Scenario, spec: str, option: str = "--param", ranged: bool = False) -> Parameter:
    """``PATH=VALUES`` against ``scenario``; ``ranged``: only ``LO..HI`` is accepted."""
    path, sep, text = spec.partition("=")
    path, text = path.strip(), text.strip()
    if not sep or not path or not text:
        example = "PATH=LO..HI" if ranged else "PATH=VALUES (15min,30min or 15min..2h:15min)"
        raise ParameterError(f"{option} {spec}: expected {example}")
    target = scenario_field(scenario, path, option)
    kind = target.kind
    if ".." in text:
        if kind not in NUMERIC:
            raise ParameterError(f"{option} {path}: a range needs a number, duration, clock time or share field")
        low_text, _, rest = text.partition("..")
        high_text, _, step_text = rest.partition(":") if kind != "clock" else _clock_step(rest)
        low = float(parse_value(kind, low_text, path, option))
        high = float(parse_value(kind, high_text, path, option))
        if high <= low:
            raise ParameterError(f"{option} {path}: the range {text} must run from low to high")
        step = None
        if step_text:
            step_kind: Kind = "duration" if kind == "clock" else kind
            step = float(parse_value(step_kind, step_text, path, option))
            if step <= 0:
                raise ParameterError(f"{option} {path}: the step must be positive, found {step_text!r}")
        return Parameter(path, kind, low=low, high=high, step=step, baseline=target.value)
    if ranged:
        raise ParameterError(f"{option} {path}: expected a range LO..HI, found {text!r}")
    values = tuple(parse_value(kind, v, path, option) for v in _split(text))
    if len(set(map(str, values))) != len(values):
        raise ParameterError(f"{option} {path}: a value is listed twice in {text!r}")
    return Parameter(path, kind, values=values, baseline=target.value)


def _clock_step(rest: str) -> tuple[str, str, str]:
    """``09:00..12:00:30min``: a clock's own colon is not the step's."""
    head, sep, tail = rest.rpartition(":")
    if sep and any(ch.isalpha() for ch in tail):
        return head, sep, tail
    return rest, "", ""


def design(params: Sequence[Parameter], sample: Sample, points: int | None, seed: int) -> list[tuple[Any, ...]]:
    """The points of a sweep: one value per parameter, in a fixed order for a seed."""
    if not params:
        raise ParameterError("--param: give at least one parameter to vary")
    if sample == "grid":
        grids = [p.grid() for p in params]
        count = math.prod(len(g) for g in grids)
        if count > MAX_GRID:
            raise ParameterError(f"--param: the grid has {count} points; use --sample lhs or sobol with --points")
        return list(itertools.product(*grids))
    for p in params:
        if not p.values and not p.numeric:
            raise ParameterError(f"--param {p.path}: --sample {sample} needs a range or a list")
    n = points or 16
    from scipy.stats import qmc

    engine = qmc.LatinHypercube(d=len(params), seed=seed) if sample == "lhs" else qmc.Sobol(d=len(params), seed=seed)
    with warnings.catch_warnings():  # Sobol' warns when n is not a power of two; the planner chose n
        warnings.simplefilter("ignore", UserWarning)
        units = engine.random(n)
    return [tuple(p.at(float(u)) for p, u in zip(params, row, strict=True)) for row in units.tolist()]

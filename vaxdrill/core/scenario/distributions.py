"""Service-time and latency distributions, written the way the clinic-model papers write them.

A distribution is either a mapping (``{kind: exponential, mean: 1min, shift: 2min}``) or a short
string that reads like the papers (BRIEF.md section 3):

=========================================  ===============================================
``4min``                                   constant
``exp(1min)``                              exponential with mean 1 min
``2min + exp(1min)``                       shifted exponential (Hanly et al.: 2+Exp(mean 1))
``normal(4min, 30s)``                      normal(mean, sd), truncated at zero
``lognormal(3s, 2s)``                      lognormal with that mean and sd (not of the log)
``triangular(1min, 2min, 4min)``           low, mode, high
``uniform(1min, 3min)``                    low, high
``empirical(50s, 70s, 2min)``              resampled from the given observations
=========================================  ===============================================

Any kind takes a ``shift`` (``3min + normal(1min, 10s)``). Values are held in seconds.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, WithJsonSchema, model_serializer, model_validator

from vaxdrill.core.scenario.units import Duration, format_duration, parse_duration

Kind = Literal["constant", "exponential", "normal", "lognormal", "triangular", "uniform", "empirical"]

_ALIASES = {
    "exp": "exponential",
    "exponential": "exponential",
    "normal": "normal",
    "lognormal": "lognormal",
    "triangular": "triangular",
    "tri": "triangular",
    "uniform": "uniform",
    "empirical": "empirical",
}
_ARITY = {"exponential": 1, "normal": 2, "lognormal": 2, "triangular": 3, "uniform": 2}
_CALL = re.compile(r"^([a-z]+)\s*\((.*)\)$", re.DOTALL)


def _parse_text(text: str) -> dict[str, Any]:
    """Turn ``2min + exp(1min)`` into the mapping form."""
    shift = 0.0
    body = text.strip()
    if "+" in body and not body.startswith(("exp", "normal", "lognormal", "tri", "uniform", "empirical")):
        head, _, body = body.partition("+")
        shift = parse_duration(head)
        body = body.strip()
    match = _CALL.match(body.lower())
    if not match:
        return {"kind": "constant", "value": f"{parse_duration(body) + shift:.6f}s"}
    name, args_text = match.group(1), match.group(2)
    kind = _ALIASES.get(name)
    if kind is None:
        known = ", ".join(sorted(set(_ALIASES.values())))
        raise ValueError(f"unknown distribution {name!r}; known: {known}")
    # Kept as unit-bearing text so the model's Duration fields (which refuse bare numbers) accept them.
    args = [f"{parse_duration(a):.6f}s" for a in args_text.split(",") if a.strip()]
    want = _ARITY.get(kind)
    if want is not None and len(args) != want:
        raise ValueError(f"{kind} takes {want} value(s), found {len(args)} in {text!r}")
    spec: dict[str, Any] = {"kind": kind, "shift": f"{shift:.6f}s"}
    if kind == "exponential":
        spec["mean"] = args[0]
    elif kind in ("normal", "lognormal"):
        spec["mean"], spec["sd"] = args
    elif kind == "triangular":
        spec["low"], spec["mode"], spec["high"] = args
    elif kind == "uniform":
        spec["low"], spec["high"] = args
    else:
        if not args:
            raise ValueError("empirical needs at least one observation")
        spec["samples"] = args
    return spec


class Distribution(BaseModel):
    """A non-negative random duration, in seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind
    shift: Duration = 0.0
    value: Duration | None = None
    mean: Duration | None = None
    sd: Duration | None = None
    low: Duration | None = None
    mode: Duration | None = None
    high: Duration | None = None
    samples: tuple[Duration, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        if isinstance(data, str):
            return _parse_text(data)
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return {"kind": "constant", "value": f"{parse_duration(data):.6f}s"}
        return data

    @model_validator(mode="after")
    def _check(self) -> Distribution:
        need = {
            "constant": ("value",),
            "exponential": ("mean",),
            "normal": ("mean", "sd"),
            "lognormal": ("mean", "sd"),
            "triangular": ("low", "mode", "high"),
            "uniform": ("low", "high"),
            "empirical": ("samples",),
        }[self.kind]
        missing = [name for name in need if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} distribution needs {', '.join(missing)}")
        if self.kind == "exponential" and (self.mean or 0) <= 0:
            raise ValueError("an exponential distribution needs a mean above zero")
        if self.kind == "lognormal" and (self.mean or 0) <= 0:
            raise ValueError("a lognormal distribution needs a mean above zero")
        if self.kind == "triangular" and not (
            (self.low or 0) <= (self.mode or 0) <= (self.high or 0) and (self.low or 0) < (self.high or 0)
        ):
            raise ValueError("a triangular distribution needs low <= mode <= high and low < high")
        if self.kind == "uniform" and not (self.low or 0) < (self.high or 0):
            raise ValueError("a uniform distribution needs low < high")
        return self

    @model_serializer
    def _to_text(self) -> str:
        """Write the resolved form back in the short notation, so run.json reads like the input."""
        d = format_duration
        prefix = f"{d(self.shift)} + " if self.shift else ""
        if self.kind == "constant":
            return d((self.value or 0.0) + self.shift)
        if self.kind == "exponential":
            return f"{prefix}exp({d(self.mean or 0)})"
        if self.kind in ("normal", "lognormal"):
            return f"{prefix}{self.kind}({d(self.mean or 0)}, {d(self.sd or 0)})"
        if self.kind == "triangular":
            return f"{prefix}triangular({d(self.low or 0)}, {d(self.mode or 0)}, {d(self.high or 0)})"
        if self.kind == "uniform":
            return f"{prefix}uniform({d(self.low or 0)}, {d(self.high or 0)})"
        return f"{prefix}empirical({', '.join(d(s) for s in self.samples or ())})"

    def expected(self) -> float:
        """Mean in seconds (normal: the untruncated mean, close when mean >> sd)."""
        if self.kind == "constant":
            return (self.value or 0.0) + self.shift
        if self.kind in ("exponential", "normal", "lognormal"):
            return (self.mean or 0.0) + self.shift
        if self.kind == "triangular":
            return ((self.low or 0) + (self.mode or 0) + (self.high or 0)) / 3 + self.shift
        if self.kind == "uniform":
            return ((self.low or 0) + (self.high or 0)) / 2 + self.shift
        samples = self.samples or (0.0,)
        return sum(samples) / len(samples) + self.shift

    def sample(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        """Draw ``size`` values in seconds, all >= 0."""
        if self.kind == "constant":
            return np.full(size, (self.value or 0.0) + self.shift)
        if self.kind == "exponential":
            out = rng.exponential(self.mean or 0.0, size)
        elif self.kind == "normal":
            out = np.maximum(rng.normal(self.mean or 0.0, self.sd or 0.0, size), 0.0)
        elif self.kind == "lognormal":
            mean, sd = self.mean or 0.0, self.sd or 0.0
            sigma2 = math.log1p((sd / mean) ** 2)
            out = rng.lognormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2), size)
        elif self.kind == "triangular":
            out = rng.triangular(self.low or 0.0, self.mode or 0.0, self.high or 0.0, size)
        elif self.kind == "uniform":
            out = rng.uniform(self.low or 0.0, self.high or 0.0, size)
        else:
            out = rng.choice(np.asarray(self.samples, dtype=float), size)
        return np.asarray(out, dtype=float) + self.shift

    def scaled(self, factor: float) -> Distribution:
        """The same shape with every duration multiplied by ``factor`` (a degraded server)."""
        update: dict[str, Any] = {}
        for name in ("shift", "value", "mean", "sd", "low", "mode", "high"):
            value = getattr(self, name)
            if value is not None:
                update[name] = value * factor
        if self.samples is not None:
            update["samples"] = tuple(x * factor for x in self.samples)
        return self.model_copy(update=update)


def distribution_json_schema() -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "string", "description": "e.g. '4min', 'exp(1min)', '2min + exp(1min)', 'normal(4min, 30s)'"},
            {
                "type": "object",
                "properties": {"kind": {"enum": sorted(set(_ALIASES.values()) | {"constant"})}},
                "required": ["kind"],
            },
        ]
    }


Dist = Annotated[Distribution, WithJsonSchema(distribution_json_schema())]
"""A :class:`Distribution` field, documented in the JSON Schema as string or mapping."""

"""Sites that differ: a site parameter given as a distribution over sites (``per_site``).

Real districts are uneven: on launch day some centres vaccinated several times as many people
as others with similar targets. A site (or ``site_defaults``) may name any numeric field of the
site, by its path inside the site, and a distribution it is drawn from, once per site and
replication::

    site_defaults:
      per_site:
        stations.vaccination.service.mean: lognormal(1min, 30s)   # some vaccinators are slower
        arrivals.no_show: uniform(2%, 20%)
        stations.vaccination.staff: choice(1, 1, 2)
        booked: normal(100, 15)

Distributions: ``uniform(low, high)``, ``normal(mean, sd)``, ``lognormal(mean, sd)`` (of the value,
not its log), ``triangular(low, mode, high)`` and ``choice(a, b, ...)`` (equally likely values).
Arguments are written in the field's units (``30s``, ``20%``, ``2``). A draw is kept within the
field's bounds (a share in 0..1, at least one staff member) and rounded for whole-number fields.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import annotated_types
import numpy as np
from pydantic import BaseModel

from vaxdrill.core.errors import ParameterError
from vaxdrill.core.scenario.fieldpath import NUMERIC, Kind, Part, _kind_of, _walk, parse_path, parse_value
from vaxdrill.core.scenario.sites import Site

_CALL = re.compile(r"^\s*([a-z]+)\s*\((.*)\)\s*$", re.DOTALL)
_ARITY = {"uniform": 2, "normal": 2, "lognormal": 2, "triangular": 3}
KINDS = (*_ARITY, "choice")


@dataclass(frozen=True)
class Spread:
    """A site parameter's distribution over sites, resolved against the site's field."""

    path: str
    parts: tuple[Part, ...]
    kind: Kind
    dist: str
    args: tuple[float, ...]
    low: float
    high: float

    def draw(self, rng: np.random.Generator) -> float:
        a = self.args
        if self.dist == "uniform":
            x = rng.uniform(a[0], a[1])
        elif self.dist == "normal":
            x = rng.normal(a[0], a[1])
        elif self.dist == "lognormal":
            sigma2 = math.log1p((a[1] / a[0]) ** 2)
            x = rng.lognormal(math.log(a[0]) - sigma2 / 2, math.sqrt(sigma2))
        elif self.dist == "triangular":
            x = rng.triangular(a[0], a[1], a[2])
        else:
            x = a[int(rng.integers(len(a)))]
        x = min(max(float(x), self.low), self.high)
        return float(round(x)) if self.kind == "int" else x


def _bounds(meta: Any, kind: Kind) -> tuple[float, float]:
    low, high = -math.inf, math.inf
    if kind in ("duration", "clock"):
        low = 0.0
    if kind == "share":
        low, high = 0.0, 1.0
    for m in meta:
        if isinstance(m, annotated_types.Ge):
            low = max(low, float(m.ge))  # type: ignore[arg-type]
        elif isinstance(m, annotated_types.Gt):
            low = max(low, float(m.gt) + (1.0 if kind == "int" else 1e-9))  # type: ignore[arg-type]
        elif isinstance(m, annotated_types.Le):
            high = min(high, float(m.le))  # type: ignore[arg-type]
        elif isinstance(m, annotated_types.Lt):
            high = min(high, float(m.lt))  # type: ignore[arg-type]
    return low, high


def resolve(site: Site, path: str, text: str) -> Spread:
    """Check ``path: text`` against ``site`` (raises ParameterError naming what is wrong)."""
    option = "per_site"
    parts = parse_path(path, option)
    parent = _walk(site, parts[:-1], path, option)
    leaf = parts[-1]
    meta: Any = ()
    if isinstance(parent, BaseModel) and isinstance(leaf, str):
        fields = type(parent).model_fields
        if leaf not in fields:
            raise ParameterError(f"{option} {path}: {type(parent).__name__} has no `{leaf}`")
        info = fields[leaf]
        kind = _kind_of(info.annotation, info.metadata)
        meta = info.metadata
    else:
        kind = None
    if kind not in NUMERIC:
        raise ParameterError(f"{option} {path}: not a number, duration or share that can differ between sites")
    assert kind is not None
    match = _CALL.match(text)
    if not match or match.group(1) not in KINDS:
        raise ParameterError(
            f"{option} {path}: expected a distribution over sites such as uniform(a, b) or lognormal(mean, sd) "
            f"(known: {', '.join(KINDS)}), found {text!r}"
        )
    dist = match.group(1)
    args = tuple(float(parse_value(kind, a.strip(), path, option)) for a in match.group(2).split(",") if a.strip())
    want = _ARITY.get(dist)
    if (want is not None and len(args) != want) or not args:
        raise ParameterError(f"{option} {path}: {dist} takes {want or 'at least 1'} value(s), found {len(args)}")
    if dist == "lognormal" and args[0] <= 0:
        raise ParameterError(f"{option} {path}: a lognormal over sites needs a mean above zero")
    if dist in ("uniform", "triangular") and not args[0] <= args[-1]:
        raise ParameterError(f"{option} {path}: low must not be above high")
    low, high = _bounds(meta, kind)
    return Spread(path=path, parts=parts, kind=kind, dist=dist, args=args, low=low, high=high)


def spreads(site: Site) -> list[Spread]:
    """The site's ``per_site`` entries, resolved, in path order (a fixed order of draws)."""
    return [resolve(site, path, text) for path, text in sorted(site.per_site.items())]


def with_value(obj: Any, parts: tuple[Part, ...], value: Any) -> Any:
    """A copy of ``obj`` with the field at ``parts`` set (no re-validation: values are already bounded)."""
    if not parts:
        return value
    head, rest = parts[0], parts[1:]
    if isinstance(obj, BaseModel) and isinstance(head, str):
        return obj.model_copy(update={head: with_value(getattr(obj, head), rest, value)})
    if isinstance(obj, list) and isinstance(head, int):
        out = list(obj)
        out[head] = with_value(obj[head], rest, value)
        return out
    raise ParameterError(f"per_site: cannot set {parts}")  # resolve() has checked the path already

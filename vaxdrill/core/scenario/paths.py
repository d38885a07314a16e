"""Dotted paths into a scenario: read a field, or make a copy of the scenario with fields changed.

A path names a field the way the YAML file nests it, with list indices in brackets:
``server.outages[0].end``, ``policies.offline_after_30min.after``, ``sms.delivery``,
``sites[2].booked``. A path under ``site_defaults`` changes every site that takes the default
(a site that sets its own value keeps it), since the loader has already merged the defaults in.

Values are held in the scenario's units (seconds for durations, seconds after midnight for clock
times, a probability for shares) and written as people write them (``15min``, ``09:30``, ``90%``).
A changed scenario is validated by the loader's rules, so a bad value is reported against the
path: ``--param sms.delivery: expected a share such as 2% or 0.02, found 'abc'``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from vaxdrill.core.errors import ParameterError
from vaxdrill.core.scenario.distributions import Distribution
from vaxdrill.core.scenario.fieldpath import (
    NUMERIC,
    Kind,
    Part,
    _kind_of,
    _walk,
    format_value,
    parse_path,
    parse_value,
    show_path,
)
from vaxdrill.core.scenario.loader import _problem
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.sites import Site
from vaxdrill.core.scenario.spread import Spread, resolve

__all__ = [
    "NUMERIC",
    "Field",
    "Kind",
    "Part",
    "field",
    "format_value",
    "parse_path",
    "parse_value",
    "show_path",
    "with_values",
]


@dataclass(frozen=True)
class Field:
    """What a path points at: the kind of value it holds and its value in the scenario.

    For one number of a ``per_site`` distribution (``site_defaults.per_site.arrivals.no_show:high``),
    ``parts`` names the entry (``site_defaults.per_site`` and the key), ``spread`` is the entry
    resolved, and ``arg`` is the number's name.
    """

    path: str
    parts: tuple[Part, ...]
    kind: Kind
    value: Any
    spread: Spread | None = None
    arg: str = ""


_SPREAD_ARG = re.compile(r"^(?P<base>(?:.*\.)?per_site)\.(?P<key>[^:]+):(?P<arg>[A-Za-z_]+)$")
SPREAD_ARGS: dict[str, tuple[str, ...]] = {
    "uniform": ("low", "high"),
    "normal": ("mean", "sd"),
    "lognormal": ("mean", "sd"),
    "triangular": ("low", "mode", "high"),
}
"""The names of each ``per_site`` distribution's numbers, for paths such as ``...per_site.booked:sd``."""


def _root(scenario: Scenario, parts: tuple[Part, ...]) -> tuple[Any, tuple[Part, ...]]:
    if parts[0] == "site_defaults":
        return Site.model_validate({"name": "defaults", **scenario.site_defaults}), parts[1:]
    return scenario, parts


def _spread_field(scenario: Scenario, path: str, option: str) -> Field | None:
    """One number of a ``per_site`` distribution (``PATH.per_site.FIELD:ARG``), or None for other paths."""
    match = _SPREAD_ARG.match(path.strip())
    if match is None:
        return None
    base = parse_path(match["base"], option)
    obj, rest = _root(scenario, base)
    site = _walk(obj, rest[:-1], path, option)
    entries = _walk(obj, rest, path, option)
    key, arg = match["key"], match["arg"]
    if not isinstance(site, Site) or not isinstance(entries, Mapping):
        raise ParameterError(f"{option} {path}: per_site belongs to a site or to site_defaults")
    if key not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise ParameterError(f"{option} {path}: {match['base']} has no entry `{key}` (known: {known})")
    spread = resolve(site, key, entries[key])
    names = SPREAD_ARGS.get(spread.dist)
    if names is None or arg not in names:
        expected = ", ".join(names) if names else "none (a choice has no named numbers)"
        raise ParameterError(f"{option} {path}: {spread.dist}(...) has no `{arg}`; its numbers: {expected}")
    value = spread.args[names.index(arg)]
    return Field(path=path, parts=(*base, key), kind=spread.kind, value=value, spread=spread, arg=arg)


def _with_args(spread: Spread, values: Mapping[str, Any]) -> str:
    """The ``per_site`` text with the numbers named in ``values`` set: ``uniform(2%, 25%)``."""
    args = list(spread.args)
    for arg, value in values.items():
        args[SPREAD_ARGS[spread.dist].index(arg)] = value
    return f"{spread.dist}({', '.join(format_value(spread.kind, a) for a in args)})"


def field(scenario: Scenario, path: str, option: str = "--param") -> Field:
    """Resolve ``path`` in ``scenario``: its kind and current value (a section is refused)."""
    spread = _spread_field(scenario, path, option)
    if spread is not None:
        return spread
    parts = parse_path(path, option)
    obj, rest = _root(scenario, parts)
    if not rest:
        raise ParameterError(f"{option} {path}: name a field inside site_defaults")
    value = _walk(obj, rest, path, option)
    parent = _walk(obj, rest[:-1], path, option)
    leaf = rest[-1]
    kind: Kind | None
    if isinstance(parent, BaseModel) and isinstance(leaf, str):
        info = type(parent).model_fields[leaf]
        kind = _kind_of(info.annotation, info.metadata)
    else:
        kind = _kind_of(type(value))
    if kind is None:
        raise ParameterError(f"{option} {path}: a section or a yes/no field, not a value to vary")
    return Field(path=path, parts=parts, kind=kind, value=value)


def _as_data(kind: Kind, value: Any) -> Any:
    """``value`` as the scenario's YAML would hold it (durations keep sub-second precision)."""
    if kind == "duration":
        return f"{float(value):.6f}s"
    if kind == "clock":
        whole = round(float(value))
        return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    if kind == "share":
        return float(value)
    if kind == "int":
        return int(value)
    if kind == "number":
        return float(value)
    return value


def _put(data: Any, parts: Sequence[Part], value: Any, shown: str, option: str) -> None:
    node = data
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part) if isinstance(node, dict) else node[part]
        if nxt is None:
            if not isinstance(part, str):
                raise ParameterError(f"{option} {shown}: {show_path(parts[: i + 1])} is not set in this scenario")
            nxt = node[part] = {}
        elif isinstance(nxt, str) and isinstance(parts[i + 1], str) and parts[i + 1] in Distribution.model_fields:
            nxt = node[part] = _mapping(Distribution.model_validate(nxt))  # one number of a distribution
        node = nxt
    node[parts[-1]] = value


def _mapping(dist: Distribution) -> dict[str, Any]:
    """A distribution in its mapping form (``{kind, shift, mean}``), so one of its numbers can be set."""
    out: dict[str, Any] = {}
    for name, value in dict(dist).items():
        if value is None:
            continue
        if isinstance(value, float):
            value = f"{value:.6f}s"
        elif isinstance(value, tuple):
            value = [f"{v:.6f}s" for v in value]
        out[name] = value
    return out


def _put_spread(scenario: Scenario, data: dict[str, Any], target: Field, text: str, option: str) -> None:
    """Set a ``per_site`` entry's text; under ``site_defaults``, also in each site that took the default."""
    *base, key = target.parts
    if base[0] != "site_defaults":
        _put(data, target.parts, text, target.path, option)
        return
    _put(data["site_defaults"], target.parts[1:], text, target.path, option)
    before = scenario.site_defaults.get("per_site", {}).get(key)
    for i, site in enumerate(scenario.sites):
        if site.per_site.get(str(key)) == before:
            data["sites"][i].setdefault("per_site", {})[key] = text


def with_values(scenario: Scenario, values: Mapping[str, Any], option: str = "--param") -> Scenario:
    """A copy of ``scenario`` with each path set to its value, validated.

    A value is in the scenario's units (seconds, a probability) or text as a planner writes it (``15min``).
    """
    if not values:
        return scenario
    data = scenario.model_dump(mode="json")
    shown: dict[str, str] = {}
    spreads: dict[tuple[Part, ...], tuple[Field, dict[str, Any]]] = {}  # per_site entries, all numbers at once
    for path, value in values.items():
        target = field(scenario, path, option)
        if isinstance(value, str) and target.kind in NUMERIC:
            value = parse_value(target.kind, value, path, option)
        shown[path] = format_value(target.kind, value)
        encoded = _as_data(target.kind, value)
        if target.spread is not None:  # one number of a per_site distribution: set with its entry's others
            spreads.setdefault(target.parts, (target, {}))[1][target.arg] = value
        elif target.parts[0] == "site_defaults":
            rest = target.parts[1:]
            _put(data["site_defaults"], rest, copy.deepcopy(encoded), path, option)
            for i, site in enumerate(scenario.sites):
                try:
                    own = _walk(site, rest, path, option)
                except ParameterError:
                    continue  # the site has no such section (a station it does not run)
                if own == target.value:
                    _put(data["sites"][i], rest, copy.deepcopy(encoded), path, option)
        else:
            _put(data, target.parts, encoded, path, option)
    for target, args in spreads.values():
        assert target.spread is not None
        _put_spread(scenario, data, target, _with_args(target.spread, args), option)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problem = _problem(option, exc.errors()[0], {}, [])
        named = ", ".join(f"{p}={v}" for p, v in shown.items())
        for path in values:
            tail = show_path(parse_path(path)[1:]) if path.startswith("site_defaults.") else path
            if problem.path == tail or problem.path.endswith("." + tail):  # a site's copy of a default
                raise ParameterError(f"{option} {path}: {problem.message}") from None
        raise ParameterError(f"{option} {named}: {problem.path}: {problem.message}") from None

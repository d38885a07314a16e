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
import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ValidationError

from vaxdrill.core.errors import ParameterError
from vaxdrill.core.scenario.distributions import Distribution
from vaxdrill.core.scenario.loader import _problem
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.sites import Site
from vaxdrill.core.scenario.units import (
    format_clock,
    format_duration,
    parse_clock,
    parse_duration,
    parse_share,
)

Part = str | int
Kind = Literal["duration", "clock", "share", "int", "number", "text"]
NUMERIC: tuple[Kind, ...] = ("duration", "clock", "share", "int", "number")
_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_.:-]*?)((?:\[\d+\])*)$")
_PARSERS = {parse_duration: "duration", parse_clock: "clock", parse_share: "share"}


def parse_path(text: str, option: str = "--param") -> tuple[Part, ...]:
    """``server.outages[0].end`` -> ``("server", "outages", 0, "end")``."""
    parts: list[Part] = []
    # A policy's name may hold dots only if quoted in YAML; paths split on every dot.
    for token in text.strip().split("."):
        match = _TOKEN.fullmatch(token)
        if not token or not match:
            raise ParameterError(f"{option} {text}: not a path such as server.outages[0].end or sms.delivery")
        parts.append(match.group(1))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    return tuple(parts)


def show_path(parts: Sequence[Part]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Field:
    """What a path points at: the kind of value it holds and its value in the scenario."""

    path: str
    parts: tuple[Part, ...]
    kind: Kind
    value: Any


def _kind_of(annotation: Any, metadata: Sequence[Any] = ()) -> Kind | None:
    """The kind of value a field annotation holds (None: a section, not a settable value)."""
    for meta in metadata:  # pydantic moves a field's own Annotated metadata here
        if isinstance(meta, BeforeValidator) and meta.func in _PARSERS:
            return typing.cast(Kind, _PARSERS[meta.func])
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        for meta in typing.get_args(annotation)[1:]:
            if isinstance(meta, BeforeValidator) and meta.func in _PARSERS:
                return typing.cast(Kind, _PARSERS[meta.func])
        return _kind_of(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        kinds = [_kind_of(a) for a in typing.get_args(annotation) if a is not type(None)]
        return kinds[0] if kinds else None
    if origin is Literal or annotation in (str, Distribution):
        return "text"
    if annotation is bool:
        return None
    if annotation is int:
        return "int"
    if annotation is float:
        return "number"
    return None


def _root(scenario: Scenario, parts: tuple[Part, ...]) -> tuple[Any, tuple[Part, ...]]:
    if parts[0] == "site_defaults":
        return Site.model_validate({"name": "defaults", **scenario.site_defaults}), parts[1:]
    return scenario, parts


def _walk(obj: Any, parts: Sequence[Part], shown: str, option: str) -> Any:
    for i, part in enumerate(parts):
        here = show_path(parts[:i]) or "the scenario"
        if isinstance(obj, BaseModel) and isinstance(part, str):
            fields = type(obj).model_fields
            if part not in fields:
                close = difflib.get_close_matches(part, list(fields), n=1, cutoff=0.6)
                hint = f"; did you mean `{close[0]}`?" if close else f"; known: {', '.join(fields)}"
                raise ParameterError(f"{option} {shown}: {here} has no `{part}`{hint}")
            obj = getattr(obj, part)
        elif isinstance(obj, Mapping) and isinstance(part, str):
            if part not in obj:
                known = ", ".join(map(str, obj)) or "none"
                raise ParameterError(f"{option} {shown}: {here} has no `{part}` (known: {known})")
            obj = obj[part]
        elif isinstance(obj, (list, tuple)) and isinstance(part, int):
            if part >= len(obj):
                raise ParameterError(f"{option} {shown}: {here} has {len(obj)} item(s), no [{part}]")
            obj = obj[part]
        elif obj is None:
            raise ParameterError(f"{option} {shown}: {here} is not set in this scenario")
        else:
            raise ParameterError(f"{option} {shown}: {here} is not a list or a section, cannot take `{part}`")
    return obj


def field(scenario: Scenario, path: str, option: str = "--param") -> Field:
    """Resolve ``path`` in ``scenario``: its kind and current value (a section is refused)."""
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


def parse_value(kind: Kind, text: str, path: str, option: str = "--param") -> Any:
    """A value as written (``15min``, ``09:30``, ``90%``, ``3``) in the scenario's units."""
    try:
        if kind == "duration":
            return parse_duration(text)
        if kind == "clock":
            return parse_clock(text)
        if kind == "share":
            return parse_share(text)
        if kind == "int":
            return int(text)
        if kind == "number":
            return float(text)
        return text.strip()
    except ValueError as exc:
        message = str(exc)
        if kind == "int":
            message = f"expected a whole number, found {text!r}"
        elif kind == "number":
            message = f"expected a number, found {text!r}"
        raise ParameterError(f"{option} {path}: {message}") from None


def format_value(kind: Kind, value: Any) -> str:
    """A value as a planner writes it: ``45min``, ``09:30``, ``90%``, ``3``."""
    if kind == "duration":
        return format_duration(round(float(value), 3))
    if kind == "clock":
        return format_clock(float(value))
    if kind == "share":
        return f"{float(value) * 100:g}%"
    if kind == "int":
        return str(int(value))
    if kind == "number":
        return f"{float(value):g}"
    return str(value)


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
        node = nxt
    node[parts[-1]] = value


def with_values(scenario: Scenario, values: Mapping[str, Any], option: str = "--param") -> Scenario:
    """A copy of ``scenario`` with each path set to its value, validated.

    A value is in the scenario's units (seconds, a probability) or text as a planner writes it (``15min``).
    """
    if not values:
        return scenario
    data = scenario.model_dump(mode="json")
    shown: dict[str, str] = {}
    for path, value in values.items():
        target = field(scenario, path, option)
        if isinstance(value, str) and target.kind in NUMERIC:
            value = parse_value(target.kind, value, path, option)
        shown[path] = format_value(target.kind, value)
        encoded = _as_data(target.kind, value)
        if target.parts[0] == "site_defaults":
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

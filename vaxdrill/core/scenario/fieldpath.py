"""Dotted paths to fields of scenario models: parse them, walk them, and read and write values.

The part of :mod:`vaxdrill.core.scenario.paths` that needs no loader, so site-level modules
(``per_site`` spreads, :mod:`vaxdrill.core.scenario.spread`) can use it without an import cycle.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Union

from pydantic import BaseModel, BeforeValidator

from vaxdrill.core.errors import ParameterError
from vaxdrill.core.scenario.distributions import Distribution
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

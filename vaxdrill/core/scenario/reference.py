"""The scenario file's field reference (``docs/scenarios.md``), generated from the models.

Every section of a scenario (sites, stations, connectivity, outages, policies, load, SLOs, faults)
is a pydantic model; this walks them from :class:`~vaxdrill.core.scenario.model.Scenario` and
writes one table per model: field, type, default, unit, what it means and where the default comes
from. ``vaxdrill schema --reference docs/scenarios.md`` regenerates the page; a test keeps it equal
to what this module writes.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.units import format_duration

# Where a default comes from when the model names it (docstring or description); else vaxdrill's own.
_SOURCES = ("MoHFW", "Hanly", "Co-WIN", "WHO", "k6", "AWS", "gRPC", "Gunther", "Raigad", "CoWIN")


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """``root`` and every model reachable from its fields, in first-seen order."""
    seen: list[type[BaseModel]] = []

    def visit(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp in seen:
                return
            seen.append(tp)
            for field in tp.model_fields.values():
                visit(field.annotation)
            return
        for arg in typing.get_args(tp):
            visit(arg)

    visit(root)
    return seen


DURATION, SHARE, CLOCK = "duration (`90s`, `30min`, `4h`)", "share (`5%` or `0.05`)", "clock time (`HH:MM`)"


def _unit(prop: dict[str, Any]) -> str:
    pattern = str(prop.get("pattern", ""))
    if "ms|sec|min" in pattern:
        return DURATION
    if pattern.endswith("%$"):
        return SHARE
    if "[0-5]" in pattern and ":" in pattern:
        return CLOCK
    if "exp(" in str(prop.get("description", "")):
        return "distribution (`exp(1min)`, `2min + exp(1min)`)"
    return ""


def _prop_unit(prop: dict[str, Any]) -> str:
    unit = _unit(prop)
    for option in prop.get("anyOf", []):
        unit = unit or _unit(option)
    items = prop.get("items")
    if not unit and isinstance(items, dict):
        unit = _unit(items)
    return unit


def _type_text(annotation: Any) -> str:
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_text(a) for a in args)
    if origin is typing.Literal:
        return " / ".join(f"`{a}`" for a in args)
    if origin is typing.Annotated:
        return _type_text(args[0])
    if origin in (list, tuple):
        return f"list of {_type_text(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {_type_text(args[0])} to {_type_text(args[1])}" if args else "map"
    return getattr(annotation, "__name__", str(annotation))


def _default_text(field: FieldInfo, unit: str = "") -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and unit in (DURATION, SHARE, CLOCK):
        if unit == DURATION:
            return f"`{format_duration(float(value))}`"
        if unit == SHARE:
            return f"`{100 * float(value):g}%`"
        return f"`{int(value) // 3600:02d}:{int(value) % 3600 // 60:02d}`"
    if isinstance(value, BaseModel):
        dumped = value.model_dump(mode="json", exclude_defaults=False)
        if not isinstance(dumped, dict):
            return f"`{dumped}`"
        text = ", ".join(f"{k}: {v}" for k, v in dumped.items() if v not in (None, [], {}, ""))
        return f"{{{text}}}" if len(text) < 60 else f"its defaults ({type(value).__name__})"
    if value is None:
        return "none"
    if value in ([], {}, ""):
        return "empty"
    if isinstance(value, list) and all(isinstance(v, BaseModel) for v in value):
        return f"`{[v.model_dump(mode='json') for v in value]}`"
    return f"`{value}`"


def _source(model: type[BaseModel], field: FieldInfo) -> str:
    for text in (field.description or "", model.__doc__ or ""):
        for name in _SOURCES:
            if name in text:
                return name + (" (model docstring)" if text == model.__doc__ else "")
    return "vaxdrill's default"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_reference() -> str:
    """The whole reference page as Markdown."""
    lines = [
        "# Scenario file reference",
        "",
        "Generated from the scenario models (`vaxdrill/core/scenario/`) by `vaxdrill schema --reference",
        "docs/scenarios.md`; a test keeps this page in sync. Units: durations as `90s`, `30min`, `4h`",
        "(seconds inside); shares as `5%` or `0.05`; clock times `HH:MM`; distributions such as `exp(1min)`,",
        "`2min + exp(1min)`, `lognormal(2s, 1s)`. The JSON Schema for editors: `scenarios/scenario.schema.json`.",
        "",
    ]
    for model in _models(Scenario):
        schema = model.model_json_schema(mode="validation")
        props = schema.get("properties", {})
        lines += [f"## {model.__name__}", ""]
        if model.__doc__:
            lines += [_cell(model.__doc__), ""]
        lines += ["| field | type | default | unit | meaning | source of the default |", "|---|---|---|---|---|---|"]
        for name, field in model.model_fields.items():
            key = field.alias or name
            prop = props.get(key, {})
            unit = _prop_unit(prop)
            kind = _type_text(field.annotation)
            if unit:  # durations, shares and clock times are written as text, held as numbers
                kind = unit.split(" (")[0] + (" or null" if "null" in kind else "")
            row = [f"`{key}`", kind, _default_text(field, unit), unit,
                   field.description or "", _source(model, field)]  # fmt: skip
            lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
        lines.append("")
    return "\n".join(lines)

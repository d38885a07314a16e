"""Read a scenario file: YAML with line numbers, site defaults and CSV sites, clear errors.

Errors name the file, the field path, the line (where the YAML parser knows it), what was
expected and what was found; a misspelt key gets the nearest known one suggested.
"""

from __future__ import annotations

import copy
import csv
import difflib
import types
import typing
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError

from vaxdrill.core.errors import Problem, ScenarioError
from vaxdrill.core.scenario.bounds import BoundedLoader, check_expansion, check_size
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.sites import Site

Loc = tuple[str | int, ...]
_RULES = {
    "wait",
    "offline_after",
    "offline_at",
    "offline_first",
    "offline_when_queue",
    "offline_when_slow",
    "district_order",
}


def _construct(node: yaml.Node, path: Loc, lines: dict[Loc, int], loader: yaml.SafeLoader) -> Any:
    """Build plain Python data from a YAML node, remembering the line of every path."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, (dict, list)):
                raise ScenarioError(
                    [Problem("", _dotted(path), "a key must be plain text", key_node.start_mark.line + 1)]
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, (*path, key), lines, loader)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, (*path, i), lines, loader) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _read_yaml(path: Path, shown: str) -> tuple[Any, dict[Loc, int]]:
    check_size(path, shown)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([Problem(shown, "", "no such file")]) from None
    except IsADirectoryError:
        raise ScenarioError([Problem(shown, "", "is a folder, expected a scenario YAML file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(shown, "", f"cannot be read: {exc}")]) from None
    loader = BoundedLoader(text)
    lines: dict[Loc, int] = {}
    try:
        node = loader.get_single_node()
        if node is not None:
            check_expansion(node)
        data = None if node is None else _construct(node, (), lines, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ScenarioError([Problem(shown, "", f"not valid YAML: {exc.problem or exc}", line)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(shown, "", f"not valid YAML: {exc}")]) from None
    except ScenarioError as exc:
        raise ScenarioError([Problem(shown, p.path, p.message, p.line) for p in exc.problems]) from None
    finally:
        loader.dispose()
    return data, lines


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _csv_sites(csv_path: Path, shown: str) -> list[dict[str, Any]]:
    """Each row a site; a header such as ``arrivals.no_show`` fills a nested field."""
    check_size(csv_path, shown, "sites_csv")
    try:
        with csv_path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise ScenarioError([Problem(shown, "sites_csv", f"cannot read the sites CSV: {exc}")]) from None
    sites: list[dict[str, Any]] = []
    for row in rows:
        site: dict[str, Any] = {}
        for header, cell in row.items():
            if header is None or cell is None or cell.strip() == "":
                continue
            target = site
            *parents, leaf = header.strip().split(".")
            for part in parents:
                target = target.setdefault(part, {})
            target[leaf] = cell.strip()
        sites.append(site)
    return sites


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class that owns the last key of ``loc`` (for 'did you mean' suggestions)."""
    current: Any = Scenario
    if loc and loc[0] == "site_defaults":
        current, loc = Site, loc[1:]
    for part in loc[:-1]:
        current = _step(current, part)
        if current is None:
            return None
    current = _unwrap(current, loc[-1] if loc else None)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any, hint: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            tagged = [
                m
                for m in members
                if isinstance(m, type)
                and issubclass(m, BaseModel)
                and "rule" in m.model_fields
                and hint in typing.get_args(m.model_fields["rule"].annotation)
            ]
            tp = tagged[0] if tagged else members[0]
        else:
            return tp


def _step(tp: Any, part: str | int) -> Any:
    tp = _unwrap(tp, part)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        if isinstance(part, str) and part in tp.model_fields:
            return tp.model_fields[part].annotation
        return tp  # a discriminator tag segment such as 'offline_after'
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (list, tuple) and isinstance(part, int):
        return args[0]
    if origin is dict and args:
        return args[1]
    return None


def _problem(shown: str, err: Any, lines: dict[Loc, int], origins: list[tuple[str, int] | None]) -> Problem:
    loc: Loc = tuple(err["loc"])
    # pydantic puts the discriminator tag into the location of a policy's fields; drop it.
    data_loc: Loc = ()
    for part in loc:
        if len(data_loc) == 2 and data_loc[0] == "policies" and part in _RULES:
            continue
        data_loc = (*data_loc, part)
    file, line = shown, None
    probe = data_loc
    while probe:
        if probe in lines:
            line = lines[probe]
            break
        probe = probe[:-1]
    if len(data_loc) >= 2 and data_loc[0] == "sites" and isinstance(data_loc[1], int):
        # A merged site: inline sites keep their YAML lines; CSV sites point at their row.
        index = data_loc[1]
        origin = origins[index] if index < len(origins) else None
        if origin is not None:
            file, line = origin
    kind = err["type"]
    found = err.get("input")
    if kind == "extra_forbidden":
        model = _model_at(loc)
        known = list(model.model_fields) if model else []
        key = str(data_loc[-1]) if data_loc else ""
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"; did you mean `{close[0]}`?" if close else (f"; known keys: {', '.join(known)}" if known else "")
        return Problem(file, _dotted(data_loc), f"unknown key `{key}`{hint}", line)
    if kind == "missing":
        return Problem(file, _dotted(data_loc), "required field is missing", line)
    message = str(err["msg"]).removeprefix("Value error, ").replace("Input should be", "expected")
    if kind == "union_tag_invalid" or kind == "union_tag_not_found":
        message = f"expected `rule` to be one of {err.get('ctx', {}).get('expected_tags', 'the known rules')}"
    shown_input = repr(found) if not isinstance(found, (dict, list)) else type(found).__name__
    if "found" not in message and not isinstance(found, dict):
        message = f"{message} (found {shown_input})"
    return Problem(file, _dotted(data_loc), message, line)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raise :class:`ScenarioError` with every problem found."""
    path = Path(path)
    shown = str(path)
    data, lines = _read_yaml(path, shown)
    if data is None:
        raise ScenarioError([Problem(shown, "", "is empty; expected a scenario with at least `name`")])
    if not isinstance(data, dict):
        raise ScenarioError(
            [Problem(shown, "", f"expected a mapping of scenario sections, found {type(data).__name__}", 1)]
        )

    defaults = data.get("site_defaults") or {}
    if not isinstance(defaults, dict):
        raise ScenarioError(
            [Problem(shown, "site_defaults", "expected a mapping of site fields", lines.get(("site_defaults",)))]
        )
    if defaults:
        try:
            Site.model_validate({"name": "defaults", **defaults})
        except ValidationError as exc:
            raise ScenarioError(
                [_problem(shown, {**e, "loc": ("site_defaults", *e["loc"])}, lines, []) for e in exc.errors()]
            ) from None

    sites_raw = data.get("sites") or []
    if not isinstance(sites_raw, list):
        raise ScenarioError([Problem(shown, "sites", "expected a list of sites", lines.get(("sites",)))])
    origins: list[tuple[str, int] | None] = [None] * len(sites_raw)
    if data.get("sites_csv"):
        csv_path = path.parent / str(data["sites_csv"])
        from_csv = _csv_sites(csv_path, shown)
        origins += [(str(csv_path), row + 2) for row in range(len(from_csv))]
        sites_raw = [*sites_raw, *from_csv]
    data = {
        **data,
        "site_defaults": defaults,
        "sites": [_deep_merge(defaults, s) if isinstance(s, dict) else s for s in sites_raw],
    }

    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError([_problem(shown, e, lines, origins) for e in exc.errors()]) from None

    problems = []
    for i, site in enumerate(scenario.sites):
        if site.policy is not None and site.policy not in scenario.policies:
            known = ", ".join(scenario.policies) or "none defined"
            close = difflib.get_close_matches(site.policy, list(scenario.policies), n=1)
            hint = f"; did you mean `{close[0]}`?" if close else ""
            origin = origins[i]
            file, line = origin if origin is not None else (shown, lines.get(("sites", i, "policy")))
            problems.append(
                Problem(file, f"sites[{i}].policy", f"unknown policy `{site.policy}` (policies: {known}){hint}", line)
            )
    problems += _spread_problems(scenario, shown, lines, origins)
    if problems:
        raise ScenarioError(problems)
    if scenario.server.profile is not None:
        scenario = _with_profile(scenario, path, shown, lines)
    return scenario


def _spread_problems(
    scenario: Scenario, shown: str, lines: dict[Loc, int], origins: list[tuple[str, int] | None]
) -> list[Problem]:
    """Each site's ``per_site`` paths and distributions, checked against the site (first problem per site)."""
    from vaxdrill.core.errors import ParameterError
    from vaxdrill.core.scenario.spread import spreads

    problems = []
    for i, site in enumerate(scenario.sites):
        if not site.per_site:
            continue
        try:
            spreads(site)
        except ParameterError as exc:
            origin = origins[i]
            file, line = origin if origin is not None else (shown, lines.get(("sites", i, "per_site")))
            problems.append(Problem(file, f"sites[{i}]", str(exc), line))
    return problems


def _with_profile(scenario: Scenario, path: Path, shown: str, lines: dict[Loc, int]) -> Scenario:
    """Resolve ``server.profile`` against the scenario's folder and check it is a valid profile."""
    from vaxdrill.core.errors import ProfileError
    from vaxdrill.core.profile import read_profile

    server = scenario.server
    assert server.profile is not None
    resolved = Path(server.profile)
    if not resolved.is_absolute():
        resolved = path.parent / resolved
    try:
        profile = read_profile(resolved)
    except ProfileError as exc:
        raise ScenarioError(
            [Problem(shown, "server.profile", f"not a usable server profile: {exc}", lines.get(("server", "profile")))]
        ) from None
    if not server.load and not profile.day_load and profile.knee_rps is None:
        raise ScenarioError(
            [
                Problem(
                    shown,
                    "server.load",
                    "the profile has neither `day_load` nor `knee_rps`; give the offered load as server.load",
                    lines.get(("server", "profile")),
                )
            ]
        )
    return scenario.model_copy(update={"server": server.model_copy(update={"profile": str(resolved.resolve())})})

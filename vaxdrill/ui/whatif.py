"""A what-if: the planner's changes to a scenario, held as the page's query string.

Every key is optional; a key left out (or empty) keeps the scenario as written, so a URL names only
what the planner changed and reproduces it exactly (same scenario, seed and replications give the
same random numbers):

===========================  ==============================================================
``scenario``                 a shipped scenario's name, or a YAML file's path
``seed``, ``replications``   the root seed and the replications per policy
``outage_start``             start of the central server's (first) scripted outage, ``10:00``
``outage_length``            its length, ``90min``; ``0s`` removes it
``link.<i>``                 site *i*'s link availability: ``100%`` never fails, ``0%`` never
                             up; in between a failure process whose long-run up share is that
                             (exponential time between failures, the site's repair time)
``rule``, ``rule_time``      a policy ``what_if`` added to the scenario's: ``offline_after``
                             (``rule_time`` a duration), ``offline_at`` (a clock time),
                             ``offline_when_queue`` (people waiting), ``district_order`` (the
                             number of failed sites that triggers the order), ``offline_first``,
                             ``wait``
``order_delay``              ``district_order``: mean time for the order to reach a site
                             (exponential, drawn per site; 30min when left out: an assumption)
``staff.<station>``          staff at that station, every site that has it
``sms``                      SMS delivery while the server is up (``sms.delivery``)
``no_show``,                 no-show rates of every site, with and without the reminder SMS
``no_show_without_sms``
``turnout``                  share of the booked who come at every site (with the SMS; replaces
                             1 - no_show, scenario field ``arrivals.turnout``)
===========================  ==============================================================

Plain fields change through :func:`vaxdrill.core.scenario.paths.with_values` (the dotted paths
sweeps use); the outage, the links and the added policy change the scenario's structure and are
validated by the scenario model, so a bad value is one line naming its key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from pydantic import ValidationError

from vaxdrill.core.errors import ParameterError
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.paths import Kind, format_value, parse_value, with_values
from vaxdrill.core.scenario.sites import Site

OPTION = "what-if"
STATIONS = ("entry", "verification", "vaccination", "recording")
RULES = ("offline_after", "offline_at", "offline_when_queue", "district_order", "offline_first", "wait")
WHAT_IF = "what_if"
"""The name of the policy the switch-rule control adds."""
DEFAULT_REPAIR = "exp(30min)"
"""Repair time of a link given a reliability when the scenario has no failure process for it."""
DAY_END = 24 * 3600.0 - 1
DEFAULT_ORDER_DELAY = 1800.0
"""Mean delay of a district order reaching a site when the page does not say (an assumption)."""

_FIXED: dict[str, Kind] = {
    "seed": "int",
    "replications": "int",
    "outage_start": "clock",
    "outage_length": "duration",
    "rule": "text",
    "rule_time": "text",
    "order_delay": "duration",
    "sms": "share",
    "no_show": "share",
    "no_show_without_sms": "share",
    "turnout": "share",
    **{f"staff.{s}": "int" for s in STATIONS},
}


def kind_of(key: str) -> Kind | None:
    """The kind of value a query key holds; None for an unknown key."""
    if key in _FIXED:
        return _FIXED[key]
    head, _, index = key.partition(".")
    return "share" if head == "link" and index.isdigit() else None


@dataclass(frozen=True)
class WhatIf:
    """A scenario argument and the changed values, as text, in a fixed order (the cache key)."""

    scenario: str
    values: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_query(cls, query: Mapping[str, str], default_scenario: str) -> WhatIf:
        """Read the page's query string; unknown keys are an error, empty ones are left out."""
        unknown = [k for k in query if k != "scenario" and kind_of(k) is None]
        if unknown:
            raise ParameterError(
                f"{OPTION} {unknown[0]}: not a control of this page (known: {', '.join(_FIXED)}, link.<i>)"
            )
        values = tuple(sorted((k, v.strip()) for k, v in query.items() if k != "scenario" and v.strip()))
        return cls(query.get("scenario", "").strip() or default_scenario, values)

    def get(self, key: str) -> str | None:
        return dict(self.values).get(key)

    def query(self, **extra: str) -> str:
        """The query string that reproduces this what-if (with ``extra`` keys added)."""
        return urlencode([("scenario", self.scenario), *self.values, *extra.items()])

    def without_changes(self) -> WhatIf:
        """The scenario as written, run with this what-if's seed and replications."""
        keep = {"seed", "replications"}
        return WhatIf(self.scenario, tuple((k, v) for k, v in self.values if k in keep))


def _parsed(key: str, text: str) -> Any:
    kind = kind_of(key)
    assert kind is not None
    value = parse_value(kind, text, key, OPTION)
    if kind == "int" and value < (0 if key == "seed" else 1):
        raise ParameterError(f"{OPTION} {key}: expected a whole number of at least 1, found {text!r}")
    return value


def apply(written: Scenario, what: WhatIf) -> Scenario:
    """The scenario with the what-if's changes, validated."""
    parsed = {key: _parsed(key, text) for key, text in what.values}
    for key in parsed:
        if key.startswith("link.") and int(key[5:]) >= len(written.sites):
            raise ParameterError(f"{OPTION} {key}: the scenario has {len(written.sites)} site(s), no site {key[5:]}")
    paths: dict[str, Any] = {}
    for key in ("seed", "replications"):
        if key in parsed:
            paths[key] = parsed[key]
    if "sms" in parsed:
        paths["sms.delivery"] = parsed["sms"]
    for i, site in enumerate(written.sites):
        for key in ("no_show", "no_show_without_sms", "turnout"):
            if key in parsed:
                paths[f"sites[{i}].arrivals.{key}"] = parsed[key]
        for station in STATIONS:
            if f"staff.{station}" in parsed and getattr(site.stations, station) is not None:
                paths[f"sites[{i}].stations.{station}.staff"] = parsed[f"staff.{station}"]
    scenario = with_values(written, paths, OPTION)
    data = scenario.model_dump(mode="json")
    _outage(data, scenario, parsed)
    for i, site in enumerate(scenario.sites):
        if f"link.{i}" in parsed:
            data["sites"][i]["connectivity"] = _link(site, parsed[f"link.{i}"])
    if "order_delay" in parsed and parsed.get("rule") != "district_order":
        raise ParameterError(f"{OPTION} order_delay: only with rule district_order")
    if "rule" in parsed or "rule_time" in parsed:
        delay = float(parsed.get("order_delay", DEFAULT_ORDER_DELAY))
        data["policies"][WHAT_IF] = _policy(str(parsed.get("rule", "")), what.get("rule_time"), delay)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise ParameterError(f"{OPTION}: {where}: {error['msg']}") from None


def _outage(data: dict[str, Any], scenario: Scenario, parsed: Mapping[str, Any]) -> None:
    if "outage_start" not in parsed and "outage_length" not in parsed:
        return
    outages = data["server"]["outages"]
    first = scenario.server.outages[0] if scenario.server.outages else None
    start = parsed.get("outage_start", first.start if first else min(s.opens for s in scenario.sites))
    length = parsed.get("outage_length", (first.end - first.start) if first else 3600.0)
    if length <= 0:
        del outages[:1]
        return
    window = {
        "start": _clock(start),
        "end": _clock(min(start + length, DAY_END)),
        "state": first.state if first else "down",
    }
    if first:
        outages[0] = window
    else:
        outages.append(window)


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def _link(site: Site, up_share: float) -> dict[str, Any]:
    """A link that is up ``up_share`` of the time in the long run: MTBF / (MTBF + MTTR) = share."""
    if up_share >= 1.0:
        return {"outages": [], "failures": None}
    if up_share <= 0.0:
        return {"outages": [{"start": "00:00", "end": _clock(DAY_END), "state": "down"}], "failures": None}
    failures = site.connectivity.failures
    repair = failures.time_to_repair.model_dump(mode="json") if failures else DEFAULT_REPAIR
    mean_repair = failures.time_to_repair.expected() if failures else 1800.0
    between = mean_repair * up_share / (1.0 - up_share)
    return {"outages": [], "failures": {"time_between_failures": f"exp({between:.0f}s)", "time_to_repair": repair}}


def _policy(rule: str, time_text: str | None, order_delay: float) -> dict[str, Any]:
    if rule not in RULES:
        raise ParameterError(f"{OPTION} rule: expected one of {', '.join(RULES)}, found {rule!r}")
    needs: dict[str, tuple[str, Kind, str]] = {
        "offline_after": ("after", "duration", "an outage length such as 30min"),
        "offline_at": ("at", "clock", "a clock time such as 13:30"),
        "offline_when_queue": ("queue_length", "int", "a number of people waiting such as 10"),
        "district_order": ("sites_failed", "int", "a number of failed sites such as 2"),
    }
    policy: dict[str, Any] = {"rule": rule, "description": "the what-if's switch rule"}
    if rule in needs:
        name, kind, example = needs[rule]
        if not time_text:
            raise ParameterError(f"{OPTION} rule_time: {rule} needs {example}")
        value = parse_value(kind, time_text, "rule_time", OPTION)
        policy[name] = _clock(value) if kind == "clock" else f"{value:g}s" if kind == "duration" else value
    if rule == "district_order":
        if order_delay <= 0:
            raise ParameterError(f"{OPTION} order_delay: expected a duration above 0s, found {order_delay:g}s")
        policy["delay"] = f"exp({order_delay:g}s)"
    return policy


# -- what the controls show ------------------------------------------------------------------------
def link_text(site: Site) -> str:
    """A site's link as written, in words, with its long-run up share where it has a failure process."""
    c = site.connectivity
    parts = [f"down {format_value('clock', w.start)}-{format_value('clock', w.end)}" for w in c.outages]
    if c.failures:
        up, repair = c.failures.time_between_failures.expected(), c.failures.time_to_repair.expected()
        parts.append(
            f"fails every {format_value('duration', up)} on average, repaired in {format_value('duration', repair)} "
            f"(up {up / (up + repair):.1%})"
        )
    return "; ".join(parts) or "never fails"


def written_values(scenario: Scenario) -> dict[str, str]:
    """Each control's value in the scenario as written (the placeholder of its field)."""
    first = scenario.server.outages[0] if scenario.server.outages else None
    out = {
        "seed": str(scenario.seed),
        "replications": str(scenario.replications),
        "outage_start": format_value("clock", first.start) if first else "none",
        "outage_length": format_value("duration", first.end - first.start) if first else "none",
        "rule": "none",
        "rule_time": "",
        "order_delay": format_value("duration", DEFAULT_ORDER_DELAY),
        "sms": format_value("share", scenario.sms.delivery),
    }
    if scenario.sites:
        site = scenario.sites[0]
        out["no_show"] = format_value("share", site.arrivals.no_show)
        out["no_show_without_sms"] = format_value("share", site.arrivals.no_show_without_sms)
        turnout = site.arrivals.turnout
        out["turnout"] = format_value("share", turnout) if turnout is not None else "1 - no-show"
        for station in STATIONS:
            staffs = sorted({s.staff for x in scenario.sites if (s := getattr(x.stations, station)) is not None})
            out[f"staff.{station}"] = "/".join(map(str, staffs)) if staffs else "none"
    for i, site in enumerate(scenario.sites):
        c = site.connectivity
        if c.failures and not c.outages:
            up, repair = c.failures.time_between_failures.expected(), c.failures.time_to_repair.expected()
            out[f"link.{i}"] = format_value("share", round(up / (up + repair), 4))
        else:
            out[f"link.{i}"] = "100%" if not c.outages else "as written"
    return out

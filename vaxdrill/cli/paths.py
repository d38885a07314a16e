"""Paths a user gives on the command line, made absolute where the command is parsed.

Every scenario, results folder, fault plan, database file and locustfile is resolved against the
folder the command was started from (paths inside a scenario against the scenario's folder, by the
loader) before any subprocess starts; child processes only ever see absolute paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vaxdrill.core.shipped import resolve_scenario, user_path

SCENARIO_HELP = "Scenario YAML file, or a shipped scenario's name (`vaxdrill examples`)."

# The SCENARIO argument of every command that runs one: a file, or a shipped scenario by name.
ScenarioArg = Annotated[Path, typer.Argument(metavar="SCENARIO", help=SCENARIO_HELP, parser=resolve_scenario)]


def absolute_db_url(url: str) -> str:
    """``sqlite:///relative.db`` with the file made absolute against the current folder; other URLs as given."""
    scheme, sep, rest = url.partition(":///")
    if not sep or not scheme.startswith("sqlite") or not rest or rest.startswith("/") or ":memory:" in rest:
        return url
    path, query, params = rest.partition("?")
    return f"{scheme}:///{user_path(path)}{query}{params}"


__all__ = ["SCENARIO_HELP", "ScenarioArg", "absolute_db_url", "user_path"]

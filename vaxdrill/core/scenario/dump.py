"""Write a resolved scenario back to YAML, for runs that derive a scenario from another.

The drill writes the scenario with the measured server profile; ``loadtest --from-simulation``
writes the scenario with the simulated arrival curve. The file reads back to the same model.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from vaxdrill.core.scenario.model import Scenario


def scenario_yaml(scenario: Scenario, comment: str) -> str:
    """``scenario`` as YAML text with a comment line on top; sites stay resolved."""
    data = scenario.model_dump(mode="json")
    data["sites_csv"] = None  # the CSV's sites are already in `sites`
    data["site_defaults"] = {}  # and so are the defaults
    lines = "".join(f"# {line}\n" for line in comment.splitlines())
    return lines + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def dump_scenario(scenario: Scenario, target: Path, comment: str) -> Path:
    """Write ``scenario`` to ``target`` with a comment line on top; sites stay resolved."""
    target.write_text(scenario_yaml(scenario, comment), encoding="utf-8")
    return target

"""The scenario reference page, the policy error, and what README says about the shipped scenarios."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT, SCENARIOS
from vaxdrill.core.errors import ScenarioError
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.scenario.reference import render_reference

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_docs_scenarios_md_is_generated_from_the_models_and_linked_from_readme() -> None:
    page = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    assert page == render_reference() + "\n", "regenerate: vaxdrill schema --reference docs/scenarios.md"
    for section in ("## Site", "## Station", "## Connectivity", "## OutageWindow", "## OfflineAfter", "## Fault"):
        assert section + "\n" in page
    # Each field: type, default, unit and where the default comes from.
    booked = "| `booked` | int | `100` |  | MoHFW: 100 beneficiaries per session per day (at most 10,000). | MoHFW |"
    assert booked in page
    assert "| `opens` | clock time | `09:00` | clock time (`HH:MM`) |" in page
    assert "| `no_show` | share | `2%` | share (`5%` or `0.05`) | Hanly et al. 2022: 2% no-shows. | Hanly |" in page
    assert "](docs/scenarios.md)" in README


def test_an_unknown_policy_rule_lists_the_allowed_rules(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: p\nsites:\n  - {name: A, booked: 10}\npolicies:\n  late: {rule: offline_soon}\n", encoding="utf-8"
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert "policies.late" in message
    for rule in ("wait", "offline_after", "offline_at", "offline_first", "offline_when_queue"):
        assert f"'{rule}'" in message


def test_what_readme_says_about_the_shipped_scenarios_holds() -> None:
    raigad = load_scenario(SCENARIOS / "raigad-2021-01-16.yaml")
    district = load_scenario(SCENARIOS / "district-typical-day.yaml")
    mmc = load_scenario(SCENARIOS / "mmc-validation.yaml")
    assert raigad.load is not None
    days = {int(s) for s in re.findall(r"(\d+) s launch\s+day", README)}
    assert days == {int(raigad.load.duration)}, days
    [outage] = raigad.faults
    outages = {int(s) for s in re.findall(r"(\d+) s outage", README)}
    assert outages == {int(outage.duration)}, outages
    sites = re.search(r"\((\d+) sites from `district-typical-day-sites.csv`", README)
    assert sites and int(sites.group(1)) == len(district.sites)
    assert "`mmc-validation.yaml` (one M/M/2 station" in README
    assert len(mmc.sites) == 1

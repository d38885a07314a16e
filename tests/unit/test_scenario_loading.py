"""Scenario files: the shipped ones validate; broken ones give one clear message and exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SCENARIOS
from vaxdrill.cli.app import scenario_json_schema
from vaxdrill.core.errors import ScenarioError
from vaxdrill.core.scenario import load_scenario

WriteYaml = Callable[..., Path]


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_validate(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name


def test_site_defaults_are_merged_and_overridden(write_yaml: WriteYaml) -> None:
    scenario = load_scenario(
        write_yaml("""
name: d
site_defaults: {booked: 50, arrivals: {no_show: 5%}}
sites:
  - {name: A}
  - {name: B, booked: 80, arrivals: {patience: 1h}}
""")
    )
    a, b = scenario.sites
    assert (a.booked, b.booked) == (50, 80)
    assert b.arrivals.no_show == pytest.approx(0.05)  # deep merge keeps the default's sibling key
    assert b.arrivals.patience == 3600


def test_sites_from_csv(write_yaml: WriteYaml, tmp_path: Path) -> None:
    (tmp_path / "sites.csv").write_text("name,booked,kind,arrivals.no_show\nX,120,rural,3%\nY,,urban,\n")
    scenario = load_scenario(write_yaml("name: c\nsites_csv: sites.csv\nsites: [{name: Inline}]\n"))
    assert [s.name for s in scenario.sites] == ["Inline", "X", "Y"]
    assert scenario.sites[1].booked == 120 and scenario.sites[1].kind == "rural"
    assert scenario.sites[2].booked == 100


def test_bad_csv_row_names_the_csv_file_and_row(write_yaml: WriteYaml, tmp_path: Path) -> None:
    (tmp_path / "sites.csv").write_text("name,booked\nX,120\nY,many\n")
    [problem] = problems_of(write_yaml("name: c\nsites_csv: sites.csv\n"))
    assert "sites.csv:3" in problem and "sites[1].booked" in problem and "'many'" in problem


def test_empty_file(write_yaml: WriteYaml) -> None:
    [problem] = problems_of(write_yaml(""))
    assert "is empty" in problem


def test_not_yaml(write_yaml: WriteYaml) -> None:
    [problem] = problems_of(write_yaml("name: x\nsites: [1, 2\n"))
    assert "not valid YAML" in problem and "scenario.yaml:3" in problem


def test_not_a_mapping(write_yaml: WriteYaml) -> None:
    [problem] = problems_of(write_yaml("- just\n- a list\n"))
    assert "expected a mapping" in problem


def test_wrong_type_names_field_line_expected_and_found(write_yaml: WriteYaml) -> None:
    [problem] = problems_of(write_yaml("name: x\nsites:\n  - name: A\n    booked: lots\n"))
    assert ":4: sites[0].booked:" in problem
    assert "integer" in problem and "'lots'" in problem


@pytest.mark.parametrize(
    ("body", "where", "what"),
    [
        ("policies: {p: {rule: offline_after, after: 0s}}", "policies.p.after", "greater than 0"),
        ("policies: {p: {rule: offline_after, after: -5min}}", "policies.p.after", "duration"),
        ("server: {timeout: 0s}", "server.timeout", "greater than 0"),
        ("load: {duration: 0s}", "load.duration", "greater than 0"),
        ("sites: [{name: A, vials: {discard_after: 0s}}]", "sites[0].vials.discard_after", "greater than 0"),
        ("policies: {p: {rule: offline_after, after: 30}}", "policies.p.after", "bare number"),
    ],
)
def test_zero_or_negative_durations(write_yaml: WriteYaml, body: str, where: str, what: str) -> None:
    [problem] = problems_of(write_yaml(f"name: x\n{body}\n"))
    assert where in problem and what in problem


def test_end_before_start(write_yaml: WriteYaml) -> None:
    problems = problems_of(
        write_yaml("""name: x
server:
  outages:
    - {start: "13:30", end: "09:45"}
sites:
  - {name: A, opens: "17:00", closes: "09:00"}
""")
    )
    assert any("server.outages[0]" in p and "end must be after start" in p and ":4:" in p for p in problems)
    assert any("sites[0]" in p and "closes must be after opens" in p and ":6:" in p for p in problems)


def test_unknown_key_suggests_the_nearest(write_yaml: WriteYaml) -> None:
    problems = problems_of(
        write_yaml("""name: x
server:
  outage:
    - {start: "09:45", end: "13:30"}
""")
    )
    [problem] = problems
    assert ":3: server.outage: unknown key `outage`; did you mean `outages`?" in problem


def test_unknown_key_inside_a_policy_and_a_site(write_yaml: WriteYaml) -> None:
    problems = problems_of(
        write_yaml("""name: x
policies:
  p: {rule: offline_after, after: 30min, escalaton: 5min}
sites:
  - {name: A, arivals: {}}
""")
    )
    assert any("policies.p.escalaton" in p and "did you mean `escalation`?" in p for p in problems)
    assert any("sites[0].arivals" in p and "did you mean `arrivals`?" in p for p in problems)


def test_unknown_policy_rule(write_yaml: WriteYaml) -> None:
    [problem] = problems_of(write_yaml("name: x\npolicies: {p: {rule: offline_aftr}}\n"))
    assert "policies.p" in problem and "offline_after" in problem


def test_site_refers_to_unknown_policy(write_yaml: WriteYaml) -> None:
    [problem] = problems_of(
        write_yaml("""name: x
policies: {wait: {rule: wait}, paper: {rule: offline_first}}
sites:
  - {name: A}
  - {name: B, policy: papr}
""")
    )
    assert ":5: sites[1].policy: unknown policy `papr`" in problem and "did you mean `paper`?" in problem


def test_committed_json_schema_is_in_sync() -> None:
    committed = json.loads((SCENARIOS / "scenario.schema.json").read_text())
    assert committed == scenario_json_schema(), "run: vaxdrill schema -o scenarios/scenario.schema.json"


def test_every_policy_rule_is_known_to_the_error_locator() -> None:
    """An error inside any policy names ``policies.NAME.field``, not the rule twice (``_RULES`` lists them all)."""
    import typing

    from vaxdrill.core.scenario import loader
    from vaxdrill.core.scenario.policies import Policy

    union = typing.get_args(Policy)[0]
    rules = {typing.get_args(kind.model_fields["rule"].annotation)[0] for kind in typing.get_args(union)}
    assert rules == loader._RULES

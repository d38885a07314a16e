"""``planner.json`` is a typed document (``vaxdrill.planner/1``) and report.html shows its figures,
data quality and the next day included, each figure tagged with data-metric."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulation.experiment import format_interval, run_replications, summary
from simulation.planner import planner_document
from tests.unit.test_reports import _parse
from tests.validation.test_data_quality import FLIPPING
from vaxdrill.core.documents import PlannerDocument, parse_document
from vaxdrill.core.errors import DocumentError
from vaxdrill.core.scenario import load_scenario
from vaxdrill.report.html import lookup
from vaxdrill.report.simulation import write_report

BLOCKS = "data_quality: {}\nreporting: {time: '13:00', next_day_start: '09:00', next_day_deadline: '10:00'}\n"


def test_the_planner_section_shows_planner_json(tmp_path: Path, write_yaml) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(write_yaml(FLIPPING + BLOCKS))
    results = run_replications(scenario, 3, 2, ["wait", "flip"])
    planner = planner_document(scenario, results, 2)
    parse_document(planner, PlannerDocument, "planner.json")  # reads back through its model
    flip = planner["policies"]["flip"]
    assert flip["data_quality"]["mode_switches"]["mean"] > 0
    assert planner["policies"]["wait"]["data_quality"]["mode_switches"]["mean"] == 0
    assert flip["next_day"]["report_time"] == "13:00"
    folder = tmp_path / "run"
    folder.mkdir()
    page = _parse(write_report(folder, scenario, summary(scenario, results, 2).to_json(), planner))
    shown = [f for f in page.figures if f["data-metric"].startswith(("data_quality.", "next_day."))]
    assert {f["data-metric"] for f in shown} >= {
        "data_quality.mode_switches",
        "data_quality.duplicates_expected",
        "data_quality.wrong_records_expected",
        "next_day.visible_at_report",
        "next_day.visible_at_next_deadline",
        "next_day.share_of_sites_cleared_by_deadline",
        "next_day.latest_clearing",
    }
    for fig in shown:
        value = lookup(planner["policies"][fig["data-policy"]], fig["data-metric"])
        if isinstance(value, str):
            assert fig["text"] == value
            continue
        assert float(fig["data-value"]) == value["mean"]
        share = fig["data-metric"] == "next_day.share_of_sites_cleared_by_deadline"
        assert " ".join(fig["text"].split()) == format_interval(value, share, 0.0)


def test_a_planner_document_with_a_wrong_field_is_refused(tmp_path: Path, write_yaml) -> None:  # type: ignore[no-untyped-def]
    scenario = load_scenario(write_yaml(FLIPPING))
    planner = planner_document(scenario, run_replications(scenario, 2, 1, ["wait"]), 1)
    assert "data_quality" not in planner["policies"]["wait"]  # only when the scenario asks
    planner["policies"]["wait"]["probability_best"] = 2.0
    with pytest.raises(DocumentError, match=r"policies\.wait\.probability_best"):
        parse_document(planner, PlannerDocument, "planner.json")

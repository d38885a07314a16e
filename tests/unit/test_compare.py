"""vaxdrill compare: earlier runs side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.documents import capacity_result, capacity_step, loadtest_summary, simulation_summary
from vaxdrill.core.errors import ResultsError
from vaxdrill.report.compare import compare, flatten, read_run


def _sim_run(folder: Path, vaccinated: float, wait: float) -> Path:
    folder.mkdir()
    summary = simulation_summary(
        {
            "wait": {
                "vaccinated": {"mean": vaccinated, "ci95": [vaccinated - 5, vaccinated + 5]},
                "wait_minutes": {"mean": {"mean": wait, "ci95": [wait - 1, wait + 1]}},
                "sites": {"A": {"vaccinated": {"mean": vaccinated, "ci95": [0, 1]}}},
            }
        }
    )
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_flatten_keeps_intervals_and_names_list_items_by_name() -> None:
    figures = flatten({"a": {"mean": 2, "ci95": [1, 3]}, "slos": [{"name": "p95 schedule", "passed": True}]})
    assert figures["a"].value == 2 and figures["a"].ci95 == (1, 3)
    assert figures["slos[p95 schedule].passed"].value == 1.0


def test_rows_and_changes_against_the_first_run(tmp_path: Path) -> None:
    first = read_run(_sim_run(tmp_path / "r1", 100, 20))
    second = read_run(_sim_run(tmp_path / "r2", 130, 15))
    rows = {row.metric: row for row in compare([first, second])}
    assert rows["policies.wait.vaccinated"].change(1) == pytest.approx(30)
    assert rows["policies.wait.wait_minutes.mean"].change(1) == pytest.approx(-5)
    assert not any("sites" in metric for metric in rows)  # per-site figures only with --sites


def test_runs_of_different_kinds_are_refused(tmp_path: Path) -> None:
    sim = read_run(_sim_run(tmp_path / "r1", 100, 20))
    (tmp_path / "lt").mkdir()
    (tmp_path / "lt" / "summary.json").write_text(json.dumps(loadtest_summary(rps=10.0)))
    with pytest.raises(ResultsError, match="different kinds"):
        compare([sim, read_run(tmp_path / "lt")])


def test_capacity_runs_compare_their_knee(tmp_path: Path) -> None:
    for name, knee in (("before", 35.0), ("after", 50.0)):
        (tmp_path / name).mkdir()
        doc = capacity_result([capacity_step(10.0, 50.0, 0.0, True)], max_sustainable_rate=knee)
        (tmp_path / name / "capacity.json").write_text(json.dumps(doc))
    rows = {row.metric: row for row in compare([read_run(tmp_path / "before"), read_run(tmp_path / "after")])}
    assert rows["max_sustainable_rate"].change(1) == pytest.approx(15.0)
    assert not any(metric.startswith("steps") for metric in rows)  # ladders differ run to run


def test_changes_inside_the_noise_are_told_apart(tmp_path: Path) -> None:
    from vaxdrill.report.compare import TOLERANCE, Figure, Row

    overlapping = Row("a", (Figure(100, (95, 105)), Figure(103, (98, 108))))
    apart = Row("b", (Figure(100, (95, 105)), Figure(130, (125, 135))))
    small = Row("c", (Figure(200.0), Figure(200.0 * (1 + TOLERANCE / 2))))
    large = Row("d", (Figure(200.0), Figure(200.0 * (1 + 2 * TOLERANCE))))
    missing = Row("e", (Figure(1.0), None))
    assert overlapping.noise_only() and small.noise_only()
    assert not apart.noise_only() and not large.noise_only() and not missing.noise_only()

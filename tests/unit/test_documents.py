"""Results documents: their models, the one-line reader, and the committed JSON Schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.documents import capacity_result, capacity_step, loadtest_summary, simulation_summary
from vaxdrill.core.documents import (
    DOCUMENTS,
    DocumentError,
    LoadTestSummary,
    SimulationSummary,
    json_schema,
    read_any,
    read_document,
    schema_file_name,
)
from vaxdrill.core.results import write_json

SCHEMAS = ROOT / "schemas"


@pytest.mark.parametrize("tag", list(DOCUMENTS))
def test_committed_document_schemas_are_in_sync(tag: str) -> None:
    committed = json.loads((SCHEMAS / schema_file_name(tag)).read_text(encoding="utf-8"))
    assert committed == json_schema(tag), "run: vaxdrill schema --out-dir schemas"


def test_schemas_folder_holds_only_current_documents() -> None:
    assert sorted(p.name for p in SCHEMAS.glob("*.schema.json")) == sorted(schema_file_name(t) for t in DOCUMENTS)


def test_the_golden_simulation_summary_reads_back_unchanged() -> None:
    path = ROOT / "tests" / "golden" / "raigad-seed7-n4" / "summary.json"
    doc = read_document(path, SimulationSummary)
    assert doc.to_json() == json.loads(path.read_text(encoding="utf-8"))
    assert doc.replications == 4 and "as_happened vs wait" in doc.paired_differences


def test_reader_says_what_is_wrong_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    with pytest.raises(DocumentError, match=r"summary.json: missing"):
        read_document(path, LoadTestSummary)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(DocumentError, match=r"summary.json: cannot be read as JSON"):
        read_document(path, LoadTestSummary)
    write_json(path, [1, 2])
    with pytest.raises(DocumentError, match=r"expected a JSON object"):
        read_document(path, LoadTestSummary)
    write_json(path, {**loadtest_summary(), "schema": "vaxdrill.loadtest/2"})
    with pytest.raises(DocumentError, match=r"summary.json: schema vaxdrill.loadtest/2, expected vaxdrill.loadtest/1$"):
        read_document(path, LoadTestSummary)
    with pytest.raises(DocumentError, match=r"schema vaxdrill.loadtest/2, expected vaxdrill.loadtest/1$"):
        read_any(path)
    good = loadtest_summary()
    write_json(path, {**good, "latency_ms": {**good["latency_ms"], "requests": "many"}})
    with pytest.raises(DocumentError) as exc:
        read_document(path, LoadTestSummary)
    assert "summary.json: latency_ms.requests: Input should be a valid integer" in str(exc.value)
    assert "\n" not in str(exc.value) and exc.value.exit_code == 2


def test_reader_names_the_first_invalid_list_item(tmp_path: Path) -> None:
    path = tmp_path / "capacity.json"
    write_json(path, capacity_result([capacity_step(10.0, 50.0, 0.0, True), capacity_step(20.0, 90.0, 0.0, True)]))
    assert len(read_any(path).to_json()["steps"]) == 2
    steps = [capacity_step(10.0, 50.0, 0.0, True), {**capacity_step(20.0, 90.0, 0.0, True), "phase": "guess"}]
    write_json(path, {**capacity_result(steps[:1]), "steps": steps})
    with pytest.raises(
        DocumentError, match=r"capacity.json: steps\[1\].phase: Input should be 'ladder' or 'bisection'"
    ):
        read_any(path)


def test_unknown_fields_and_unknown_kinds_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    write_json(path, {**simulation_summary({}), "extra": 1})
    with pytest.raises(DocumentError, match=r"extra: Extra inputs are not permitted"):
        read_any(path)
    write_json(path, {"schema": "vaxdrill.weather/1"})
    with pytest.raises(DocumentError, match=r"schema vaxdrill.weather/1, expected one of vaxdrill.simulation/1"):
        read_any(path)
    write_json(path, {"scenario": "x"})
    with pytest.raises(DocumentError, match=r"schema missing"):
        read_any(path)


def test_simulation_figures_nest_intervals_by_name() -> None:
    doc = SimulationSummary.model_validate(
        simulation_summary({"wait": {"blocked_minutes": {"entry": {"mean": 1.0, "ci95": [0.5, 1.5]}}}})
    )
    entry = doc.policies["wait"]["blocked_minutes"]
    assert isinstance(entry, dict) and entry["entry"].ci95 == (0.5, 1.5)  # type: ignore[union-attr]
    with pytest.raises(ValueError, match=r"ci95"):
        SimulationSummary.model_validate(simulation_summary({"wait": {"vaccinated": {"mean": 1.0, "ci95": [1.0]}}}))


def test_the_drill_reads_its_phases_documents_through_the_models(tmp_path: Path) -> None:
    from vaxdrill.cli.drill import plain, read_phase_document

    path = tmp_path / "loadtest" / "summary.json"
    assert read_phase_document(path, LoadTestSummary) is None  # the phase wrote nothing: the report says so
    path.parent.mkdir()
    write_json(path, loadtest_summary(rps=12.5))
    assert plain(read_phase_document(path, LoadTestSummary)) == loadtest_summary(rps=12.5)
    write_json(path, simulation_summary({}))
    with pytest.raises(DocumentError, match=r"schema vaxdrill.simulation/1, expected vaxdrill.loadtest/1"):
        read_phase_document(path, LoadTestSummary)

"""Typed results documents: one pydantic model per JSON document a run writes.

=====================================  ==============================  ==========================
schema                                 file                            model
=====================================  ==============================  ==========================
``vaxdrill.simulation/1``              ``summary.json`` (simulate)     :class:`SimulationSummary`
``vaxdrill.loadtest/1``                ``summary.json`` (loadtest)     :class:`LoadTestSummary`
``vaxdrill.capacity/1``                ``capacity.json``               :class:`CapacityResult`
``vaxdrill.server_profile/1``          ``server_profile.json``         :class:`ServerProfileDocument`
``vaxdrill.cli.drill/1``               ``summary.json`` (drill)        :class:`DrillSummary`
``vaxdrill.sweep/1``                   ``summary.json`` (sweep)        :class:`SweepSummary`
``vaxdrill.sensitivity/1``             ``summary.json`` (sensitivity)  :class:`SensitivitySummary`
``vaxdrill.optimise/1``                ``summary.json`` (optimise)     :class:`OptimiseSummary`
``vaxdrill.calibrate/1``               ``summary.json`` (calibrate)    :class:`CalibrateSummary`
``vaxdrill.planner/1``                 ``planner.json`` (simulate)     :class:`PlannerDocument`
=====================================  ==============================  ==========================

Producers validate a document through its model before writing it; readers use
:func:`read_document`, which names the file and what is wrong in one line. The JSON Schemas are
generated from the models (``vaxdrill schema --document NAME``) and committed under ``schemas/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vaxdrill.core.documents.base import (
    Document,
    parse_document,
    read_document,
    read_json_object,
)
from vaxdrill.core.documents.calibrate import CalibrateSummary
from vaxdrill.core.documents.capacity import CapacityResult
from vaxdrill.core.documents.drill import DrillSummary
from vaxdrill.core.documents.loadtest import LoadTestSummary
from vaxdrill.core.documents.optimise import OptimiseSummary
from vaxdrill.core.documents.planner import PlannerDocument
from vaxdrill.core.documents.profile import ServerProfileDocument
from vaxdrill.core.documents.sensitivity import SensitivitySummary
from vaxdrill.core.documents.simulation import SimulationSummary
from vaxdrill.core.documents.sweep import SweepSummary
from vaxdrill.core.errors import DocumentError

__all__ = [
    "DOCUMENTS", "CalibrateSummary", "CapacityResult", "Document", "DocumentError", "DrillSummary", "LoadTestSummary",
    "OptimiseSummary", "PlannerDocument", "SensitivitySummary", "ServerProfileDocument", "SimulationSummary",
    "SweepSummary", "json_schema", "model_for", "parse_document", "read_any",
    "read_document", "read_json_object", "schema_file_name",
]  # fmt: skip

DOCUMENTS: dict[str, type[Document]] = {
    m.SCHEMA: m
    for m in (
        SimulationSummary, LoadTestSummary, CapacityResult, ServerProfileDocument, DrillSummary, SweepSummary,
        SensitivitySummary, OptimiseSummary, CalibrateSummary, PlannerDocument,
    )
}  # fmt: skip
"""Every results document by its ``schema`` tag."""


def model_for(tag: object, where: str) -> type[Document]:
    """The model of a ``schema`` tag; a tag of another version names the one this vaxdrill reads."""
    if isinstance(tag, str) and tag in DOCUMENTS:
        return DOCUMENTS[tag]
    kind = str(tag).rsplit("/", 1)[0]
    same_kind = [known for known in DOCUMENTS if known.rsplit("/", 1)[0] == kind]
    if tag is None:
        expected = "one of " + ", ".join(DOCUMENTS)
        raise DocumentError(f"{where}: schema missing, expected {expected}")
    expected = same_kind[0] if same_kind else "one of " + ", ".join(DOCUMENTS)
    raise DocumentError(f"{where}: schema {tag}, expected {expected}")


def read_any(path: Path) -> Document:
    """Read whichever results document ``path`` holds, by its ``schema`` tag."""
    data = read_json_object(path)
    return parse_document(data, model_for(data.get("schema"), str(path)), str(path))


def schema_file_name(tag: str) -> str:
    """``vaxdrill.loadtest/1`` -> ``vaxdrill.loadtest-1.schema.json``."""
    return tag.replace("/", "-") + ".schema.json"


def json_schema(tag: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the document with this tag."""
    model = DOCUMENTS[tag]
    schema = model.model_json_schema(mode="validation", by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = schema_file_name(tag)
    schema["title"] = tag
    return schema

"""``summary.json`` of ``vaxdrill drill`` (schema ``vaxdrill.cli.drill/1``): the drill's two verdicts."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from vaxdrill.core.documents.base import Document, Part
from vaxdrill.core.documents.loadtest import Integrity, SloResult

SCHEMA = "vaxdrill.cli.drill/1"


class PhaseTime(Part):
    """One phase of the drill (simulation, loadtest, profile, simulation-measured)."""

    name: str
    seconds: float
    exit_code: int


class DrillSummary(Document):
    """The planner's answer, the engineer's verdict, and how each phase went."""

    SCHEMA: ClassVar[str] = SCHEMA

    schema_: Literal["vaxdrill.cli.drill/1"] = Field(alias="schema")
    scenario: str
    seed: int
    planner: str | None
    engineer: str | None
    loadtest_exit_code: int
    slos: list[SloResult] | None
    integrity: Integrity | None
    phases: list[PhaseTime]

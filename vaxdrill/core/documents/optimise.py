"""``summary.json`` of ``vaxdrill optimise`` (schema ``vaxdrill.optimise/1``).

``best`` maps each decided path to its value in the best feasible design (whole numbers as numbers,
durations, clock times and shares as written); ``recheck`` holds its figures over fresh
replications, which is what the planner should quote.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from vaxdrill.core.documents.base import Document, Part
from vaxdrill.core.documents.simulation import Interval

SCHEMA = "vaxdrill.optimise/1"
Value = int | float | str


class Trial(Part):
    """One design tried: its objective, whether it met every constraint, and the constrained metrics."""

    number: int = Field(ge=0)
    design: dict[str, Value]
    objective: float
    feasible: bool
    metrics: dict[str, Interval]


class Recheck(Part):
    """The best design over fresh replications (not those it was chosen on)."""

    replications: int = Field(ge=1)
    feasible: bool
    metrics: dict[str, Interval]


class OptimiseSummary(Document):
    """The smallest objective found that meets the constraints with the confidence asked."""

    SCHEMA: ClassVar[str] = SCHEMA

    schema_: Literal["vaxdrill.optimise/1"] = Field(alias="schema")
    scenario: str
    seed: int
    replications: int = Field(ge=1)
    policy: str
    minimise: str
    subject_to: list[str]
    confidence: float = Field(gt=0, lt=1)
    answer: str
    best: dict[str, Value] | None = Field(description="Decided path -> value; null when no design was feasible.")
    objective: float | None
    recheck: Recheck | None
    pareto: list[int] = Field(description="Trials on the Pareto front of objective against the first constraint.")
    trials: list[Trial]
